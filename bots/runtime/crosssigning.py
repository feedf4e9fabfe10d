"""Matrix cross-signing for a matrix-nio client, which has none of its own.

Element's default "exclude insecure devices" mode (MSC4153) only sends room keys to devices signed
by their owner's self-signing key, so a bot must cross-sign its own device to receive messages; and
the bots apply the same rule when they share keys.

The pure part (keys, signing, verification of a /keys/query answer, sealing the private keys at
rest) does no I/O. The I/O part talks to the homeserver through the nio client's own HTTP session.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import canonicaljson
import nio
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bots.runtime.files import write_private

JsonDict = dict[str, Any]

_CLIENT_API = "/_matrix/client/v3"
_SEAL_VERSION = 1
# Binds the ciphertext to its purpose: a blob sealed for something else with the same secret fails.
_SEAL_AAD = b"liaison/cross-signing-keys/v1"


class CrossSigningError(RuntimeError):
    """Cross-signing cannot be set up or checked; the message says what to do."""


class KeyFileError(CrossSigningError):
    """The sealed key file cannot be opened: wrong secret, corruption or unknown format."""


# --- Encoding helpers ---------------------------------------------------------------------------


def _b64encode(data: bytes) -> str:
    # Matrix uses standard base64 without padding for keys and signatures.
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _public_key(seed: bytes) -> str:
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return _b64encode(public.public_bytes_raw())


def _dict(value: Any) -> JsonDict:
    # A /keys/query answer comes from the network: a wrong type reads as "absent".
    return value if isinstance(value, dict) else {}


def _signing_payload(obj: JsonDict) -> bytes:
    # Spec "Signing JSON": canonical JSON of the object without `signatures` and `unsigned`.
    return canonicaljson.encode_canonical_json(
        {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    )


# --- Keys and signatures -------------------------------------------------------------------------


@dataclass(frozen=True)
class CrossSigningKeys:
    """The three ed25519 private seeds (32 bytes each) of a user's cross-signing identity."""

    # repr=False: the seeds must never end up in a log line or a traceback.
    master: bytes = field(repr=False)
    self_signing: bytes = field(repr=False)
    user_signing: bytes = field(repr=False)

    def __post_init__(self) -> None:
        for name in ("master", "self_signing", "user_signing"):
            if len(getattr(self, name)) != 32:
                raise ValueError(f"{name} seed must be 32 bytes")

    @classmethod
    def generate(cls) -> CrossSigningKeys:
        return cls(secrets.token_bytes(32), secrets.token_bytes(32), secrets.token_bytes(32))

    @property
    def master_public(self) -> str:
        return _public_key(self.master)

    @property
    def self_signing_public(self) -> str:
        return _public_key(self.self_signing)

    @property
    def user_signing_public(self) -> str:
        return _public_key(self.user_signing)


def sign_json(obj: JsonDict, user_id: str, key_id: str, private_key: bytes) -> JsonDict:
    """A copy of `obj` with an ed25519 signature by `private_key` (a 32-byte seed) added under
    `signatures[user_id][key_id]`; other signatures are kept."""
    signature = Ed25519PrivateKey.from_private_bytes(private_key).sign(_signing_payload(obj))
    signed = dict(obj)
    signed["signatures"] = {u: dict(s) for u, s in obj.get("signatures", {}).items()}
    signed["signatures"].setdefault(user_id, {})[key_id] = _b64encode(signature)
    return signed


def verify_json(obj: JsonDict, user_id: str, key_id: str, public_key_b64: str) -> bool:
    """True iff `obj` carries a valid signature `signatures[user_id][key_id]` by that key."""
    try:
        signature = _b64decode(obj["signatures"][user_id][key_id])
        public = Ed25519PublicKey.from_public_bytes(_b64decode(public_key_b64))
        public.verify(signature, _signing_payload(obj))
    except (InvalidSignature, KeyError, TypeError, ValueError, binascii.Error):
        return False
    return True


def key_objects(user_id: str, keys: CrossSigningKeys) -> JsonDict:
    """The body of POST /keys/device_signing/upload: the three public keys, the self-signing and
    user-signing ones signed by the master key."""

    def key_object(usage: str, public: str) -> JsonDict:
        return {"user_id": user_id, "usage": [usage], "keys": {f"ed25519:{public}": public}}

    master_key_id = f"ed25519:{keys.master_public}"
    return {
        "master_key": key_object("master", keys.master_public),
        "self_signing_key": sign_json(
            key_object("self_signing", keys.self_signing_public), user_id, master_key_id,
            keys.master,
        ),
        "user_signing_key": sign_json(
            key_object("user_signing", keys.user_signing_public), user_id, master_key_id,
            keys.master,
        ),
    }


# --- Reading a /keys/query answer ---------------------------------------------------------------


def _cross_signing_key(query: JsonDict, section: str, user_id: str, usage: str) -> str | None:
    """The public key of `user_id`'s cross-signing key in `query[section]`, or None unless the
    object is well formed: that user, that usage, exactly one ed25519 key named after itself."""
    obj = _dict(_dict(query.get(section)).get(user_id))
    if obj.get("user_id") != user_id:
        return None
    if not isinstance(obj.get("usage"), list) or usage not in obj["usage"]:
        return None
    keys = obj.get("keys")
    if not isinstance(keys, dict) or len(keys) != 1:
        return None
    ((key_id, public),) = keys.items()
    if not isinstance(public, str) or key_id != f"ed25519:{public}":
        return None
    return public


def master_key_of(query: JsonDict, user_id: str) -> str | None:
    """The master public key of `user_id` in a raw /keys/query answer (for pinning), or None."""
    return _cross_signing_key(query, "master_keys", user_id, "master")


def _self_signing_key_of(query: JsonDict, user_id: str) -> str | None:
    """The self-signing public key of `user_id`, only if it is signed by the master key."""
    master = master_key_of(query, user_id)
    ssk = _cross_signing_key(query, "self_signing_keys", user_id, "self_signing")
    if master is None or ssk is None:
        return None
    if not verify_json(query["self_signing_keys"][user_id], user_id, f"ed25519:{master}", master):
        return None
    return ssk


def _device_cross_signed(device: Any, user_id: str, device_id: str, ssk: str) -> bool:
    if not isinstance(device, dict):
        return False
    if device.get("user_id") != user_id or device.get("device_id") != device_id:
        return False
    device_key_id = f"ed25519:{device_id}"
    device_key = _dict(device.get("keys")).get(device_key_id)
    if not isinstance(device_key, str):
        return False
    # Self-signature first: an ssk signature over keys the device does not hold proves nothing.
    return verify_json(device, user_id, device_key_id, device_key) and verify_json(
        device, user_id, f"ed25519:{ssk}", ssk
    )


def cross_signed_devices(query: JsonDict, user_id: str) -> dict[str, bool]:
    """For each device of `user_id` in a raw /keys/query answer: is it cross-signed by its owner
    (device self-signed, signed by the self-signing key, itself signed by the master key)?"""
    devices = _dict(_dict(query.get("device_keys")).get(user_id))
    ssk = _self_signing_key_of(query, user_id)
    return {
        device_id: ssk is not None and _device_cross_signed(device, user_id, device_id, ssk)
        for device_id, device in devices.items()
    }


# --- Sealing the private keys at rest -----------------------------------------------------------


def _seal_key(secret: bytes, salt: bytes) -> bytes:
    # HKDF lets `secret` be any high-entropy byte string, not only a 32-byte AES key.
    return HKDF(hashes.SHA256(), 32, salt, _SEAL_AAD).derive(secret)


def _check_secret(secret: bytes) -> None:
    # HKDF does not stretch: a short secret (a password) would make the file brute-forceable.
    if len(secret) < 16:
        raise ValueError("the sealing secret must be at least 16 random bytes")


def seal(keys: CrossSigningKeys, secret: bytes) -> bytes:
    """The private seeds encrypted with AES-256-GCM under a key derived from `secret`, as a
    versioned JSON envelope."""
    _check_secret(secret)
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    plaintext = json.dumps({
        "master": _b64encode(keys.master),
        "self_signing": _b64encode(keys.self_signing),
        "user_signing": _b64encode(keys.user_signing),
    }).encode()
    ciphertext = AESGCM(_seal_key(secret, salt)).encrypt(nonce, plaintext, _SEAL_AAD)
    envelope = {"version": _SEAL_VERSION, "algorithm": "HKDF-SHA256+AES-256-GCM",
                "salt": _b64encode(salt), "nonce": _b64encode(nonce),
                "ciphertext": _b64encode(ciphertext)}
    return json.dumps(envelope).encode()


def unseal(blob: bytes, secret: bytes) -> CrossSigningKeys:
    """Inverse of `seal`; raises KeyFileError on a wrong secret or a damaged blob."""
    _check_secret(secret)
    try:
        envelope = json.loads(blob)
        version = envelope["version"]
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyFileError("the cross-signing key file is not a sealed key envelope") from exc
    if version != _SEAL_VERSION:
        raise KeyFileError(f"unsupported cross-signing key file version {version!r}")
    try:
        salt, nonce, ciphertext = (
            _b64decode(envelope[name]) for name in ("salt", "nonce", "ciphertext")
        )
        plaintext = AESGCM(_seal_key(secret, salt)).decrypt(nonce, ciphertext, _SEAL_AAD)
    except InvalidTag as exc:
        raise KeyFileError(
            "cannot decrypt the cross-signing key file: wrong secret, or the file was altered"
        ) from exc
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise KeyFileError("the cross-signing key file is damaged") from exc
    seeds = json.loads(plaintext)
    return CrossSigningKeys(
        _b64decode(seeds["master"]), _b64decode(seeds["self_signing"]),
        _b64decode(seeds["user_signing"]),
    )


# --- Talking to the homeserver ------------------------------------------------------------------


@dataclass(frozen=True)
class CrossSigningStatus:
    master_key: str  # unpadded base64 public key, as other users see it
    device_signed: bool  # as observed in /keys/query after any signing
    created: bool  # a new identity was generated by this call


async def _post(client: nio.AsyncClient, path: str, body: JsonDict) -> tuple[int, JsonDict]:
    headers = {"Authorization": f"Bearer {client.access_token}",
               "Content-Type": "application/json"}
    async with await client.send("POST", _CLIENT_API + path, data=json.dumps(body),
                                 headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


def _http_error(what: str, status: int, data: JsonDict) -> CrossSigningError:
    return CrossSigningError(
        f"{what} failed: HTTP {status} {data.get('errcode', '')} {data.get('error', '')}".rstrip()
    )


async def query_keys(client: nio.AsyncClient, user_ids: Iterable[str]) -> JsonDict:
    """The raw JSON answer of POST /keys/query for all devices of `user_ids`."""
    status, data = await _post(client, "/keys/query", {"device_keys": {u: [] for u in user_ids}})
    if status != 200:
        raise _http_error("/keys/query", status, data)
    return data


async def _upload_signing_keys(
    client: nio.AsyncClient, keys: CrossSigningKeys, password: str
) -> None:
    """Upload the public cross-signing keys, answering user-interactive auth with the password."""
    body = key_objects(client.user_id, keys)
    status, data = await _post(client, "/keys/device_signing/upload", body)
    if status == 401 and "flows" in data:
        # Synapse skips UIA on first setup (MSC3967), so a 401 may mean a master key appeared since
        # we looked: answering it with the password would reset that identity.
        query = await query_keys(client, [client.user_id])
        server_master = master_key_of(query, client.user_id)
        if server_master not in (None, keys.master_public):
            raise CrossSigningError(
                f"{client.user_id} gained another cross-signing identity ({server_master}) "
                "during setup; not overwriting it"
            )
        # Synapse answers 500 when asked to store a cross-signing key it already holds (the
        # hidden "device" row named after the public key exists), so send only the new ones.
        for name in ("master_key", "self_signing_key", "user_signing_key"):
            stored = _dict(_dict(query.get(f"{name}s")).get(client.user_id))
            if stored.get("keys") == body[name]["keys"]:
                del body[name]
        if not any(flow.get("stages") == ["m.login.password"] for flow in data["flows"]):
            raise CrossSigningError(
                f"the homeserver offers no password-only auth for key upload: {data['flows']}"
            )
        body["auth"] = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": client.user_id},
            "password": password,
            "session": data.get("session"),
        }
        status, data = await _post(client, "/keys/device_signing/upload", body)
    if status != 200:
        raise _http_error("uploading the cross-signing keys", status, data)


async def _sign_own_device(
    client: nio.AsyncClient, keys: CrossSigningKeys, query: JsonDict
) -> None:
    """Sign this device with the self-signing key, and the master key with this device (as Element
    does, so the user's other devices can trust the identity through this one)."""
    user_id, device_id = client.user_id, client.device_id
    # Synapse only accepts a signature over exactly the object it stores, so sign its own copy.
    device = {k: v for k, v in query["device_keys"][user_id][device_id].items() if k != "unsigned"}
    signed_device = sign_json(device, user_id, f"ed25519:{keys.self_signing_public}",
                              keys.self_signing)
    # Synapse checks every ed25519 signature on a master key against a device of the user, so
    # send only ours, not signatures by devices that may since have been deleted.
    master = {k: v for k, v in query["master_keys"][user_id].items()
              if k not in ("signatures", "unsigned")}
    master["signatures"] = {user_id: {
        f"ed25519:{device_id}": client.olm.account.sign(_signing_payload(master).decode())
    }}
    status, data = await _post(client, "/keys/signatures/upload", {
        user_id: {device_id: signed_device, keys.master_public: master}
    })
    # Rejected signatures come back in `failures` with HTTP 200.
    if status != 200 or data.get("failures"):
        raise _http_error("uploading the device signatures", status,
                          data if status != 200 else {"error": json.dumps(data["failures"])})


def _check_identity(query: JsonDict, user_id: str, keys: CrossSigningKeys) -> None:
    server_master = master_key_of(query, user_id)
    if server_master != keys.master_public:
        raise CrossSigningError(
            f"the homeserver's cross-signing master key for {user_id} is {server_master}, but the "
            f"key file holds {keys.master_public}: the identity was reset elsewhere, or the key "
            "file belongs to another account. Not touching either; resolve this by hand."
        )
    if _self_signing_key_of(query, user_id) != keys.self_signing_public:
        raise CrossSigningError(
            f"the homeserver's self-signing key for {user_id} is missing, unsigned or not ours"
        )


async def ensure_cross_signed(
    client: nio.AsyncClient, *, password: str, key_file: Path, secret: bytes
) -> CrossSigningStatus:
    """Make sure the logged-in user has a cross-signing identity whose private keys are in
    `key_file` (sealed with `secret`), and that this device is signed by it.

    First start: generate, save, upload. Later starts: check the server still holds the same
    identity and re-sign the device if needed. Never replaces an existing identity: a missing key
    file with an identity on the server, or a different identity on the server, is an error.
    """
    user_id, device_id = client.user_id, client.device_id
    if client.olm is None:
        raise CrossSigningError("the nio client has no encryption (AsyncClientConfig"
                                "(encryption_enabled=True) and a logged-in store are needed)")
    if client.should_upload_keys:
        raise CrossSigningError("the device keys are not uploaded yet: "
                                "await client.keys_upload() before cross-signing")

    query = await query_keys(client, [user_id])
    server_master = master_key_of(query, user_id)
    created = False
    if await asyncio.to_thread(key_file.exists):
        keys = unseal(await asyncio.to_thread(key_file.read_bytes), secret)
    elif server_master is not None:
        raise CrossSigningError(
            f"{user_id} already has a cross-signing identity (master key {server_master}) but the "
            f"key file {key_file} is missing. Creating a new one would reset the identity and "
            "make every user who trusts this bot see it as changed. Restore the key file (with "
            "its secret); resetting the identity is an operator decision, not taken here."
        )
    else:
        keys = CrossSigningKeys.generate()
        # Saved before uploading: a crash in between then leaves a file to retry with, never an
        # identity on the server whose private keys are lost.
        await asyncio.to_thread(write_private, key_file, seal(keys, secret))
        created = True

    if server_master is None:
        # Also reached when a previous run saved the file but died before the upload completed.
        await _upload_signing_keys(client, keys, password)
        query = await query_keys(client, [user_id])
    _check_identity(query, user_id, keys)

    if device_id not in _dict(_dict(query.get("device_keys")).get(user_id)):
        raise CrossSigningError(f"the homeserver has no device keys for {user_id}/{device_id}")
    if not cross_signed_devices(query, user_id)[device_id]:
        await _sign_own_device(client, keys, query)
        query = await query_keys(client, [user_id])
    return CrossSigningStatus(
        master_key=keys.master_public,
        device_signed=cross_signed_devices(query, user_id).get(device_id, False),
        created=created,
    )
