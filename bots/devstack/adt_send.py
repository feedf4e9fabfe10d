"""`liaison adt-send`: one sample ADT message (bots/devstack/adt_messages.py) to the dev stack's
intake over MLLP, with the `hl7` library's client, as a hospital's interface engine sends it."""

from __future__ import annotations

import asyncio
import time
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from bots.devstack import adt_messages
from bots.devstack.patients import patient

if TYPE_CHECKING:
    import hl7

# Sample name → event and the visit it carries (today's date: a discharge after the admission).
SAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "preadmission": ("A05", {"admission_type": "R"}),
    "admission": ("A01", {}),
    "transfer": ("A02", {}),
    "update": ("A08", {}),
    "discharge": ("A03", {"disposition": "8", "discharged": 0}),
    "cancel-discharge": ("A13", {"discharged": 0}),
    "cancel-admission": ("A11", {}),
}


def sample(name: str, *, ward: str, patient_number: int | None = None,
           today: date | None = None) -> bytes:
    """The sample `name` about the samples' patient, or made-up patient `patient_number`;
    admitted two days before `today`; a fresh control ID (MSH-10) each time."""
    event, visit = SAMPLES[name]
    today = today or date.today()
    visit = {**visit, "ward": ward, "admitted": today - timedelta(days=2)}
    if "discharged" in visit:
        visit["discharged"] = today
    control_id = f"DEV{time.time_ns() // 1000}"
    if patient_number is None:
        return adt_messages.message(event, control_id, **visit)
    return adt_messages.patient_message(event, control_id, patient(patient_number),
                                        ipp=f"DEV{patient_number:07d}", **visit)


async def send(host: str, port: int, raw: bytes, timeout: float = 10) -> hl7.Message:
    """`raw` framed and sent; its ACK once it comes."""
    from hl7.mllp import open_hl7_connection  # here: the CLI's other commands need no HL7

    reader, writer = await open_hl7_connection(host, port, encoding="utf-8")
    try:
        writer.writeblock(raw)
        await writer.drain()
        return await asyncio.wait_for(reader.readmessage(), timeout)
    finally:
        writer.close()
        await writer.wait_closed()
