"""The floor of the ADT intake: the `hl7` library's own MLLP server, each message parsed and
answered with the library's `create_ack` (AA), nothing stored, nothing checked. What any MLLP
receiver built on that library costs at the least.

Run as its own process, as `liaison adt` is: `python -m bench.adt_floor PORT`; SIGTERM stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

import hl7
from hl7.mllp import HL7StreamReader, HL7StreamWriter, start_hl7_server


async def answer(reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
    """Each message of the connection parsed and acknowledged, in order."""
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        while not writer.is_closing():
            message: hl7.Message = await reader.readmessage()
            writer.writemessage(message.create_ack())
            await writer.drain()
    writer.close()


async def main(port: int) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # The same character set as the intake reads the feed's (8859/1 in PAM FR).
    async with await start_hl7_server(answer, "127.0.0.1", port, encoding="latin-1"):
        await stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(int(sys.argv[1]))))
