"""A real Prometheus (fetched without root when not installed) scrapes a real worker; promtool checks
and unit-tests the alert rules. If Prometheus cannot be obtained these tests fail, they never skip."""

from __future__ import annotations

import asyncio
import json
import re
import shutil

import yaml

from hub.connectors.village_desk import VillageDeskConnector
from hub.dev.simulator import village_requests
from hub.dev.stack import free_port
from hub.ops.prometheus_local import LocalPrometheus, promtool
from hub.settings import REPO_ROOT

PROM_DIR = REPO_ROOT / "deploy" / "prometheus"
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "dashboards" / "hub.json"


def test_alert_rules_pass_promtool_check_and_their_unit_tests():
    checked = promtool("check", "rules", str(PROM_DIR / "alerts.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = sum(len(g["rules"]) for g in yaml.safe_load((PROM_DIR / "alerts.yml").read_text())["groups"])
    assert f"SUCCESS: {rules} rules found" in checked.stdout
    tested = promtool("test", "rules", "alerts_test.yml", cwd=PROM_DIR)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_the_compose_prometheus_config_is_valid(tmp_path):
    config = yaml.safe_load((PROM_DIR / "prometheus.yml").read_text())
    shutil.copy(PROM_DIR / "alerts.yml", tmp_path / "alerts.yml")
    config["rule_files"] = [str(tmp_path / "alerts.yml")]  # the container path, here
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def wait_for(fn, what: str, timeout: float = 120.0, step: float = 0.5):  # type: ignore[no-untyped-def]
    import time

    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"gave up waiting for {what}; last answer {last!r}")


def value(result: list[dict]) -> float:
    return float(result[0]["value"][1]) if result else 0.0


async def test_a_real_prometheus_scrapes_a_worker_and_sees_throughput_rise(make_settings, start_worker,
                                                                           tmp_path, as_principal):
    settings = make_settings(metrics_port=free_port())
    start_worker(settings)
    target = f"127.0.0.1:{settings.metrics_port}"
    with LocalPrometheus(tmp_path / "prom", {"hub-worker": [target]},
                         rule_files=[PROM_DIR / "alerts.yml"]) as prom:
        wait_for(lambda: prom.targets_health().get(f"http://{target}/metrics") == "up",
                 "the worker target up")
        total = ('sum(hub_events_in_total{job="hub-worker",'
                 f'topic="{settings.desk_intake_topic("banyuwangi")}"}})')
        routed = f'sum(hub_events_out_total{{job="hub-worker",topic="{settings.topic_feed}"}})'
        events = list(village_requests(120, seed=31))
        seen = []
        for batch in (events[:60], events[60:]):
            async with VillageDeskConnector(as_principal(settings, "desk-banyuwangi")) as desk:
                await desk.submit_many(batch)
            expected = len(batch) + (seen[-1] if seen else 0)
            seen.append(value(await asyncio.to_thread(
                wait_for,
                lambda expected=expected: (
                    [r for r in prom.query(total) if float(r["value"][1]) >= expected] or None),
                f"{total} >= {expected}")))
        assert seen[0] >= 60 and seen[1] > seen[0]  # the throughput series rises
        assert value(prom.query(f"{routed}")) >= 120  # and fans out to the service mall's feed
        rate = ('sum(rate(hub_events_in_total{job="hub-worker",'
                f'topic="{settings.desk_intake_topic("banyuwangi")}"}}[30s]))')
        assert await asyncio.to_thread(wait_for, lambda: value(prom.query(rate)) > 0, f"{rate} > 0")
        assert value(prom.query('up{job="hub-worker"}')) == 1

        # Every dashboard query is valid PromQL for this Prometheus, and the throughput panel has data.
        dashboard = json.loads(DASHBOARD.read_text())
        for panel in dashboard["panels"]:
            for t in panel["targets"]:
                expr = t["expr"].replace("$__rate_interval", "1m")
                expr = re.sub(r'\$\w+', ".*", expr)
                prom.query(expr)  # raises on a syntax error
        [throughput] = [p for p in dashboard["panels"] if p["title"] == "Throughput in / out"]
        assert prom.query(re.sub(r'\$\w+', ".*",
                                 throughput["targets"][0]["expr"].replace("$__rate_interval", "1m")))
