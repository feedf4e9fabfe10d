"""What an endpoint a bot adds to the provisioning API (`Bot.api_routes`) gets from the API that
serves it (the care-team bot's, bots/careteam/api.py): the request's language, its body checked
against a schema, a patient file by reference, the runtime; and the error it raises, answered as
JSON `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from bots.common.models import CareRoom
from bots.runtime.i18n import Lang

if TYPE_CHECKING:
    from bots.runtime.runtime import Runtime


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []

    def response(self) -> web.Response:
        return web.json_response({"error": {"code": self.code, "message": self.message,
                                            "details": self.details}}, status=self.status)


class ApiHost(Protocol):
    runtime: Runtime

    def lang(self, request: web.Request) -> Lang: ...

    async def body(self, request: web.Request, schema: str) -> dict[str, Any]: ...

    async def room(self, ref: str) -> CareRoom: ...
