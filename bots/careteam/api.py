"""The provisioning HTTP API (aiohttp), for a hospital system to open a room at admission.

Bearer token from the configuration; request bodies validated against schemas/api/; errors as
JSON `{"error": {"code", "message", "details"}}` in the request's language. Described by
schemas/openapi.yaml, served at /api/v1/openapi.yaml. The API never returns identity.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import date
from functools import cache, partial
from typing import TYPE_CHECKING, Any

import jsonschema
import referencing
from aiohttp import web
from sqlalchemy.exc import IntegrityError

from bots.careteam import records, texts
from bots.careteam.provisioner import Permanent
from bots.careteam.requests import (
    Member,
    OpenRequest,
    RequestError,
    from_payload,
    role_code,
)
from bots.common import records as care_rooms
from bots.common.api import ApiError
from bots.common.identity import IdentityError
from bots.common.models import CareRoom
from bots.resources import resource_dir
from bots.runtime.commands import ArgError
from bots.runtime.i18n import Lang, accepted, t
from bots.runtime.notice import to_plain

if TYPE_CHECKING:
    from bots.careteam.bot import CareTeam
    from bots.runtime.runtime import Runtime

log = logging.getLogger(__name__)

WAIT = 60.0
PUBLIC = ("/api/v1/openapi.yaml", "/api/v1/api/")  # the API's description: no token needed  # how long a request waits for the homeserver before answering 504
API_SCHEMAS = ("identity", "team-member", "patient-create", "team-update",
               "coordination-member", "patient", "error", "discharge", "followup-plan",
               "fhir-bundle", "fhir-received")


@cache
def _validators() -> dict[str, jsonschema.Draft202012Validator]:
    folder = resource_dir("schemas") / "api"
    schemas = {name: json.loads((folder / f"{name}.schema.json").read_text())
               for name in API_SCHEMAS}
    registry: referencing.Registry[Any] = referencing.Registry().with_resources(
        (s["$id"], referencing.Resource.from_contents(s)) for s in schemas.values())
    return {name: jsonschema.Draft202012Validator(
        s, registry=registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        for name, s in schemas.items()}


def _detail(error: jsonschema.ValidationError) -> dict[str, str]:
    """A schema error as the pointer and the rule broken, never a value sent: jsonschema's own
    messages quote the instance (`{'DUPONT': …} does not have enough properties`, `'DUPONT'
    was unexpected`), and a key the sender chose may be identity too."""
    return {"path": _pointer(error.absolute_path), "message": _rule(error)}


def _pointer(path: Iterable[str | int]) -> str:
    """The JSON Pointer, stopped before the first key the schemas do not know (it may be data)."""
    parts: list[str] = []
    for part in path:
        if isinstance(part, str) and part not in _schema_words():
            break
        parts.append(f"/{part}")
    return "".join(parts)


def _rule(error: jsonschema.ValidationError) -> str:
    if error.validator == "required":  # "'x' is a required property": x is the schema's word
        return error.message
    if error.validator == "additionalProperties":
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        return f"unknown property; the properties allowed here are: {allowed}"
    if error.validator == "minProperties":
        n = error.validator_value
        return f"at least {n} {'property is' if n == 1 else 'properties are'} needed"
    return f"does not satisfy '{error.validator}'"


def validate(schema: str, body: Any) -> None:
    """A 400 that names each place and rule the body breaks in `schemas/api/<schema>`."""
    try:
        errors = sorted(_validators()[schema].iter_errors(body), key=lambda e: list(e.path))
    except RecursionError:  # nested deeper than any schema goes, yet parseable
        raise ApiError(400, "invalid_json", "the body is nested too deeply") from None
    if errors:
        raise ApiError(400, "invalid_payload", "the body does not match the schema",
                       [_detail(e) for e in errors])


@cache
def _schema_words() -> frozenset[str]:
    """Every property name the API's schemas know: a key that may be named in an error."""
    words: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            words.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for validator in _validators().values():
        walk(validator.schema)
    return frozenset(words)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            # A key is named only if it is one of the schemas' words: another may be data.
            which = f"the key {key!r}" if key in _schema_words() else "a key"
            raise ApiError(400, "invalid_json", f"{which} is given twice in one object")
        found[key] = value
    return found


def parse_json(raw: bytes, charset: str | None) -> Any:
    """The body as JSON, or a 400 that says why: an unknown charset, bytes that are not of it,
    a key given twice (which value counts would be the parser's guess), nesting too deep."""
    try:
        text = raw.decode(charset or "utf-8")
    except LookupError:
        raise ApiError(400, "invalid_json", "unknown charset; send UTF-8") from None
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_json", "the body is not valid text in its charset") from None
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError:
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    except RecursionError:
        raise ApiError(400, "invalid_json", "the body is nested too deeply") from None


class Api:
    def __init__(self, runtime: Runtime, bot: CareTeam) -> None:
        self.runtime = runtime
        self.bot = bot
        api = bot.config.careteam.api
        assert api is not None
        self.token = api.token.encode()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors], client_max_size=256 * 1024)
        app.router.add_post("/api/v1/patients", self.open_patient)
        app.router.add_get("/api/v1/patients/{ref}", self.get_patient)
        app.router.add_post("/api/v1/patients/{ref}/team", self.change_team)
        app.router.add_post("/api/v1/coordination/members", self.coordination_member)
        # Endpoints of the bots that work in this bot's rooms (e.g. the follow-up's discharge).
        for bot in self.runtime.bots:
            for method, path, handler in bot.api_routes:
                app.router.add_route(method, path, partial(handler, self))
        app.router.add_get("/api/v1/openapi.yaml", self.openapi)
        # The document's relative $refs (./api/…) resolve here.
        app.router.add_get("/api/v1/api/{name}.schema.json", self.schema)
        return app

    @web.middleware
    async def _errors(self, request: web.Request,
                      handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                      ) -> web.StreamResponse:
        lang = self.lang(request)
        try:
            if not request.path.startswith(PUBLIC):
                self._authorize(request, lang)
            if not self.runtime.ready.is_set():
                raise ApiError(503, "unavailable", "the bot is starting; retry shortly")
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except web.HTTPException as exc:
            return ApiError(exc.status, "not_found" if exc.status == 404 else "bad_request",
                            exc.reason).response()

    def lang(self, request: web.Request) -> Lang:
        return accepted(request.headers.get("Accept-Language", ""), self.bot.config.language)

    def _authorize(self, request: web.Request, lang: Lang) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                                 self.token):
            raise ApiError(401, "unauthorized", "a valid bearer token is required")

    async def body(self, request: web.Request, schema: str) -> dict[str, Any]:
        body = parse_json(await request.read(), request.charset)
        validate(schema, body)
        return body  # type: ignore[no-any-return]

    # --- endpoints -------------------------------------------------------------------------

    async def open_patient(self, request: web.Request) -> web.Response:
        lang = self.lang(request)
        payload = await self.body(request, "patient-create")
        try:
            req = from_payload(payload, self.bot.roles, date.today())
        except IdentityError as exc:
            code = "invalid_ins" if exc.key.startswith("ins.") else "invalid_identity"
            field, why = texts.identity_refusal(lang, exc)
            message = to_plain(why)
            raise ApiError(400, code, message,
                           [{"path": f"/identity/{field}", "message": message}]) from None
        except RequestError as exc:  # the ward: blank once its spaces are folded
            message = to_plain(exc.text(lang))
            raise ApiError(400, "invalid_payload", message,
                           [{"path": "/ward", "message": message}]) from None
        except ArgError as exc:
            raise ApiError(422, "unknown_role", to_plain(exc.text(lang))) from None
        await self._check_users([m.user_id for m in req.team], lang)
        room, created = await self._register(req, payload.get("language") or lang)
        if created:
            self.bot.provisioner.wake()
            await self._until_open(room.id, lang)
        return web.json_response(await self._patient(room.id, created=created),
                                 status=201 if created else 200)

    async def _register(self, req: OpenRequest, language: str) -> tuple[CareRoom, bool]:
        for attempt in range(5):
            try:
                async with self.runtime.transaction() as tx:
                    return await records.register_patient(
                        tx, req, prefix=self.bot.settings.ref_prefix, language=language,
                        requested_by="api")
            except care_rooms.IdentityConflict as exc:
                lang: Lang = language  # type: ignore[assignment]
                raise ApiError(409, "identity_conflict", to_plain(
                    t(lang, "patient.conflict", ref=exc.ref))) from None
            except IntegrityError:
                # Two openings took the same file number at once (PostgreSQL): take the next.
                log.info("file number taken, retrying", extra={"attempt": attempt})
        raise ApiError(503, "unavailable", "could not allocate a file number; retry")

    async def _until_open(self, room_pk: int, lang: Lang) -> None:
        gone = False

        async def settled() -> bool:
            nonlocal gone
            async with self.runtime.transaction() as tx:
                row = await tx.session.get(CareRoom, room_pk)
                gone = row is None
                return row is None or row.status != "creating"

        if not await self.bot.provisioner.wait_until(settled, WAIT):
            raise ApiError(504, "unavailable", "the homeserver is slow; the room will be "
                           "created: GET the patient or POST again later")
        why = self.bot.provisioner.failures.pop(room_pk, None)
        if why is None and gone:  # given up by the other bots process (PostgreSQL)
            why = t(lang, "patient.failed_elsewhere")
        if why is not None:
            raise ApiError(502, "room_creation_failed",
                           to_plain(t(lang, "patient.failed", why=why)))

    async def _check_users(self, users: list[str], lang: Lang) -> None:
        try:
            await self.bot.provisioner.check_users(users, lang)
        except Permanent as exc:
            raise ApiError(422, exc.code, to_plain(t(lang, "patient.failed", why=str(exc)))) \
                from None

    async def get_patient(self, request: web.Request) -> web.Response:
        room = await self.room(request.match_info["ref"])
        return web.json_response(await self._patient(room.id))

    async def room(self, ref: str) -> CareRoom:
        async with self.runtime.transaction() as tx:
            room = await care_rooms.room_by_ref(tx, ref)
        if room is None:
            raise ApiError(404, "not_found", f"no patient file {ref}")
        return room

    async def _patient(self, room_pk: int, *, created: bool | None = None) -> dict[str, Any]:
        async with self.runtime.transaction() as tx:
            room = await tx.session.get(CareRoom, room_pk)
            assert room is not None
            lines = await self.bot.team_lines(self.runtime, tx, room)
        body: dict[str, Any] = {
            "ref": room.ref, "room_id": room.room_id, "status": room.status,
            "ward": room.ward,
            "team": [{"user_id": m.user_id, "role": m.role, "membership": m.state}
                     for m in lines if m.role]}
        if created is not None:
            body["created"] = created
        return body

    async def change_team(self, request: web.Request) -> web.Response:
        lang = self.lang(request)
        room = await self.room(request.match_info["ref"])
        payload = await self.body(request, "team-update")
        if room.status != "open":
            raise ApiError(409, "episode_closed", to_plain(t(lang, "team.room_closed")))
        try:
            add = [Member(m["user_id"], role_code(m["role"], self.bot.roles))
                   for m in payload.get("add", [])]
        except ArgError as exc:
            raise ApiError(422, "unknown_role", to_plain(exc.text(lang))) from None
        await self._check_users([m.user_id for m in add], lang)
        await self._apply(room, add, payload.get("remove", []), lang)
        return web.json_response(await self._patient(room.id))

    async def _apply(self, room: CareRoom, add: list[Member], remove: list[str],
                     lang: Lang) -> None:
        async with self.runtime.transaction() as tx:
            for member in add:
                await records.ask_member(tx, room, member, requested_by="api",
                                         cause_event_id=None, language=room.language)
            for user_id in remove:
                if user_id != self.runtime.user_id:
                    await records.ask_removal(tx, room, user_id, requested_by="api",
                                              cause_event_id=None, language=room.language)
        self.bot.provisioner.wake()

        async def applied() -> bool:
            async with self.runtime.transaction() as tx:
                return not await records.pending_members(tx, room.id)

        if not await self.bot.provisioner.wait_until(applied, WAIT):
            raise ApiError(504, "unavailable", "the homeserver is slow; the change is recorded "
                           "and will be applied")

    async def coordination_member(self, request: web.Request) -> web.Response:
        lang = self.lang(request)
        payload = await self.body(request, "coordination-member")
        try:
            member = Member(payload["user_id"], role_code(payload["role"], self.bot.roles))
        except ArgError as exc:
            raise ApiError(422, "unknown_role", to_plain(exc.text(lang))) from None
        async with self.runtime.transaction() as tx:
            rooms = [r for r in await care_rooms.coordination_rooms(tx) if r.status == "open"]
        if not rooms:
            raise ApiError(503, "unavailable", "no coordination room yet; retry shortly")
        await self._check_users([member.user_id], lang)
        await self._apply(rooms[0], [member], [], lang)
        async with self.runtime.transaction() as tx:
            lines = await self.bot.team_lines(self.runtime, tx, rooms[0])
        state = next((m.state for m in lines if m.user_id == member.user_id), "pending")
        return web.json_response({"room_id": rooms[0].room_id, "user_id": member.user_id,
                                  "role": member.role, "membership": state})

    async def schema(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in API_SCHEMAS:
            raise ApiError(404, "not_found", f"no schema {name}")
        path = resource_dir("schemas") / "api" / f"{name}.schema.json"
        return web.Response(text=path.read_text(), content_type="application/schema+json")

    async def openapi(self, request: web.Request) -> web.Response:
        path = resource_dir("schemas") / "openapi.yaml"
        return web.Response(text=path.read_text(), content_type="application/yaml")


async def serve_api(runtime: Runtime, bot: CareTeam) -> None:
    """The API as a runtime service: listens until cancelled."""
    settings = bot.config.careteam.api
    assert settings is not None
    runner = web.AppRunner(Api(runtime, bot).app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    log.info("provisioning API listening", extra={"host": settings.host, "port": settings.port})
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
