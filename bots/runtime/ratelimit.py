"""The bot's own account exempt from the homeserver's message rate limit.

Synapse limits every account's messages (`rc_message`: 0.5/s after a burst of 20 by default), the
bot's too: in a care team's day every answer then waited ~2 s, an alert queued behind a digest
longer. Synapse's admin API lifts it for one account (`override_ratelimit`, kept in its database);
the runtime asks at every start (idempotent) with a server admin's token: the account's own when
it is an admin, else `admin_token_file`. Without either it says how, and runs limited.
"""

from __future__ import annotations

import logging
import urllib.parse

import aiohttp

from bots.config import Config

log = logging.getLogger(__name__)

NO_LIMIT = {"messages_per_second": 0, "burst_count": 0}


async def exempt_from_rate_limits(config: Config, user_id: str, own_token: str) -> bool:
    """True when the homeserver no longer rate-limits `user_id`'s messages."""
    url = (f"{config.admin_url}/_synapse/admin/v1/users/"
           f"{urllib.parse.quote(user_id, safe='')}/override_ratelimit")
    token = config.admin_token or own_token
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http, \
                http.post(url, json=NO_LIMIT,
                          headers={"Authorization": f"Bearer {token}"}) as resp:
            if resp.status == 200:
                log.info("message rate limit lifted for the bot's account",
                         extra={"user_id": user_id})
                return True
            body = await resp.json(content_type=None)
            reason = f"{resp.status} {body.get('errcode')}: {body.get('error')}" \
                if isinstance(body, dict) else str(resp.status)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        reason = repr(exc)
    log.warning(
        "the homeserver rate-limits this bot's messages (answers will wait once it is busy): "
        "make the account a server admin, or set admin_token_file to a server admin's access "
        "token, or once by hand: POST /_synapse/admin/v1/users/<user_id>/override_ratelimit "
        '{"messages_per_second": 0, "burst_count": 0} (docs/OPERATIONS.md, Rate limits); '
        "homeserver_admin must reach Synapse's main process",
        extra={"user_id": user_id, "admin_url": config.admin_url, "error": reason})
    return False
