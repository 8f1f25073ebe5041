"""Who may see what in the mall service: staff tokens, sign-in sessions, roles and their scope.

Roles (``Role``):

* ``counter`` -- counter staff. With an ``agency`` (an agency's own counter) they see that agency's requests;
  without one (the information desk) every agency's.
* ``liaison`` -- an agency's liaison officer: always scoped to the agency.
* ``manager`` -- the mall's managers: everything, and the only role that reads disclosures ("who received my
  data") and breach scopes.

A scoped principal sees only rows, summaries and stream events of its agency: a list asking for another
agency is refused (403 naming ``agency``), another agency's request is "not found" (404: no existence leak).

Credentials: the staff file (``HUB_MALL_TOKENS_FILE``) holds SHA-256 digests of random bearer tokens, never
the tokens (``hub mall token`` adds one and prints it once). The dashboard signs in once with its token and
then holds an HttpOnly, SameSite=Strict session cookie (in memory, ``HUB_MALL_SESSION_MINUTES``; a restart
signs everyone out), because a browser's EventSource cannot send an Authorization header.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

__all__ = ["Principal", "Role", "Sessions", "StaffDirectory", "digest"]

SESSION_COOKIE = "mall_session"
MAX_SESSIONS = 10_000


class Role(StrEnum):
    COUNTER = "counter"
    LIAISON = "liaison"
    MANAGER = "manager"


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role
    agency: str | None = None  # the scope: None = the whole mall

    @property
    def manager(self) -> bool:
        return self.role is Role.MANAGER


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class StaffDirectory:
    """Bearer tokens (by digest) to principals."""

    def __init__(self, entries: list[dict[str, Any]] | None = None):
        self._by_digest: dict[str, Principal] = {}
        for entry in entries or []:
            role = Role(entry["role"])
            agency = entry.get("agency") or None
            if role is Role.LIAISON and not agency:
                raise ValueError(f"staff {entry.get('name')!r}: a liaison needs an agency")
            if role is Role.MANAGER:
                agency = None
            self._by_digest[entry["token_sha256"]] = Principal(str(entry["name"]), role, agency)

    @classmethod
    def load(cls, path: Path | None) -> StaffDirectory:
        if path is None or not Path(path).exists():
            return cls()
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def principal(self, token: str | None) -> Principal | None:
        if not token:
            return None
        return self._by_digest.get(digest(token.strip()))

    def __len__(self) -> int:
        return len(self._by_digest)

    @staticmethod
    def add(path: Path, name: str, role: Role, agency: str | None = None) -> str:
        """Add a member of staff to the file (created with mode 0600); returns the new token (shown once)."""
        token = secrets.token_urlsafe(24)
        path = Path(path)
        entries = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
        entries = [e for e in entries if e.get("name") != name]
        entries.append({"name": name, "role": role.value, "agency": agency, "token_sha256": digest(token)})
        path.write_text(json.dumps(entries, indent=1), encoding="utf-8")
        path.chmod(0o600)
        return token


class Sessions:
    """Sign-in sessions: random ids to (principal, expiry), in memory."""

    def __init__(self, minutes: int = 480, clock: Any = time.monotonic):
        self.ttl = minutes * 60.0
        self.clock = clock
        self._by_id: dict[str, tuple[Principal, float]] = {}

    def create(self, principal: Principal) -> str:
        now = self.clock()
        if len(self._by_id) >= MAX_SESSIONS:
            self._by_id = {k: v for k, v in self._by_id.items() if v[1] > now}
            while len(self._by_id) >= MAX_SESSIONS:
                self._by_id.pop(next(iter(self._by_id)))
        sid = secrets.token_urlsafe(32)
        self._by_id[sid] = (principal, now + self.ttl)
        return sid

    def get(self, sid: str | None) -> Principal | None:
        if not sid:
            return None
        found = self._by_id.get(sid)
        if found is None:
            return None
        if found[1] <= self.clock():
            self._by_id.pop(sid, None)
            return None
        return found[0]

    def drop(self, sid: str | None) -> None:
        if sid:
            self._by_id.pop(sid, None)

    @staticmethod
    def describe(principal: Principal) -> dict[str, Any]:
        out = asdict(principal)
        out["role"] = principal.role.value
        return out
