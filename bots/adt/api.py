"""`POST /api/v1/fhir`: a hospital system sends a FHIR R4 transaction Bundle (a Patient and its
Encounter); it is read into the same movement an HL7 ADT message gives (bots/adt/fhir.py) and
stored as an `adt_messages` row, which the applier applies like the feed's (docs/ADT.md, FHIR).
Mounted on the care-team bot's provisioning API by the runtime (`Bot.api_routes`: its token, the
envelope checked against schemas/api/fhir-bundle.schema.json, errors as JSON); a refusal names
the element and the rule, never a value sent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web

from bots.adt import fhir
from bots.adt.inbox import record
from bots.adt.messages import Refused
from bots.adt.texts import TEXTS
from bots.common.api import ApiError, ApiHost

if TYPE_CHECKING:
    from bots.runtime.bot import ApiRoute

PATH = "/api/v1/fhir"


def routes() -> list[ApiRoute]:
    async def transaction(api: ApiHost, request: web.Request) -> web.Response:
        lang = api.lang(request)
        payload = await api.body(request, "fhir-bundle")
        try:
            parsed = fhir.parse(payload)
        except fhir.Invalid as invalid:
            raise ApiError(400, "invalid_fhir", "the Bundle is not a valid FHIR R4 transaction "
                           "of one Patient and one Encounter",
                           [{"path": path, "message": rule} for path, rule in invalid.details]
                           ) from None
        found = fhir.movement(parsed, datetime.now(UTC))
        if isinstance(found, Refused):
            text = found.text(TEXTS, lang)
            raise ApiError(400, found.reason, text, [{"path": _pointer(parsed, found.field),
                                                      "message": text}])
        async with api.runtime.transaction() as tx:
            taken = await record(tx, found, fhir.stored(payload))
        # The receipt is the key as stored (a keyed hash): the sender's identifier is not
        # echoed, it may carry a patient number.
        return web.json_response({"id": taken.result.control_id, "event": found.event,
                                  "created": taken.new}, status=201 if taken.new else 200)

    return [("POST", PATH, transaction)]


def _pointer(parsed: fhir.Parsed, element: str | None) -> str:
    """`Patient.identifier` as the JSON Pointer into the Bundle sent."""
    kind, _, rest = (element or "").partition(".")
    if kind not in parsed.places:
        return ""
    return f"/entry/{parsed.places[kind]}/resource" + "".join(
        f"/{part}" for part in rest.split(".") if part)
