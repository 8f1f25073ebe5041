"""Where the principals' passwords live: one file per principal in a folder only its owner can read.

``hub access`` creates a password the first time a principal is applied (``secrets.token_urlsafe``, 192
bits), replaces it on ``rotate`` and deletes it on ``revoke``. The local stack, the demo and the tests
keep the folder in their state directory; a deployment hands each password to its one process as a
secret (Kubernetes ``Secret``, compose ``secrets:``) and never writes it into a manifest.

Invariants: the folder is 0700 and every file 0600, written atomically (a reader never sees half a
password); a password is never logged or printed unless the operator asks for it (``--show``).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from hub.settings import Settings

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class CredentialStore:
    """``store.password("agency-pln")`` -> the principal's password, created on first use."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _path(self, principal: str) -> Path:
        if not _NAME.fullmatch(principal):
            raise ValueError(f"principal name {principal[:80]!r} is not [a-z0-9._-] (at most 64 characters)")
        return self.folder / f"{principal}.password"

    def exists(self, principal: str) -> bool:
        return self._path(principal).exists()

    def password(self, principal: str) -> str:
        """The principal's password; a new random one is written the first time."""
        path = self._path(principal)
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        return self.set(principal, secrets.token_urlsafe(24))

    def set(self, principal: str, password: str) -> str:
        path = self._path(principal)
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(password)
        os.replace(tmp, path)
        return password

    def rotate(self, principal: str) -> str:
        """A new password for the principal (the old one stops working once applied)."""
        return self.set(principal, secrets.token_urlsafe(24))

    def remove(self, principal: str) -> None:
        self._path(principal).unlink(missing_ok=True)

    def names(self) -> list[str]:
        return sorted(p.name.removesuffix(".password") for p in self.folder.glob("*.password"))

    def settings_for(self, settings: Settings, principal: str) -> Settings:
        """``settings`` as ``principal`` (its name and password from this store)."""
        return settings.as_principal(principal, self.password(principal))


def store_of(settings: Settings) -> CredentialStore:
    """The credential store named by the settings (``HUB_ACCESS_CREDENTIALS_DIR``)."""
    if settings.access_credentials_dir is None:
        raise LookupError("HUB_ACCESS_CREDENTIALS_DIR is not set: `hub access` keeps the principals' "
                          "passwords there (the local stack prints it)")
    return CredentialStore(settings.access_credentials_dir)
