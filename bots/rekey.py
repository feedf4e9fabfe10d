"""`liaison rekey`: re-seal everything sealed at rest with the first data key (key rotation), in
the bound format (values sealed before it, as Fernet tokens, are upgraded).

Rotation: put a new key (`liaison keygen`) first in `data_keys`, keep the old ones after it, and
restart the bots (new data is sealed with the new key, old data still opens). Then run
`liaison rekey --config FILE` (the bots may keep running): every sealed value and blind index is
rewritten with the first key. Then the old keys can leave the configuration.

The bots write while this runs: each row is rewritten only if its sealed value is still the one
read (compare-and-swap in the UPDATE's WHERE); a row changed meanwhile is read again and
re-sealed from its new value, never overwritten with the old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, LargeBinary, select, update

import bots.models_all  # noqa: F401 - every table, so none is forgotten
from bots.common.identity import Identity
from bots.common.models import CareRoom
from bots.config import Config
from bots.runtime.account import AccountFolder
from bots.runtime.models import Base
from bots.runtime.store import Store, migrate
from bots.runtime.vault import Vault
from bridge.models import InboundRow, rekeyed_digest

BATCH = 200  # rows read, then rewritten, per transaction


@dataclass
class RekeyReport:
    rows: int = 0
    accounts: int = 0


def sealed_columns() -> list[tuple[type[Base], str]]:
    """Every binary column is sealed by the vault (that is what they are for): all of them, so a
    table added later is rotated too."""
    return [(mapper.class_, column.key) for mapper in Base.registry.mappers
            for column in mapper.columns if isinstance(column.type, LargeBinary)]


def _primary_key(model: type[Base]) -> Column[Any]:
    (key,) = model.__table__.primary_key.columns  # every sealed table has a one-column key
    return key


def _rekeyed(vault: Vault, row: Base, column: str) -> dict[str, Any]:
    """The row's new values: the value re-sealed, and a patient's blind indexes."""
    at = row.bound(column)
    values: dict[str, Any] = {column: vault.rotate(getattr(row, column), at)}
    if isinstance(row, CareRoom):
        identity = Identity.from_dict(vault.open(row.sealed, at)["identity"])
        values["ins_index"] = vault.index(identity.ins) if identity.ins else None
        values["traits_index"] = vault.index(identity.traits_key())
    if isinstance(row, InboundRow) and not row.digest.startswith("oversize:"):
        # The digest (and a Message-ID made from it) is part of the row's binding: the mail
        # is sealed again for the row as it will be.
        raw = vault.open_bytes(row.raw, at)
        values.update(rekeyed_digest(row, raw, vault))
        values["raw"] = vault.seal_bytes(raw, InboundRow.bind(
            "raw", row.account, values["message_id"], values["digest"]))
    return values


async def _rekey_column(store: Store, vault: Vault, model: type[Base], column: str) -> int:
    key, sealed = _primary_key(model), getattr(model, column)
    stored = select(model).where(sealed.is_not(None), sealed != b"")  # b"": nothing kept
    done, last = 0, None
    while True:
        async with store.transaction("rekey") as tx:
            rows = list((await tx.session.scalars(
                (stored if last is None else stored.where(key > last))
                .order_by(key).limit(BATCH))).all())
        if not rows:
            return done
        last = getattr(rows[-1], key.key)
        while rows:
            rekeyed, changed = [(row, _rekeyed(vault, row, column)) for row in rows], []
            async with store.transaction("rekey") as tx:
                for row, values in rekeyed:
                    result = await tx.session.execute(
                        update(model)
                        .where(key == getattr(row, key.key), sealed == getattr(row, column))
                        .values(values).execution_options(synchronize_session=False))
                    if result.rowcount == 1:
                        done += 1
                    else:
                        changed.append(getattr(row, key.key))
            if changed:  # written meanwhile (or emptied, or gone): read again
                async with store.transaction("rekey") as tx:
                    rows = list((await tx.session.scalars(
                        stored.where(key.in_(changed)).order_by(key))).all())
            else:
                rows = []


async def rekey(config: Config) -> RekeyReport:
    migrate(config.database)
    vault = Vault(list(config.data_keys))
    store = Store(config.database, vault)
    report = RekeyReport()
    try:
        for model, column in sealed_columns():
            report.rows += await _rekey_column(store, vault, model, column)
    finally:
        await store.close()
    for account in config.accounts:
        folder = AccountFolder(config.data_dir, account.user_id, vault)
        folder.save(folder.load())
        report.accounts += 1
    return report
