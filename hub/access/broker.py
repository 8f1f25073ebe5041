"""The catalogue on the brokers: SCRAM credentials and ACLs, through confluent-kafka's admin client.

aiokafka has no call for either (AlterUserScramCredentials, KIP-554; Create/Describe/DeleteAcls as calls),
confluent-kafka (librdkafka) has both, so the admin side uses it; every other client of the hub stays on
aiokafka. The admin client runs as the hub admin (``hub.wire.clients.confluent_options``).

* :meth:`Broker.set_password` -- create or replace a principal's SCRAM-SHA-512 credential (8192 rounds);
  the principal's next connection needs it, live connections are re-authenticated within the brokers'
  ``connections.max.reauth.ms``.
* :meth:`Broker.grant` -- add the ALLOW bindings of a principal that are missing (idempotent);
  :meth:`Broker.prune` removes the ones the catalogue no longer lists; :meth:`Broker.revoke` all of them.
* :meth:`Broker.acls` -- what the brokers hold for a principal, as catalogue ``Grant`` values.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from hub.access.catalogue import Grant
from hub.settings import Settings
from hub.wire.clients import confluent_options

ITERATIONS = 8192
TIMEOUT = 30.0
_RESOURCE = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.BROKER}
_PATTERN = {"literal": ResourcePatternType.LITERAL, "prefixed": ResourcePatternType.PREFIXED}


def user(name: str) -> str:
    return f"User:{name}"


def _binding(principal: str, grant: Grant) -> AclBinding:
    return AclBinding(_RESOURCE[grant.resource], grant.name, _PATTERN[grant.pattern], user(principal), "*",
                      AclOperation[grant.operation], AclPermissionType.ALLOW)


def _grant(binding: AclBinding) -> Grant:
    restype, pattern_type, operation = binding.restype, binding.resource_pattern_type, binding.operation
    assert isinstance(restype, ResourceType) and isinstance(pattern_type, ResourcePatternType)
    assert isinstance(operation, AclOperation)
    resource = {v: k for k, v in _RESOURCE.items()}[restype]
    pattern = {v: k for k, v in _PATTERN.items()}[pattern_type]
    return Grant(resource, binding.name, operation.name, pattern)  # type: ignore[arg-type]


class Broker:
    """The brokers' side of access control, as the hub admin."""

    def __init__(self, settings: Settings):
        self.admin = AdminClient({**confluent_options(settings), "client.id": "hub-access"})

    def set_password(self, principal: str, password: str) -> None:
        self.set_passwords({principal: password})

    def set_passwords(self, passwords: dict[str, str]) -> None:
        """Create or replace the SCRAM credentials of several principals in one request."""
        if not passwords:
            return
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, ITERATIONS)
        futures = self.admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(name, info, secret.encode()) for name, secret in passwords.items()],
            request_timeout=TIMEOUT)
        for future in futures.values():
            future.result()

    def remove_password(self, principal: str) -> None:
        futures = self.admin.alter_user_scram_credentials(
            [UserScramCredentialDeletion(principal, ScramMechanism.SCRAM_SHA_512)], request_timeout=TIMEOUT)
        for future in futures.values():
            try:
                future.result()
            except Exception as exc:  # none to delete is fine
                if "RESOURCE_NOT_FOUND" not in str(exc) and "not found" not in str(exc).lower():
                    raise

    def has_password(self, principal: str) -> bool:
        return principal in self.with_password([principal])

    def with_password(self, principals: Iterable[str]) -> set[str]:
        """Those of ``principals`` that have a SCRAM credential on the brokers."""
        found = set()
        answers = self.admin.describe_user_scram_credentials(list(principals), request_timeout=TIMEOUT)
        assert isinstance(answers, dict)  # one future per user when users are named
        for name, future in answers.items():
            try:
                if future.result().scram_credential_infos:
                    found.add(name)
            except Exception:  # RESOURCE_NOT_FOUND: no credential
                continue
        return found

    def acls(self, principal: str) -> set[Grant]:
        """ALLOW bindings the brokers hold for ``principal``."""
        return self.all_acls(principal).get(principal, set())

    def all_acls(self, principal: str | None = None) -> dict[str, set[Grant]]:
        """ALLOW bindings the brokers hold, by principal name (of one principal, or of all)."""
        anyone: Any = None  # librdkafka's filters take None for "any"; its stubs say str
        flt = AclBindingFilter(ResourceType.ANY, anyone, ResourcePatternType.ANY,
                               user(principal) if principal else anyone, anyone, AclOperation.ANY,
                               AclPermissionType.ALLOW)
        out: dict[str, set[Grant]] = {}
        for binding in self.admin.describe_acls(flt, request_timeout=TIMEOUT).result():
            out.setdefault(binding.principal.removeprefix("User:"), set()).add(_grant(binding))
        return out

    def grant(self, principal: str, grants: Iterable[Grant]) -> list[Grant]:
        """Create the bindings of ``grants`` the brokers do not hold yet; returns those created."""
        return self.grant_many({principal: grants}, {principal: self.acls(principal)})[principal]

    def grant_many(self, wanted: dict[str, Iterable[Grant]], held: dict[str, set[Grant]]
                   ) -> dict[str, list[Grant]]:
        """``grant`` for several principals in one request (``held``: what ``all_acls`` found)."""
        missing = {name: sorted(set(grants) - held.get(name, set())) for name, grants in wanted.items()}
        bindings = [_binding(name, g) for name, grants in missing.items() for g in grants]
        if bindings:
            for future in self.admin.create_acls(bindings, request_timeout=TIMEOUT).values():
                future.result()
        return missing

    def _delete(self, principal: str, grants: Iterable[Grant]) -> None:
        filters = [AclBindingFilter(_RESOURCE[g.resource], g.name, _PATTERN[g.pattern], user(principal), "*",
                                    AclOperation[g.operation], AclPermissionType.ALLOW) for g in grants]
        if filters:
            for future in self.admin.delete_acls(filters, request_timeout=TIMEOUT).values():
                future.result()

    def prune(self, principal: str, keep: Iterable[Grant]) -> list[Grant]:
        """Delete the principal's bindings that ``keep`` does not list; returns those deleted."""
        extra = sorted(self.acls(principal) - set(keep))
        self._delete(principal, extra)
        return extra

    def revoke(self, principal: str) -> list[Grant]:
        """Delete every binding and the SCRAM credential of ``principal``."""
        held = sorted(self.acls(principal))
        self._delete(principal, held)
        self.remove_password(principal)
        return held
