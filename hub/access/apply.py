"""``hub access apply|grant|revoke|rotate|list``: make the cluster match the catalogue, as the hub admin.

Each function is idempotent and reports what it changed. The order within a principal is credentials
first (SCRAM on the brokers, the client in the identity provider), then ACLs, then quotas: a principal
never holds rights it cannot yet use, and ``revoke`` removes rights before the credential.

The admin itself (a super user, bootstrapped when the brokers' storage is formatted) is never touched
here; rotating its password is a deployment step (``kafka-storage``/``kafka-configs`` and the identity
provider's console), see ``deploy/README.md``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient

from hub.access import catalogue, quotas
from hub.access.broker import Broker
from hub.access.catalogue import Grant, Principal
from hub.access.credentials import CredentialStore
from hub.access.idp import IdentityProvider
from hub.settings import Settings
from hub.wire.clients import kafka_options


@dataclass
class Applied:
    principal: str
    created_credential: bool = False
    granted: list[Grant] = field(default_factory=list)
    pruned: list[Grant] = field(default_factory=list)
    quota: int | None = None

    def __str__(self) -> str:
        parts = [f"{self.principal}:"]
        if self.created_credential:
            parts.append("credential created;")
        removed = f", {len(self.pruned)} removed" if self.pruned else ""
        parts.append(f"{len(self.granted)} ACLs added{removed}")
        if self.quota:
            parts.append(f"; quota {self.quota} B/s")
        return " ".join(parts)


class Access:
    """The admin's handle on the brokers, the identity provider and the credential store."""

    def __init__(self, settings: Settings, store: CredentialStore):
        self.settings = settings
        self.store = store
        self.broker = Broker(settings)
        self.idp = IdentityProvider(settings) if settings.idp_url else None

    def close(self) -> None:
        if self.idp is not None:
            self.idp.close()

    def __enter__(self) -> Access:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def apply(self, principals: list[Principal] | None = None, *, prune: bool = False) -> list[Applied]:
        """Credentials, ACLs and quotas of every principal of the catalogue (or of ``principals``), in a
        few batched requests. ``prune`` also removes ACLs the catalogue no longer lists for them (leave it
        off on a cluster several hubs share: their grants differ by topic names). The admin is skipped."""
        listed = principals if principals is not None else catalogue.principals(self.settings)
        suspended = self.settings.suspended_principals
        for p in listed:  # suspended: kept revoked, whatever the catalogue says
            if p.name in suspended and not p.super_user and (self.store.exists(p.name)
                                                             or self.broker.has_password(p.name)):
                self.revoke(p)
        chosen = [p for p in listed if not p.super_user and p.name not in suspended]
        names = [p.name for p in chosen]
        done = {name: Applied(name) for name in names}
        fresh = {name for name in names if not self.store.exists(name)}
        stale = fresh | (set(names) - self.broker.with_password(names))
        self.broker.set_passwords({name: self.store.password(name) for name in sorted(stale)})
        if self.idp is not None:
            known = set(self.idp.clients())
            for p in chosen:
                if p.name in stale or p.name not in known:
                    self.idp.ensure_client(p.name, self.store.password(p.name), p.registry_role)
        held = self.broker.all_acls()
        for name, granted in self.broker.grant_many({p.name: p.grants for p in chosen}, held).items():
            done[name].granted = granted
        if prune:
            for p in chosen:
                done[p.name].pruned = self.broker.prune(p.name, p.grants)
        wanted = {p.name: p.quota_bytes for p in chosen if p.quota_bytes}
        if wanted:
            asyncio.run(_set_quotas(self.settings, wanted))
        for p in chosen:
            done[p.name].created_credential = p.name in fresh
            done[p.name].quota = p.quota_bytes
        return [done[name] for name in names]

    def grant(self, principal: Principal, *, prune: bool = False) -> Applied:
        """``apply`` for one principal (the admin: nothing to do)."""
        applied = self.apply([principal], prune=prune)
        return applied[0] if applied else Applied(principal.name)

    def rotate(self, principal: Principal) -> str:
        """A new password, in force on the brokers and the identity provider; returns it."""
        if principal.super_user:
            raise ValueError(f"{principal.name} is the admin: rotate its password as a deployment step")
        password = self.store.rotate(principal.name)
        self.broker.set_password(principal.name, password)
        if self.idp is not None:
            self.idp.ensure_client(principal.name, password, principal.registry_role)
        return password

    def revoke(self, principal: Principal) -> list[Grant]:
        """Remove every right, the credential and the registry client of ``principal``."""
        if principal.super_user:
            raise ValueError(f"{principal.name} is the admin and cannot be revoked")
        removed = self.broker.revoke(principal.name)
        if self.idp is not None:
            self.idp.remove_client(principal.name)
        if principal.quota_bytes:
            asyncio.run(_set_quotas(self.settings, {principal.name: None}))
        self.store.remove(principal.name)
        return removed

    def held(self, principal: Principal) -> tuple[bool, set[Grant]]:
        """(has a credential, ACLs held) for ``principal`` as the brokers see it."""
        return self.broker.has_password(principal.name), self.broker.acls(principal.name)


async def _set_quotas(settings: Settings, values: Mapping[str, int | None]) -> None:
    admin = AIOKafkaAdminClient(request_timeout_ms=settings.admin_request_timeout_ms,
                                **kafka_options(settings))
    await admin.start()
    try:
        for principal, value in values.items():
            await quotas.set_user_quota(admin, principal, value)
    finally:
        await admin.close()
