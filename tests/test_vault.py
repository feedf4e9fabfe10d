"""The vault, purely: a sealed value opens only where it was sealed (table, column, row), keys
rotate, and values sealed before the bound format (Fernet tokens) still open."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bots.common.models import CareRoom
from bots.runtime.account import AccountFolder
from bots.runtime.vault import Binding, Vault, VaultError

HERE = CareRoom.bind("sealed", "@bot:x", "P-2026-00001")


def test_a_value_opens_only_where_it_was_sealed():
    vault = Vault([Vault.new_key()])
    token = vault.seal({"nom": "DUPONT"}, HERE)
    assert vault.open(token, HERE) == {"nom": "DUPONT"}
    elsewhere = [
        CareRoom.bind("sealed", "@bot:x", "P-2026-00002"),  # another row
        CareRoom.bind("sealed", "@other:x", "P-2026-00001"),  # the same number, another account
        CareRoom.bind("name", "@bot:x", "P-2026-00001"),  # another column
        Binding("discharge_checklists", "sealed", ("@bot:x", "P-2026-00001")),  # another table
    ]
    for at in elsewhere:
        with pytest.raises(VaultError) as refused:
            vault.open(token, at)
        assert "DUPONT" not in str(refused.value)
    raw = vault.seal_bytes(b"From: a@b", HERE)
    assert vault.open_bytes(raw, HERE) == b"From: a@b"
    with pytest.raises(VaultError):
        vault.open_bytes(raw, elsewhere[0])


def test_a_row_key_has_no_missing_part():
    with pytest.raises(ValueError):
        CareRoom(account="@bot:x", ref=None).bound("sealed")  # a coordination room keeps nothing
    with pytest.raises(ValueError):
        Binding("t", "c", ())
    # Parts are kept apart: no two row keys spell the same associated data.
    assert Binding("t", "c", ("a/b", "c")).associated_data() \
        != Binding("t", "c", ("a", "b/c")).associated_data()


def test_rotation_first_key_seals_every_key_opens():
    old, new = Vault.new_key(), Vault.new_key()
    token = Vault([old]).seal({"nom": "DUPONT"}, HERE)
    both = Vault([new, old])
    assert both.open(token, HERE) == {"nom": "DUPONT"}
    rotated = both.rotate(token, HERE)
    assert Vault([new]).open(rotated, HERE) == {"nom": "DUPONT"}
    with pytest.raises(VaultError):
        Vault([new]).open(token, HERE)
    with pytest.raises(VaultError):
        Vault([old]).open(rotated, HERE)
    with pytest.raises(VaultError):
        both.rotate(token, CareRoom.bind("sealed", "@bot:x", "P-2026-00002"))
    with pytest.raises(VaultError):
        Vault(["not-a-key"])


def test_fernet_tokens_from_before_still_open_and_rotate_bound():
    key = Vault.new_key()
    legacy = Fernet(key.encode()).encrypt(json.dumps({"nom": "DUPONT"}).encode())
    vault = Vault([key])
    assert vault.open(legacy, HERE) == {"nom": "DUPONT"}
    upgraded = vault.rotate(legacy, HERE)
    assert not upgraded.startswith(b"gAAAA") and vault.open(upgraded, HERE) == {"nom": "DUPONT"}
    with pytest.raises(VaultError):
        vault.open(upgraded, CareRoom.bind("sealed", "@bot:x", "P-2026-00002"))
    with pytest.raises(VaultError):
        vault.open(b"gAAAAAnot-a-token", HERE)


def test_account_secrets_are_bound_to_their_account(tmp_path: Path):
    vault = Vault([Vault.new_key()])
    mine = AccountFolder(tmp_path, "@bot:x", vault)
    secrets = mine.load()
    other = AccountFolder(tmp_path, "@other:x", vault)
    other.load()
    (other.path / "account.sealed").write_bytes((mine.path / "account.sealed").read_bytes())
    with pytest.raises(VaultError):
        other.load()
    assert mine.load() == secrets
