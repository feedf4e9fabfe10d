"""Key rotation: after `rekey`, the new key alone opens every sealed value and finds patients."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from bots.careteam import service
from bots.careteam.identity import make_identity
from bots.careteam.requests import OpenRequest
from bots.config import AccountConfig, Config
from bots.rekey import rekey, sealed_columns
from bots.runtime.account import AccountFolder
from bots.runtime.store import Store, migrate
from bots.runtime.vault import Vault, VaultError
from tests.careteam_helpers import INS

IDENTITY = make_identity("DUPONT", "Marie", date(1948, 3, 12), "F", ins=INS)


async def test_rekey_moves_everything_to_the_first_key(tmp_path: Path):
    old, new = Vault.new_key(), Vault.new_key()
    config = Config(homeserver="http://x", data_dir=tmp_path, database=f"sqlite:///{tmp_path}/b.db",
                    data_keys=(old,), language="fr", timezone="Europe/Paris",
                    allowed_servers=("x",), allow_legacy_devices=False, log_level="INFO",
                    accounts=(AccountConfig("@bot:x", "pw", "d", ()),))
    migrate(config.database)
    store = Store(config.database, Vault([old]))
    async with store.transaction("@bot:x") as tx:
        await service.register_patient(tx, OpenRequest(IDENTITY, ward="Cardiologie"), prefix="P",
                                       language="fr", requested_by="api")
        tx.post("!r:x", {"msgtype": "m.notice", "body": "identité"})
    await store.close()
    secrets = AccountFolder(tmp_path, "@bot:x", Vault([old])).load()

    report = await rekey(replace(config, data_keys=(new, old)))
    assert report.rows == 2 and report.accounts == 1

    only_new = Vault([new])
    store = Store(config.database, only_new)
    try:
        async with store.transaction("@bot:x") as tx:
            found = await service.find_patient(tx, IDENTITY)
            assert found is not None and found.ward == "Cardiologie"
            assert service.PatientFile.open(tx, found).identity == IDENTITY
        assert [only_new.open(r.content, r.bound("content"))["body"]
                for r in await store.pending_outbox("@bot:x")] == ["identité"]
    finally:
        await store.close()
    assert AccountFolder(tmp_path, "@bot:x", only_new).load() == secrets
    try:
        Vault([old]).open(found.sealed, found.bound("sealed"))
        raise AssertionError("the old key still opens the identity")
    except VaultError:
        pass


def test_every_sealed_column_is_rotated():
    names = {f"{model.__name__}.{column}" for model, column in sealed_columns()}
    assert {"CareRoom.sealed", "OutboxMessage.content", "ChecklistRow.sealed",
            "AuditEntry.detail", "FollowupStep.note", "FollowupEvent.note", "InboundRow.raw",
            "OutboundRow.content"} <= names
