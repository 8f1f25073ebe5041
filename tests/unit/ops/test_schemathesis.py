"""schemathesis over the operational endpoints (``hub.ops.http``, document ``hub.ops.openapi`` =
``docs/openapi-ops.json``) of a real ops server, ready and not, healthy and failing a check: every answer is
one the document names (status, media type, body), none is a 5xx other than the documented 503s, and
whatever query strings and headers come with a probe change nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from prometheus_client import CollectorRegistry, Counter

from hub.ops.http import OpsApp, OpsServer
from hub.ops.openapi import openapi
from hub.settings import REPO_ROOT

schema = schemathesis.openapi.from_dict(openapi())
# 503 is part of the contract (not ready, a failed check): the status assertion below allows it alone.
EXCLUDED = [schemathesis.checks.not_a_server_error]


@pytest.fixture(scope="module", params=["ready", "starting", "failing"])
def ops_url(request: pytest.FixtureRequest) -> Iterator[str]:
    registry = CollectorRegistry()
    Counter("hub_test_events_total", "test", ["reason"], registry=registry).labels("invalid_content").inc()
    app = OpsApp("worker", registry)
    if request.param == "ready":
        app.set_ready(True, "3 intake partitions recovered")
    if request.param == "failing":
        app.liveness_checks["loop"] = lambda: "event loop stalled"
    server = OpsServer(app, 0, addr="127.0.0.1").start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_the_ops_endpoints_answer_as_documented(case: Any, ops_url: str) -> None:
    response = case.call(base_url=ops_url, timeout=10)
    assert response.status_code < 500 or response.status_code == 503, response.text[:200]
    case.validate_response(response, excluded_checks=EXCLUDED)


def test_the_document_in_docs_is_the_servers() -> None:
    on_disk = json.loads((REPO_ROOT / "docs" / "openapi-ops.json").read_text(encoding="utf-8"))
    assert on_disk == openapi(), "regenerate: python -m hub.ops.openapi > docs/openapi-ops.json"
