"""The ADT intake's MLLP listener: each framed message recorded (bots/adt/inbox.py), committed,
then acknowledged. Built on the `hl7` library's asyncio MLLP support (`hl7.mllp`).

- AA only after the commit: an AA means "stored", whatever happens next. A resent message (same
  sender and MSH-10) is the same row and gets its AA again.
- AE/AR with the reason (ERR) for a refused message; AR `too_large` for one beyond the size
  bound, then the connection is closed (the library drops what it buffered of the frame: the
  rest would read as garbage).
- Anything that raises while a message is handled (database down, a bug): no ACK, the
  connection is closed, and the sender, having no ACK, resends it on a new connection. The
  listener goes on serving the other connections and the next ones.
- One connection's messages are handled one after the other, in the order sent.
- Logs say what happened (event, MSH-10, sender, reason, the client's address), never the
  message or anything of PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from hl7.mllp import HL7StreamReader, HL7StreamWriter, InvalidBlockError, start_hl7_server
from prometheus_client import Counter

from bots.adt.ack import ack
from bots.adt.clients import refusal, server_context
from bots.adt.inbox import sender_of, take
from bots.adt.messages import Movement, Refused
from bots.adt.texts import TEXTS
from bots.config import AdtConfig
from bots.logs import failure
from bots.runtime.store import Store

log = logging.getLogger(__name__)

MESSAGES = Counter("liaison_adt_messages", "ADT messages answered, by acknowledgement code "
                   "(none: something failed, the connection was closed without one)", ["ack"])
# What a log line keeps of MSH-10: it is the sender's to fill, and a hostile one could be long.
_LOGGED_ID = 64
# After an AR too_large, how long what the client still sends is read and dropped before the
# connection is closed: closing with unread bytes resets it (RST), which may lose the AR.
_LINGER_SECONDS = 2.0


class Listener:
    def __init__(self, store: Store, config: AdtConfig) -> None:
        self.store = store
        self.config = config
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The port listened on (the configured one, or the one given for port 0)."""
        assert self._server is not None, "not started"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def serving(self) -> bool:
        return self._server is not None and self._server.is_serving()

    async def start(self) -> None:
        context = server_context(self.config.tls) if self.config.tls else None
        host, port = self.config.listen
        # The library's `limit` bounds a frame (start byte included) in its read buffer.
        self._server = await start_hl7_server(
            self._connection, host, port, ssl=context,
            limit=self.config.max_message_kib * 1024 + 1)
        log.info("adt.listening", extra={"listen": f"{host}:{self.port}",
                                         "tls": context is not None})

    async def stop(self) -> None:
        """Stop accepting, end the open connections. A message being handled is rolled back or
        committed; either way it has no ACK yet, so the sender resends it."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _connection(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        client = str((writer.get_extra_info("peername") or ("?",))[0])
        try:
            why = self._refusal(writer, client)
            if why is not None:
                log.warning("adt.client_refused", extra={"client": client, "reason": why})
                return
            log.info("adt.connected", extra={"client": client})
            await self._messages(reader, writer, client)
        except Exception as exc:  # a connection reset, a TLS error: this connection only
            log.info("adt.connection_lost", extra={"client": client, "failure": failure(exc)})
        finally:
            self._connections.discard(task)
            writer.close()

    def _refusal(self, writer: HL7StreamWriter, client: str) -> str | None:
        if len(self._connections) > self.config.max_connections:
            return "busy"
        tls = writer.get_extra_info("ssl_object")
        certificate = tls.getpeercert(binary_form=True) if tls is not None else None
        return refusal(self.config, client, certificate)

    async def _messages(self, reader: HL7StreamReader, writer: HL7StreamWriter,
                        client: str) -> None:
        while True:
            try:
                # The library waits for a frame's end as long as it takes: the timeout bounds a
                # silent client and one that trickles a frame out.
                raw = await asyncio.wait_for(reader.readblock(),
                                             self.config.idle_timeout_seconds)
            except asyncio.IncompleteReadError as exc:  # the client closed the connection
                if exc.partial:
                    log.warning("adt.unterminated", extra={"client": client,
                                                           "bytes": len(exc.partial)})
                return
            except TimeoutError:
                log.info("adt.idle", extra={"client": client})
                return
            except InvalidBlockError:  # bytes outside a frame: the stream cannot be trusted
                log.warning("adt.framing_error", extra={"client": client})
                return
            except ValueError:  # the library's size bound
                MESSAGES.labels("AR").inc()
                log.warning("adt.refused", extra={"client": client, "reason": "too_large"})
                await _send(writer, ack(b"", "AR", Refused("too_large"), texts=TEXTS,
                                        lang=self.config.language).encode())
                await _drop_until_closed(reader)
                return
            answer = await self._answer(raw, client)
            if answer is None:
                return  # no ACK: the sender resends, on a new connection
            await _send(writer, answer)

    async def _answer(self, raw: bytes, client: str) -> bytes | None:
        """The ACK of `raw` once it is recorded and committed; None when anything failed."""
        try:
            async with self.store.transaction(self.config.careteam_account) as tx:
                taken = await take(tx, raw)
            result = taken.result
            if isinstance(result, Movement):
                answer = ack(result, "AA", texts=TEXTS, lang=self.config.language)
            else:
                answer = ack(raw, result.code, result, texts=TEXTS, lang=self.config.language)
            sender = sender_of(raw, result)
        except Exception as exc:  # whatever it is, the message is not acknowledged
            MESSAGES.labels("none").inc()
            log.error("adt.failed", extra={"client": client, "failure": failure(exc)})
            return None
        code = "AA" if isinstance(result, Movement) else result.code
        MESSAGES.labels(code).inc()
        details = {"event": result.event, "new": taken.new} if isinstance(result, Movement) \
            else {"reason": result.reason, "field": result.field, "kept": taken.stored}
        log.info("adt.acknowledged", extra={
            "client": client, "ack": code, "sender": (sender or "")[:_LOGGED_ID],
            "control_id": (result.control_id or "")[:_LOGGED_ID], **details})
        return _encoded(answer, raw)


async def _send(writer: HL7StreamWriter, answer: bytes) -> None:
    writer.writeblock(answer)
    await writer.drain()


async def _drop_until_closed(reader: HL7StreamReader) -> None:
    """Read and drop (a chunk at a time) until the client closes or _LINGER_SECONDS pass."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_LINGER_SECONDS):
            while await reader.read(64 * 1024):
                pass


def _encoded(answer: str, raw: bytes) -> bytes:
    """The ACK in the message's character set: UTF-8 when it read as such, else ISO 8859-1 (as
    bots/adt/messages.py read it)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return answer.encode("latin-1", "replace")
    return answer.encode("utf-8")
