"""The bridge's queues as Prometheus gauges, read from its tables before each /metrics scrape
(bots/monitoring.py): mails waiting to be sent, mails received and not yet posted to a room."""

from __future__ import annotations

from prometheus_client import Gauge
from sqlalchemy import func, select

from bots.runtime.store import Store
from bridge.models import InboundRow, OutboundRow

OUTBOUND_QUEUED = Gauge("liaison_mss_outbound_queued",
                        "MSSanté mails (and read receipts) waiting to be sent")
INBOUND_UNPOSTED = Gauge("liaison_mss_inbound_unposted",
                         "MSSanté mails received and stored, not yet posted to a room")


async def queue_gauges(store: Store, accounts: list[str]) -> None:
    async with store.transaction(accounts[0]) as tx:
        OUTBOUND_QUEUED.set(await tx.session.scalar(select(func.count()).where(
            OutboundRow.account.in_(accounts), OutboundRow.state == "queued")) or 0)
        INBOUND_UNPOSTED.set(await tx.session.scalar(select(func.count()).where(
            InboundRow.account.in_(accounts), InboundRow.state == "received")) or 0)
