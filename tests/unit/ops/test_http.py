"""The per-process HTTP server: /metrics, /healthz, /readyz on one port."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from hub import metrics
from hub.dev.stack import free_port
from hub.ops import runtime
from hub.ops.http import OpsApp, OpsServer
from hub.settings import Settings


@pytest.fixture
def server():
    registry = CollectorRegistry()
    Counter("hub_test_events_total", "test", registry=registry).inc(3)
    srv = OpsServer(OpsApp("worker", registry), 0, addr="127.0.0.1").start()
    yield srv
    srv.stop()


def get(srv: OpsServer, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{srv.port}{path}", timeout=5)


def test_readiness_follows_the_switch_and_liveness_its_checks(server):
    assert get(server, "/healthz").status_code == 200
    assert get(server, "/readyz").status_code == 503
    server.app.set_ready(True, "partitions assigned")
    assert get(server, "/readyz").json() == {"status": "ready", "role": "worker",
                                             "reason": "partitions assigned"}
    server.app.set_ready(False, "revoked")
    assert get(server, "/readyz").status_code == 503

    server.app.liveness_checks["loop"] = lambda: "event loop stalled for 120s"
    server.app.liveness_checks["broken"] = lambda: 1 / 0
    failed = get(server, "/healthz")
    assert failed.status_code == 503
    assert failed.json()["problems"] == {"loop": "event loop stalled for 120s",
                                         "broken": "check raised ZeroDivisionError"}


def test_metrics_are_served_in_the_prometheus_text_format(server):
    response = get(server, "/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert "hub_test_events_total 3.0" in response.text
    assert get(server, "/nope").status_code == 404


def test_start_process_services_once_per_process_and_mark_ready():
    port = free_port()
    settings = Settings(metrics_port=port)
    runtime.mark_ready(True)  # before start-up: harmless
    try:
        services = runtime.start_services(settings, "connector", json_logs=False)
        again = runtime.start_services(settings, "connector", json_logs=False)
        assert again is services and services.port == port and services.poller is None
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/readyz").status_code == 200  # connectors are ready once started
        runtime.mark_ready(False, "kafka unreachable")
        assert httpx.get(f"{base}/readyz").json()["reason"] == "kafka unreachable"
        assert metrics.READY.labels("connector")._value.get() == 0
        body = httpx.get(f"{base}/metrics").text
        assert 'hub_ready{role="connector"} 0.0' in body and "hub_build_info" in body
    finally:
        runtime.stop_process_services()


def test_an_unknown_role_is_refused():
    with pytest.raises(ValueError, match="role"):
        runtime.start_services(Settings(metrics_port=0), "webhook", json_logs=False)
