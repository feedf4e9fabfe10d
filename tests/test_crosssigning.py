"""Cross-signing: the pure signing/verification/sealing code, then the setup against a real Synapse."""

from __future__ import annotations

import secrets
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import nio
import pytest
import pytest_asyncio

from bots.devstack.homeserver import DevHomeserver, free_port
from bots.runtime.crosssigning import (
    CrossSigningError,
    CrossSigningKeys,
    KeyFileError,
    _public_key,
    _upload_signing_keys,
    cross_signed_devices,
    ensure_cross_signed,
    key_objects,
    master_key_of,
    query_keys,
    seal,
    sign_json,
    unseal,
    verify_json,
)

USER = "@bot:example.org"
SECRET = secrets.token_bytes(32)

# --- Pure part -----------------------------------------------------------------------------------


def test_sign_verify_roundtrip_keeps_other_signatures() -> None:
    keys = CrossSigningKeys.generate()
    key_id = f"ed25519:{keys.master_public}"
    obj = {"a": 1, "unsigned": {"x": 2}, "signatures": {"@other:x": {"ed25519:D": "sig"}}}
    signed = sign_json(obj, USER, key_id, keys.master)
    assert verify_json(signed, USER, key_id, keys.master_public)
    assert signed["signatures"]["@other:x"] == {"ed25519:D": "sig"}
    assert "signatures" in obj and USER not in obj["signatures"]  # the input is not modified
    # `unsigned` is outside the signature: servers add to it freely.
    assert verify_json(signed | {"unsigned": {"y": 3}}, USER, key_id, keys.master_public)


def test_tampered_object_fails() -> None:
    keys = CrossSigningKeys.generate()
    key_id = f"ed25519:{keys.master_public}"
    signed = sign_json({"a": 1}, USER, key_id, keys.master)
    assert not verify_json(signed | {"a": 2}, USER, key_id, keys.master_public)


def test_wrong_key_or_missing_signature_fails() -> None:
    keys, other = CrossSigningKeys.generate(), CrossSigningKeys.generate()
    key_id = f"ed25519:{keys.master_public}"
    signed = sign_json({"a": 1}, USER, key_id, keys.master)
    assert not verify_json(signed, USER, key_id, other.master_public)
    assert not verify_json(signed, "@someone:else", key_id, keys.master_public)
    assert not verify_json({"a": 1}, USER, key_id, keys.master_public)
    assert not verify_json(signed, USER, key_id, "not base64!")


def test_public_keys_are_unpadded_base64_of_32_bytes() -> None:
    keys = CrossSigningKeys.generate()
    publics = {keys.master_public, keys.self_signing_public, keys.user_signing_public}
    assert len(publics) == 3
    assert all(len(p) == 43 and "=" not in p for p in publics)
    assert repr(keys) == "CrossSigningKeys()"  # no seed in logs


def test_key_objects_are_what_synapse_expects() -> None:
    keys = CrossSigningKeys.generate()
    body = key_objects(USER, keys)
    master_id = f"ed25519:{keys.master_public}"
    assert body["master_key"] == {
        "user_id": USER, "usage": ["master"], "keys": {master_id: keys.master_public},
    }
    for name, usage, public in (("self_signing_key", "self_signing", keys.self_signing_public),
                                ("user_signing_key", "user_signing", keys.user_signing_public)):
        assert body[name]["usage"] == [usage]
        assert body[name]["keys"] == {f"ed25519:{public}": public}
        assert verify_json(body[name], USER, master_id, keys.master_public)


def _device(device_id: str, seed: bytes, user_id: str = USER) -> dict[str, Any]:
    """Device keys as a client uploads them: self-signed by the device's ed25519 key."""
    obj = {
        "user_id": user_id, "device_id": device_id,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": {f"curve25519:{device_id}": "c" * 43, f"ed25519:{device_id}": _public_key(seed)},
    }
    return sign_json(obj, user_id, f"ed25519:{device_id}", seed)


def _query(keys: CrossSigningKeys, devices: dict[str, dict[str, Any]]) -> dict[str, Any]:
    body = key_objects(USER, keys)
    return {
        "failures": {},
        "device_keys": {USER: devices},
        "master_keys": {USER: body["master_key"]},
        "self_signing_keys": {USER: body["self_signing_key"]},
    }


def _ssk_signed(device: dict[str, Any], keys: CrossSigningKeys) -> dict[str, Any]:
    return sign_json(device, USER, f"ed25519:{keys.self_signing_public}", keys.self_signing)


def test_cross_signed_devices() -> None:
    keys = CrossSigningKeys.generate()
    signed = _ssk_signed(_device("SIGNED", secrets.token_bytes(32)), keys)
    unsigned = _device("UNSIGNED", secrets.token_bytes(32))
    query = _query(keys, {"SIGNED": signed, "UNSIGNED": unsigned})
    assert master_key_of(query, USER) == keys.master_public
    assert cross_signed_devices(query, USER) == {"SIGNED": True, "UNSIGNED": False}
    assert cross_signed_devices(query, "@nobody:example.org") == {}


def test_device_signed_by_another_ssk_is_not_cross_signed() -> None:
    keys, other = CrossSigningKeys.generate(), CrossSigningKeys.generate()
    device = _ssk_signed(_device("D", secrets.token_bytes(32)), other)
    assert cross_signed_devices(_query(keys, {"D": device}), USER) == {"D": False}


def test_ssk_not_signed_by_master_is_not_trusted() -> None:
    keys, other = CrossSigningKeys.generate(), CrossSigningKeys.generate()
    query = _query(keys, {"D": _ssk_signed(_device("D", secrets.token_bytes(32)), keys)})
    # The same ssk, but signed by another master key.
    query["self_signing_keys"][USER] = key_objects(
        USER, CrossSigningKeys(other.master, keys.self_signing, keys.user_signing)
    )["self_signing_key"]
    assert cross_signed_devices(query, USER) == {"D": False}
    del query["self_signing_keys"]
    assert cross_signed_devices(query, USER) == {"D": False}


def test_device_without_valid_self_signature_is_not_cross_signed() -> None:
    keys = CrossSigningKeys.generate()
    device = _device("D", secrets.token_bytes(32))
    device["keys"]["ed25519:D"] = _public_key(secrets.token_bytes(32))  # not the signing key
    # Signed by the ssk, but the device's own key does not vouch for the object.
    query = _query(keys, {"D": _ssk_signed(device, keys)})
    assert cross_signed_devices(query, USER) == {"D": False}


def test_mismatched_ids_or_master_usage_are_rejected() -> None:
    keys = CrossSigningKeys.generate()
    device = _ssk_signed(_device("D", secrets.token_bytes(32)), keys)
    assert cross_signed_devices(_query(keys, {"OTHER": device}), USER) == {"OTHER": False}
    query = _query(keys, {"D": device})
    query["master_keys"][USER]["usage"] = ["self_signing"]
    assert master_key_of(query, USER) is None
    assert cross_signed_devices(query, USER) == {"D": False}
    query["master_keys"] = {USER: "garbage"}
    assert cross_signed_devices(query, USER) == {"D": False}


def test_seal_unseal_roundtrip() -> None:
    keys = CrossSigningKeys.generate()
    blob = seal(keys, SECRET)
    assert keys.master not in blob and keys.master.hex().encode() not in blob
    assert unseal(blob, SECRET) == keys
    assert seal(keys, SECRET) != blob  # fresh salt and nonce each time


def test_unseal_with_wrong_secret_or_damaged_blob() -> None:
    blob = seal(CrossSigningKeys.generate(), SECRET)
    with pytest.raises(KeyFileError, match="wrong secret"):
        unseal(blob, secrets.token_bytes(32))
    with pytest.raises(KeyFileError, match="not a sealed key envelope"):
        unseal(b"{not json", SECRET)
    with pytest.raises(KeyFileError, match="version"):
        unseal(blob.replace(b'"version": 1', b'"version": 9'), SECRET)
    with pytest.raises(ValueError, match="16"):
        seal(CrossSigningKeys.generate(), b"password")


# --- Against a real Synapse ----------------------------------------------------------------------

PASSWORD = "correct horse battery staple"
ClientFactory = Callable[..., Awaitable[nio.AsyncClient]]


@pytest_asyncio.fixture(scope="module")
async def homeserver(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevHomeserver]:
    hs = DevHomeserver(tmp_path_factory.mktemp("hs"), port=free_port(), relaxed_rate_limits=True)
    await hs.start()
    try:
        yield hs
    finally:
        hs.stop()


@pytest_asyncio.fixture
async def login(homeserver: DevHomeserver, tmp_path: Path) -> AsyncIterator[ClientFactory]:
    """Log a (new, if no user_id given) user in on a new device, device keys uploaded."""
    clients: list[nio.AsyncClient] = []

    async def make(user_id: str | None = None, *, upload_keys: bool = True) -> nio.AsyncClient:
        if user_id is None:
            user_id = await homeserver.register(f"u{secrets.token_hex(4)}", PASSWORD)
        store = tmp_path / f"store{len(clients)}"
        store.mkdir()
        config = nio.AsyncClientConfig(
            encryption_enabled=True, store=nio.store.SqliteStore, store_sync_tokens=False
        )
        client = nio.AsyncClient(homeserver.url, user_id, store_path=str(store), config=config)
        clients.append(client)
        assert isinstance(await client.login(PASSWORD), nio.LoginResponse)
        if upload_keys:
            assert isinstance(await client.keys_upload(), nio.KeysUploadResponse)
        return client

    yield make
    for client in clients:
        await client.close()


async def test_first_start_cross_signs_the_device_for_others(
    login: ClientFactory, tmp_path: Path
) -> None:
    bot, observer = await login(), await login()
    key_file = tmp_path / "keys" / "cross-signing.sealed"
    status = await ensure_cross_signed(bot, password=PASSWORD, key_file=key_file, secret=SECRET)
    assert status.created and status.device_signed
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert unseal(key_file.read_bytes(), SECRET).master_public == status.master_key

    seen = await query_keys(observer, [bot.user_id])
    assert master_key_of(seen, bot.user_id) == status.master_key
    assert cross_signed_devices(seen, bot.user_id) == {bot.device_id: True}


async def test_restart_reuses_the_identity(login: ClientFactory, tmp_path: Path) -> None:
    bot = await login()
    key_file = tmp_path / "cs"
    first = await ensure_cross_signed(bot, password=PASSWORD, key_file=key_file, secret=SECRET)
    blob = key_file.read_bytes()
    again = await ensure_cross_signed(bot, password=PASSWORD, key_file=key_file, secret=SECRET)
    assert (again.created, again.device_signed, again.master_key) == (
        False, True, first.master_key
    )
    assert key_file.read_bytes() == blob


async def test_new_device_is_unsigned_until_signed_with_the_same_identity(
    login: ClientFactory, tmp_path: Path
) -> None:
    bot, observer = await login(), await login()
    key_file = tmp_path / "cs"
    first = await ensure_cross_signed(bot, password=PASSWORD, key_file=key_file, secret=SECRET)
    second = await login(bot.user_id)
    assert cross_signed_devices(await query_keys(observer, [bot.user_id]), bot.user_id) == {
        bot.device_id: True, second.device_id: False,
    }
    status = await ensure_cross_signed(second, password=PASSWORD, key_file=key_file,
                                       secret=SECRET)
    assert (status.created, status.device_signed, status.master_key) == (
        False, True, first.master_key
    )
    assert cross_signed_devices(await query_keys(observer, [bot.user_id]), bot.user_id) == {
        bot.device_id: True, second.device_id: True,
    }


async def test_saved_but_never_uploaded_identity_is_uploaded(
    login: ClientFactory, tmp_path: Path
) -> None:
    # A run that died between saving the key file and uploading: the next run finishes the job.
    bot = await login()
    keys = CrossSigningKeys.generate()
    (tmp_path / "cs").write_bytes(seal(keys, SECRET))
    status = await ensure_cross_signed(bot, password=PASSWORD, key_file=tmp_path / "cs",
                                       secret=SECRET)
    assert (status.created, status.device_signed, status.master_key) == (
        False, True, keys.master_public
    )


async def test_missing_key_file_never_resets_the_identity(
    login: ClientFactory, tmp_path: Path
) -> None:
    bot = await login()
    key_file = tmp_path / "cs"
    first = await ensure_cross_signed(bot, password=PASSWORD, key_file=key_file, secret=SECRET)
    key_file.unlink()
    with pytest.raises(CrossSigningError, match="key file .* is missing"):
        await ensure_cross_signed(bot, password=PASSWORD, key_file=key_file, secret=SECRET)
    assert not key_file.exists()
    assert master_key_of(await query_keys(bot, [bot.user_id]), bot.user_id) == first.master_key


async def test_key_file_of_another_identity_is_refused(
    login: ClientFactory, tmp_path: Path
) -> None:
    bot = await login()
    await ensure_cross_signed(bot, password=PASSWORD, key_file=tmp_path / "cs", secret=SECRET)
    foreign = tmp_path / "foreign"
    foreign.write_bytes(seal(CrossSigningKeys.generate(), SECRET))
    with pytest.raises(CrossSigningError, match="master key .* but the key file holds"):
        await ensure_cross_signed(bot, password=PASSWORD, key_file=foreign, secret=SECRET)
    with pytest.raises(KeyFileError, match="wrong secret"):
        await ensure_cross_signed(bot, password=PASSWORD, key_file=tmp_path / "cs",
                                  secret=secrets.token_bytes(32))


async def test_device_keys_must_be_uploaded_first(login: ClientFactory, tmp_path: Path) -> None:
    bot = await login(upload_keys=False)
    with pytest.raises(CrossSigningError, match="keys_upload"):
        await ensure_cross_signed(bot, password=PASSWORD, key_file=tmp_path / "cs", secret=SECRET)
    assert not (tmp_path / "cs").exists()


async def test_key_upload_answers_interactive_auth(login: ClientFactory, tmp_path: Path) -> None:
    # Synapse asks for UIA only once a master key exists: replace the self-signing key (same
    # master, so the reset guard lets it through) to exercise the password answer.
    bot = await login()
    await ensure_cross_signed(bot, password=PASSWORD, key_file=tmp_path / "cs", secret=SECRET)
    keys = unseal((tmp_path / "cs").read_bytes(), SECRET)
    rotated = CrossSigningKeys(keys.master, secrets.token_bytes(32), keys.user_signing)
    with pytest.raises(CrossSigningError, match="HTTP 401"):
        await _upload_signing_keys(bot, rotated, "wrong password")
    await _upload_signing_keys(bot, rotated, PASSWORD)
    query = await query_keys(bot, [bot.user_id])
    assert query["self_signing_keys"][bot.user_id]["keys"] == {
        f"ed25519:{rotated.self_signing_public}": rotated.self_signing_public
    }
    # The old ssk signature no longer counts.
    assert cross_signed_devices(query, bot.user_id) == {bot.device_id: False}
    # A different master key is a reset: refused before any password is sent.
    with pytest.raises(CrossSigningError, match="not overwriting"):
        await _upload_signing_keys(bot, CrossSigningKeys.generate(), PASSWORD)
