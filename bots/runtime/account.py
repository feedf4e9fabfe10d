"""A bot account's local secrets: its device and access token (login happens once), the nio
store's pickle key and the cross-signing key-file secret. Kept sealed by the vault in the data dir."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from bots.runtime.files import write_private
from bots.runtime.vault import Binding, Vault


@dataclass
class AccountSecrets:
    user_id: str
    pickle_key: str
    cross_signing_secret: str  # hex; seals the cross-signing private keys (crosssigning.seal)
    device_id: str | None = None
    access_token: str | None = None


class AccountFolder:
    """`data_dir/<localpart>/`: nio crypto store, sealed secrets, cross-signing keys, status.

    With an `instance` (one of several bots processes serving the account, docs/SCALING.md),
    the device's own files (crypto store, device ID and token, pickle key, status) are in
    `instances/<instance>/` beneath: each process is its own device, and the cross-signing keys
    and their secret (the account's, in `account.sealed`) are shared, so every device is signed
    by the same identity."""

    def __init__(self, data_dir: Path, user_id: str, vault: Vault,
                 instance: str | None = None) -> None:
        self.user_id = user_id
        self.path = Path(data_dir) / user_id[1:].split(":", 1)[0]
        device = self.path / "instances" / instance if instance else self.path
        device.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.crypto_store = device / "crypto"
        self.crypto_store.mkdir(exist_ok=True, mode=0o700)
        self.cross_signing_file = self.path / "cross-signing.keys"
        self.status_file = device / "status.json"
        self._account_file = self.path / "account.sealed"
        self._secrets_file = device / "account.sealed"
        self._vault = vault
        # Bound to its purpose and account: another account's file (another pickle key and
        # cross-signing secret) does not open here.
        self._binding = Binding("data_dir", "account.sealed", (user_id,))
        self._device_binding = Binding("data_dir", "instance.sealed", (user_id, instance or ""))

    def load(self) -> AccountSecrets:
        account = self._load_or_create(self._account_file, self._binding, None)
        if self._secrets_file == self._account_file:
            return account
        return self._load_or_create(self._secrets_file, self._device_binding,
                                    account.cross_signing_secret)

    def _load_or_create(self, file: Path, binding: Binding,
                        cross_signing_secret: str | None) -> AccountSecrets:
        if file.exists():
            return AccountSecrets(**self._vault.open(file.read_bytes(), binding))
        created = AccountSecrets(user_id=self.user_id, pickle_key=secrets.token_urlsafe(32),
                                 cross_signing_secret=cross_signing_secret or
                                 secrets.token_hex(32))
        write_private(file, self._vault.seal(asdict(created), binding))
        return created

    def save(self, value: AccountSecrets) -> None:
        """This device's secrets (after its login)."""
        binding = self._binding if self._secrets_file == self._account_file \
            else self._device_binding
        write_private(self._secrets_file, self._vault.seal(asdict(value), binding))
