"""Encryption at rest for anything in the bots' database that may carry patient data.

A value is sealed with AES-256-GCM (`cryptography`) under a key derived with HKDF from each
configured data key, and **bound to where it is kept**: the table, the column and the row's key
are its associated data (`Binding`), so a value copied into another row, column or table does
not open there (VaultError), it never shows as that row's. Keys rotate: the first key seals,
every listed key opens, and `rotate()` re-seals with the first.

Format: version byte 0x01, 12-byte random nonce, ciphertext and tag. Values sealed before this
format (Fernet tokens, "gAAAA…", not bound) still open wherever they are found; `liaison rekey`
rewrites them bound.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_BOUND = b"\x01"  # format version: AES-256-GCM, bound (a Fernet token starts with b"g")
_NONCE = 12


class VaultError(RuntimeError):
    pass


@dataclass(frozen=True)
class Binding:
    """Where a sealed value is kept: its table, its column and the row's key (values that name
    the row for good: a primary key known before the write, or a unique natural key)."""

    table: str
    column: str
    row: tuple[str | int, ...]

    def __post_init__(self) -> None:
        # A missing part (an ID not yet flushed) would bind every such row alike.
        if not self.row or any(isinstance(part, bool) or not isinstance(part, str | int)
                               for part in self.row):
            raise ValueError(f"a row key is strings and integers, not {self.row!r}")

    def associated_data(self) -> bytes:
        # JSON, so that no choice of parts can spell another binding.
        return json.dumps([self.table, self.column, *self.row], separators=(",", ":")).encode()


class Vault:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise VaultError("at least one data encryption key is required")
        self._keys = list(keys)
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])  # opens the old format
            self._aeads = [AESGCM(_derive(k, b"liaison sealed v1")) for k in keys]
            self._index_keys = [_derive(k, b"liaison blind index") for k in keys]
        except (ValueError, TypeError) as exc:
            raise VaultError(
                "a data encryption key is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes; make one with `liaison keygen`)"
            ) from exc

    @staticmethod
    def new_key() -> str:
        return Fernet.generate_key().decode()

    def seal(self, value: Any, at: Binding) -> bytes:
        return self.seal_bytes(json.dumps(value, separators=(",", ":")).encode(), at)

    def open(self, token: bytes, at: Binding) -> Any:
        return json.loads(self.open_bytes(token, at))

    def seal_bytes(self, value: bytes, at: Binding) -> bytes:
        """Raw bytes (a whole mail), without the JSON detour of `seal`."""
        nonce = secrets.token_bytes(_NONCE)
        return _BOUND + nonce + self._aeads[0].encrypt(nonce, value, at.associated_data())

    def open_bytes(self, token: bytes, at: Binding) -> bytes:
        token = bytes(token)
        if not token.startswith(_BOUND):
            try:
                return self._fernet.decrypt(token)
            except InvalidToken as exc:
                raise VaultError("stored data cannot be decrypted with the configured keys") \
                    from exc
        nonce, sealed = token[1:1 + _NONCE], token[1 + _NONCE:]
        for aead in self._aeads:
            try:
                return aead.decrypt(nonce, sealed, at.associated_data())
            except (InvalidTag, ValueError):
                continue
        # Never says which: a wrong key and a value moved from elsewhere look the same.
        raise VaultError(f"stored data in {at.table}.{at.column} cannot be opened there: "
                         "sealed with another key, or for another place")

    def rotate(self, token: bytes, at: Binding) -> bytes:
        """Re-sealed with the first key, bound (a Fernet token becomes the bound format)."""
        return self.seal_bytes(self.open_bytes(token, at), at)

    # Blind indexes: find a row by a secret value (an INS, identity traits) without storing the
    # value. HMAC under a key derived from each data key; the first key writes, all are tried on
    # lookup, and rotation rewrites them with the first (like `rotate`).

    def index(self, value: str) -> str:
        return self.indexes(value)[0]

    def purpose_key(self, purpose: str) -> bytes:
        """A secret for one purpose (an HMAC key), from the first data key: the same in every
        process of the deployment, unlike a random one."""
        return _derive(self._keys[0], f"liaison {purpose}".encode())

    def indexes(self, value: str) -> list[str]:
        return [hmac.new(k, value.encode(), hashlib.sha256).hexdigest()
                for k in self._index_keys]


def _derive(fernet_key: str, purpose: bytes) -> bytes:
    """A 256-bit key for one purpose from a configured data key (HKDF-SHA256)."""
    raw = base64.urlsafe_b64decode(fernet_key)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(raw)
