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
    """`data_dir/<localpart>/`: nio crypto store, sealed secrets, cross-signing keys, status."""

    def __init__(self, data_dir: Path, user_id: str, vault: Vault) -> None:
        self.user_id = user_id
        self.path = Path(data_dir) / user_id[1:].split(":", 1)[0]
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.crypto_store = self.path / "crypto"
        self.crypto_store.mkdir(exist_ok=True, mode=0o700)
        self.cross_signing_file = self.path / "cross-signing.keys"
        self.status_file = self.path / "status.json"
        self._secrets_file = self.path / "account.sealed"
        self._vault = vault
        # Bound to its purpose and account: another account's file (another pickle key and
        # cross-signing secret) does not open here.
        self._binding = Binding("data_dir", "account.sealed", (user_id,))

    def load(self) -> AccountSecrets:
        if self._secrets_file.exists():
            return AccountSecrets(**self._vault.open(self._secrets_file.read_bytes(),
                                                           self._binding))
        created = AccountSecrets(user_id=self.user_id, pickle_key=secrets.token_urlsafe(32),
                                 cross_signing_secret=secrets.token_hex(32))
        self.save(created)
        return created

    def save(self, value: AccountSecrets) -> None:
        write_private(self._secrets_file, self._vault.seal(asdict(value), self._binding))
