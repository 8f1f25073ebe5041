"""A real `hub worker` serves /healthz, /readyz and /metrics (with consumer lag) on its metrics port and
logs JSON lines. Needs the wiring of hub.ops.runtime into `hub worker` (see hub/ops/runtime.py)."""

from __future__ import annotations

import json
import re
import time

import httpx

from hub.dev.stack import free_port


def poll(url: str, ok, timeout: float = 90.0) -> httpx.Response:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = httpx.get(url, timeout=3)
            if ok(last):
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url}: last answer {last and (last.status_code, last.text[:300])}")


async def test_worker_health_readiness_lag_metric_and_json_logs(make_settings, start_worker):
    settings = make_settings(metrics_port=free_port())
    worker = start_worker(settings)
    base = f"http://127.0.0.1:{settings.metrics_port}"
    health = poll(f"{base}/healthz", lambda r: r.status_code in (200, 503, 404))
    # (prometheus_client's bare server answers every path with the metrics: not a health endpoint)
    assert health.status_code == 200 and health.headers["content-type"] == "application/json", (
        "hub worker does not serve /healthz: call hub.ops.runtime.start_process_services(settings, 'worker') "
        "in the `hub worker` command instead of hub.metrics.serve")
    assert health.json()["role"] == "worker"
    ready = poll(f"{base}/readyz", lambda r: r.status_code == 200)  # partitions assigned -> mark_ready(True)
    assert ready.json()["status"] == "ready"
    lag_line = f'hub_consumer_lag{{partition="0",topic="{settings.desk_intake_topic("banyuwangi")}"}}'
    metrics = poll(f"{base}/metrics", lambda r: lag_line in r.text)
    assert 'hub_ready{role="worker"} 1.0' in metrics.text

    # (mode's terminal may prefix a line with a cursor escape: strip ANSI before judging)
    lines = [re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", line) for line in worker.log_path.read_text().splitlines()]
    lines = [line for line in lines if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pass
    assert parsed and any(entry.get("logger", "").startswith("faust") for entry in parsed), \
        "Faust's log is not JSON"
    assert len(parsed) >= 0.9 * len(lines), \
        f"{len(lines) - len(parsed)} of {len(lines)} log lines are not JSON"
