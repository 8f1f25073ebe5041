"""The OpenAPI document of the operational endpoints every hub process serves (``hub.ops.http``): what
Prometheus and an orchestrator's probes may rely on. The server is a plain WSGI app (no framework to
generate the document from), so the document is written here, beside it, and held to the server by a
schemathesis run (``tests/unit/ops/test_schemathesis.py``); ``docs/openapi-ops.json`` is this
document (``python -m hub.ops.openapi > docs/openapi-ops.json``; a test keeps the two equal).
"""

from __future__ import annotations

import json
from typing import Any

_ROLE: dict[str, Any] = {"type": "string", "enum": ["worker", "connector", "cli", "mall"]}
_READY: dict[str, Any] = {"type": "object", "required": ["status", "role", "reason"], "properties": {
    "status": {"type": "string", "enum": ["ready", "not ready"]}, "role": _ROLE,
    "reason": {"type": "string"}}}
_HEALTH: dict[str, Any] = {"type": "object", "required": ["status", "role", "problems"], "properties": {
    "status": {"type": "string", "enum": ["ok", "fail"]}, "role": _ROLE,
    "problems": {"type": "object", "additionalProperties": {"type": "string"}}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _get(summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "operationId": summary.split(":")[0].lower().replace(" ", "_"),
                    "responses": responses}}


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Hub process operations (metrics, liveness, readiness)", "version": "1.0.0"},
    "paths": {
        "/metrics": _get("Metrics: the Prometheus text exposition format", {"200": {
            "description": "every metric of the process (labels from closed sets only)",
            "content": {"text/plain": {"schema": {"type": "string"}}}}}),
        "/healthz": _get("Liveness: 503 when a check of the process fails (restart it)", {
            "200": _json("alive", _HEALTH), "503": _json("a check failed; problems names it", _HEALTH)}),
        "/readyz": _get("Readiness: 200 once the process can do its work", {
            "200": _json("ready (a worker: it owns recovered partitions)", _READY),
            "503": _json("not ready; reason says why", _READY)}),
        "/": _get("Index: the role and the endpoints", {"200": _json("the process", {
            "type": "object", "required": ["role", "endpoints"], "properties": {
                "role": {"type": "string"}, "endpoints": {"type": "array", "items": {"type": "string"}}}})}),
    },
}


def openapi() -> dict[str, Any]:
    return DOCUMENT


if __name__ == "__main__":
    print(json.dumps(DOCUMENT, indent=2))
