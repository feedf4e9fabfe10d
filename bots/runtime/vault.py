"""Encryption at rest for anything in the bots' database that may carry patient data.

Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`, through MultiFernet so keys rotate:
the first key encrypts, every listed key decrypts, and `rotate()` re-encrypts with the first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class VaultError(RuntimeError):
    pass


class Vault:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise VaultError("at least one data encryption key is required")
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
            self._index_keys = [_index_key(k) for k in keys]
        except (ValueError, TypeError) as exc:
            raise VaultError(
                "a data encryption key is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes; make one with `liaison keygen`)"
            ) from exc

    @staticmethod
    def new_key() -> str:
        return Fernet.generate_key().decode()

    def seal(self, value: Any) -> bytes:
        return self._fernet.encrypt(json.dumps(value, separators=(",", ":")).encode())

    def open(self, token: bytes) -> Any:
        try:
            return json.loads(self._fernet.decrypt(token))
        except InvalidToken as exc:
            raise VaultError("stored data cannot be decrypted with the configured keys") from exc

    def seal_bytes(self, value: bytes) -> bytes:
        """Raw bytes (a whole mail), without the JSON and base64 detour of `seal`."""
        return self._fernet.encrypt(value)

    def open_bytes(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise VaultError("stored data cannot be decrypted with the configured keys") from exc

    def rotate(self, token: bytes) -> bytes:
        return self._fernet.rotate(token)

    # Blind indexes: find a row by a secret value (an INS, identity traits) without storing the
    # value. HMAC under a key derived from each data key; the first key writes, all are tried on
    # lookup, and rotation rewrites them with the first (like `rotate`).

    def index(self, value: str) -> str:
        return self.indexes(value)[0]

    def indexes(self, value: str) -> list[str]:
        return [hmac.new(k, value.encode(), hashlib.sha256).hexdigest()
                for k in self._index_keys]


def _index_key(fernet_key: str) -> bytes:
    raw = base64.urlsafe_b64decode(fernet_key)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"liaison blind index").derive(raw)
