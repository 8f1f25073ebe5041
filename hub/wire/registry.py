"""A small client for the Confluent Schema Registry REST API (served by Apicurio, Karapace, Redpanda).

Only what the hub needs: register a schema under a subject (the hub admin only), look up the id of a
registered schema (any principal), look a schema up by id, set and test compatibility. Lookups are cached
for the life of the process: ids are immutable. Authentication is HTTP basic with the principal's client
id and secret (Apicurio exchanges them for a token at its OIDC provider); 401/403 raise
:class:`RegistryDenied`.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Protocol

import httpx

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryError(RuntimeError):
    """The registry refused a request or could not be reached."""

    def __init__(self, message: str, status: int | None = None, body: Any = None):
        super().__init__(message)
        self.status = status
        self.body = body


class SchemaNotFound(RegistryError):
    pass


class RegistryDenied(RegistryError):
    """401 (who are you?) or 403 (not yours to change): a configuration matter, not an outage."""


class Registry(Protocol):
    """What the codec needs of a schema registry: the narrow interface both implementations share."""

    def register(self, subject: str, schema: str) -> int: ...

    def lookup(self, subject: str, schema: str) -> int: ...

    def schema(self, schema_id: int) -> str: ...


class MemoryRegistry:
    """An in-memory :class:`Registry` for unit tests and tools without a registry (like httpx's
    ``MockTransport``): ids are given in order of first registration, one per distinct schema text;
    ``lookup`` of an unregistered subject raises :class:`SchemaNotFound` as the real one does."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._by_id: dict[int, str] = {}
        self._subjects: dict[str, set[int]] = {}

    def register(self, subject: str, schema: str) -> int:
        schema_id = self._ids.setdefault(schema, len(self._ids) + 1)
        self._by_id[schema_id] = schema
        self._subjects.setdefault(subject, set()).add(schema_id)
        return schema_id

    def lookup(self, subject: str, schema: str) -> int:
        schema_id = self._ids.get(schema)
        if schema_id is None or schema_id not in self._subjects.get(subject, ()):
            raise SchemaNotFound(f"schema of subject {subject} is not registered", 404)
        return schema_id

    def schema(self, schema_id: int) -> str:
        try:
            return self._by_id[schema_id]
        except KeyError:
            raise SchemaNotFound(f"schema id {schema_id} is not registered", 404) from None


class SchemaRegistry:
    """Confluent-compatible registry client. ``url`` ends at the API root, e.g. ``.../apis/ccompat/v7``."""

    def __init__(self, url: str, *, timeout: float = 10.0, auth: tuple[str, str] | None = None,
                 verify: str | bool = True):
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout, headers={"Accept": CONTENT_TYPE},
                                  auth=auth, verify=verify)
        self._by_id: dict[int, str] = {}
        self._ids: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = self._http.request(
                method, path, content=None if body is None else json.dumps(body),
                headers={"Content-Type": CONTENT_TYPE} if body is not None else None,
            )
        except httpx.HTTPError as exc:
            raise RegistryError(f"schema registry at {self.url} unreachable: {exc}") from exc
        if response.status_code in (401, 403):
            why = "wrong or missing credentials" if response.status_code == 401 else "not allowed for it"
            raise RegistryDenied(f"{method} {path}: HTTP {response.status_code}: the registry refused this "
                                 f"principal ({why})", response.status_code, response.text)
        if response.status_code == 404:
            raise SchemaNotFound(f"{method} {path}: not found", 404, response.text)
        if response.status_code >= 400:
            raise RegistryError(f"{method} {path}: HTTP {response.status_code}: {response.text}",
                                response.status_code, response.text)
        return response.json() if response.content else None

    def register(self, subject: str, schema: str) -> int:
        """Register (or find) ``schema`` under ``subject``; returns its global id."""
        key = (subject, schema)
        if key in self._ids:
            return self._ids[key]
        answer = self._call("POST", f"/subjects/{subject}/versions",
                            {"schema": schema, "schemaType": "AVRO"})
        schema_id = int(answer["id"])
        with self._lock:
            self._ids[key] = schema_id
            self._by_id[schema_id] = schema
        return schema_id

    def lookup(self, subject: str, schema: str) -> int:
        """The id of ``schema`` already registered under ``subject`` (a read: any principal may ask);
        raises SchemaNotFound when the admin has not registered it (``hub schemas register``)."""
        key = (subject, schema)
        if key in self._ids:
            return self._ids[key]
        try:
            answer = self._call("POST", f"/subjects/{subject}", {"schema": schema, "schemaType": "AVRO"})
        except SchemaNotFound:
            raise SchemaNotFound(f"schema of subject {subject} is not registered: the hub admin registers "
                                 f"every schema (`hub schemas register`)", 404) from None
        schema_id = int(answer["id"])
        with self._lock:
            self._ids[key] = schema_id
            self._by_id[schema_id] = schema
        return schema_id

    def schema(self, schema_id: int) -> str:
        """The schema text for a global id (cached)."""
        cached = self._by_id.get(schema_id)
        if cached is not None:
            return cached
        answer = self._call("GET", f"/schemas/ids/{schema_id}")
        with self._lock:
            self._by_id[schema_id] = answer["schema"]
        return answer["schema"]

    def subjects(self) -> list[str]:
        return list(self._call("GET", "/subjects"))

    def set_compatibility(self, subject: str, level: str) -> None:
        self._call("PUT", f"/config/{subject}", {"compatibility": level})

    def set_global_compatibility(self, level: str) -> None:
        """The registry-wide default, for subjects that writers create later."""
        self._call("PUT", "/config", {"compatibility": level})

    def compatibility(self, subject: str) -> str | None:
        """The subject's compatibility level (the global one if it has none); None if unknown."""
        try:
            answer = self._call("GET", f"/config/{subject}?defaultToGlobal=true")
        except SchemaNotFound:
            return None
        return answer.get("compatibilityLevel") or answer.get("compatibility")

    def versions(self, subject: str) -> list[str]:
        """The schema text of every version of ``subject``, oldest first ([] for an unknown subject)."""
        try:
            numbers = self._call("GET", f"/subjects/{subject}/versions")
        except SchemaNotFound:
            return []
        return [self._call("GET", f"/subjects/{subject}/versions/{n}")["schema"] for n in numbers]

    def is_compatible(self, subject: str, schema: str) -> tuple[bool, list[str]]:
        """Test ``schema`` against the subject's versions under its compatibility level."""
        try:
            answer = self._call("POST", f"/compatibility/subjects/{subject}/versions/latest?verbose=true",
                                {"schema": schema, "schemaType": "AVRO"})
        except SchemaNotFound:
            return True, []
        return bool(answer.get("is_compatible")), list(answer.get("messages") or [])
