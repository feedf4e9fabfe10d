"""Files sent in rooms, read back by a bot: the event fetched and decrypted, the media downloaded
(authenticated media, Synapse's default) and decrypted. Network calls: never inside a
transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from nio import AsyncClient, MegolmEvent, RoomGetEventResponse
from nio.crypto.attachments import decrypt_attachment

FILE_TYPES = ("m.file", "m.image", "m.video", "m.audio")


class MediaError(RuntimeError):
    pass


@dataclass(frozen=True)
class RoomFile:
    event_id: str
    name: str
    mimetype: str
    data: bytes
    timestamp: int  # ms, the server's


async def event_content(client: AsyncClient, room_id: str,
                        event_id: str) -> tuple[dict[str, Any], int, str]:
    """(content, origin_server_ts, sender) of an event, decrypted."""
    resp = await client.room_get_event(room_id, event_id)
    if not isinstance(resp, RoomGetEventResponse):
        raise MediaError(f"event {event_id}: {getattr(resp, 'message', resp)}")
    event = resp.event
    if isinstance(event, MegolmEvent):
        event = client.decrypt_event(event)
        if isinstance(event, MegolmEvent):
            raise MediaError(f"event {event_id}: no key to decrypt it")
    return event.source.get("content", {}), event.server_timestamp, event.sender


async def thread_events(client: AsyncClient, room_id: str, root: str) -> list[str]:
    """The IDs of the events in a thread (root excluded), oldest first."""
    path = (f"/_matrix/client/v1/rooms/{quote(room_id)}/relations/{quote(root)}/m.thread"
            "?limit=100&dir=f")
    resp = await client.send("GET", path,
                             headers={"Authorization": f"Bearer {client.access_token}"})
    if resp.status != 200:
        raise MediaError(f"thread {root}: HTTP {resp.status}")
    return [e["event_id"] for e in (await resp.json()).get("chunk", [])]


async def download(client: AsyncClient, content: dict[str, Any]) -> bytes:
    """The bytes of a file message, decrypted when it was sent encrypted."""
    file = content.get("file")
    url = file["url"] if file else content.get("url", "")
    if not url.startswith("mxc://"):
        raise MediaError("not a file message")
    server, media = url.removeprefix("mxc://").split("/", 1)
    resp = await client.send(
        "GET", f"/_matrix/client/v1/media/download/{quote(server)}/{quote(media)}",
        headers={"Authorization": f"Bearer {client.access_token}"})
    if resp.status != 200:
        raise MediaError(f"download {url}: HTTP {resp.status}")
    data = await resp.read()
    if file:
        data = decrypt_attachment(data, file["key"]["k"], file["hashes"]["sha256"], file["iv"])
    return data


async def room_file(client: AsyncClient, room_id: str, event_id: str) -> RoomFile | None:
    """The file an event carries, or None if it is not a file message."""
    content, timestamp, _ = await event_content(client, room_id, event_id)
    if content.get("msgtype") not in FILE_TYPES:
        return None
    info = content.get("info") or {}
    return RoomFile(event_id, content.get("filename") or content.get("body") or "piece",
                    info.get("mimetype") or "application/octet-stream",
                    await download(client, content), timestamp)
