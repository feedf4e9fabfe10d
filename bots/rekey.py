"""`liaison rekey`: re-encrypt everything sealed at rest with the first data key (key rotation).

Rotation: put a new key (`liaison keygen`) first in `data_keys`, keep the old ones after it, and
restart the bots (new data is sealed with the new key, old data still opens). Then run
`liaison rekey --config FILE` (the bots may keep running): every sealed value and blind index is
rewritten with the first key. Then the old keys can leave the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import LargeBinary, select

import bots.models_all  # noqa: F401 - every table, so none is forgotten
from bots.careteam.identity import Identity
from bots.careteam.models import CareRoom
from bots.config import Config
from bots.runtime.account import AccountFolder
from bots.runtime.models import Base
from bots.runtime.store import Store, migrate
from bots.runtime.vault import Vault
from bridge.models import InboundRow, rekey_digest


@dataclass
class RekeyReport:
    rows: int = 0
    accounts: int = 0


def sealed_columns() -> list[tuple[type, str]]:
    """Every binary column is sealed by the vault (that is what they are for): all of them, so a
    table added later is rotated too."""
    return [(mapper.class_, column.key) for mapper in Base.registry.mappers
            for column in mapper.columns if isinstance(column.type, LargeBinary)]


async def rekey(config: Config) -> RekeyReport:
    migrate(config.database)
    vault = Vault(list(config.data_keys))
    store = Store(config.database, vault)
    report = RekeyReport()
    try:
        for model, column in sealed_columns():
            async with store.transaction("rekey") as tx:
                for row in (await tx.session.scalars(select(model))).all():
                    sealed = getattr(row, column)
                    if not sealed:
                        continue  # handled inbox rows and coordination rooms keep nothing
                    setattr(row, column, vault.rotate(sealed))
                    if isinstance(row, CareRoom):
                        identity = Identity.from_dict(vault.open(row.sealed)["identity"])
                        row.ins_index = vault.index(identity.ins) if identity.ins else None
                        row.traits_index = vault.index(identity.traits_key())
                    if isinstance(row, InboundRow) and not row.digest.startswith("oversize:"):
                        rekey_digest(row, vault)
                    report.rows += 1
    finally:
        await store.close()
    for account in config.accounts:
        folder = AccountFolder(config.data_dir, account.user_id, vault)
        folder.save(folder.load())
        report.accounts += 1
    return report
