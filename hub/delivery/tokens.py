"""Bearer tokens of the delivery admin API: one ``admin`` token, one per agency (only digests kept in memory).

The file (``HUB_DELIVERY_API_TOKENS_FILE``, mode 0600, from a Kubernetes Secret in production) maps a
scope to its token: ``{"admin": "<token>", "pln": "<token>", ...}``. ``admin`` manages every endpoint;
an agency's token manages only that agency's endpoints and sees only their deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

from hub.core import catalogue

ADMIN = "admin"


class ApiTokens:
    def __init__(self, tokens: Mapping[str, str]):
        unknown = set(tokens) - {ADMIN, *catalogue.agencies()}
        if unknown:
            raise ValueError(f"token scopes must be 'admin' or agency codes, not {sorted(unknown)}")
        self._by_digest = {self._digest(token): scope for scope, token in tokens.items() if token}

    @staticmethod
    def _digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def load(cls, path: Path) -> ApiTokens:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    @staticmethod
    def generate(agencies: Iterable[str] | None = None) -> dict[str, str]:
        """Fresh random tokens: admin and one per agency (all of the catalogue by default)."""
        return {scope: secrets.token_urlsafe(32) for scope in (ADMIN, *(agencies or catalogue.agencies()))}

    def scope(self, authorization: str | None) -> str | None:
        """``admin``, an agency code, or None for a missing or unknown token."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        digest = self._digest(authorization[7:].strip())
        for known, scope in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                return scope
        return None
