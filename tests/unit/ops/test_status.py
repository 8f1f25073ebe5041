"""`hub status`: scrape, rates between scrapes, the rendered view, and the command itself."""

from __future__ import annotations

from click.testing import CliRunner
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from hub.cli.status import status
from hub.dev.stack import free_port
from hub.ops.http import OpsApp, OpsServer
from hub.ops.scrape import Snapshot, parse, quantile_from_buckets, summarise
from hub.ops.status import HOME_CLEAR, render


def exposition(events_in: float, dead: float, lag: tuple[int, int], breaches: float) -> str:
    registry = CollectorRegistry()
    Counter("hub_events_in_total", "", ["topic"], registry=registry).labels("hub.intake.v1").inc(events_in)
    Counter("hub_events_out_total", "", ["topic", "audience"], registry=registry).labels(
        "mpp.feed.v1", "mpp").inc(2 * events_in)
    routed = Counter("hub_events_routed_total", "", ["source", "agency", "status"], registry=registry)
    routed.labels("smart-kampung", "DISPENDUKCAPIL", "SUBMITTED").inc(events_in * 0.75)
    routed.labels("smart-kampung", "PLN", "SUBMITTED").inc(events_in * 0.25)
    Counter("hub_dead_letters_total", "", ["stage", "reason"], registry=registry).labels(
        "intake", "invalid_nik").inc(dead)
    gauge = Gauge("hub_consumer_lag", "", ["topic", "partition"], registry=registry)
    gauge.labels("hub.intake.v1", "0").set(lag[0])
    gauge.labels("hub.intake.v1", "1").set(lag[1])
    sla = Counter("hub_sla_events_total", "", ["agency", "service", "kind"], registry=registry)
    sla.labels("PLN", "PLN_TAMBAH_DAYA", "breach").inc(breaches)
    sla.labels("PLN", "PLN_TAMBAH_DAYA", "warning").inc(7)
    hist = Histogram("hub_end_to_end_latency_seconds", "", ["stage"], buckets=(0.1, 1.0, 10.0),
                     registry=registry)
    for _ in range(int(events_in)):
        hist.labels("fanout").observe(0.5)
    Gauge("hub_ready", "", ["role"], registry=registry).labels("worker").set(1)
    return generate_latest(registry).decode()


def snapshot(at: float, text: str, target: str = "w1") -> Snapshot:
    return Snapshot(at, parse(text, target), {target: True})


def test_rates_come_from_two_scrapes_and_lag_is_not_double_counted():
    before = snapshot(100.0, exposition(100, 2, (5, 5), 0))
    now_w1 = parse(exposition(300, 12, (40, 10), 3), "w1")
    now_w2 = parse(exposition(0, 0, (40, 10), 0), "w2")  # a second worker reports the same group lag
    now = Snapshot(110.0, {**now_w1, **now_w2}, {"w1": True, "w2": True})
    before = Snapshot(100.0, {**before.samples, **parse(exposition(0, 0, (5, 5), 0), "w2")},
                      {"w1": True, "w2": True})
    s = summarise(now, before)
    assert s.window == 10.0
    assert s.in_rate == 20.0 and s.out_rate == 40.0 and s.in_total == 300
    assert s.routed_rate_by_agency == {"DISPENDUKCAPIL": 15.0, "PLN": 5.0}
    assert s.dead_letter_rate == 1.0 and s.dead_letters_by_reason == {"invalid_nik": 12}
    assert s.lag_total == 50 and s.lag_by_partition == {"hub.intake.v1[0]": 40, "hub.intake.v1[1]": 10}
    assert s.sla_by_kind == {"breach": 3, "warning": 14} and s.sla_breaches_by_agency == {"PLN": 3}
    assert 0.1 < s.latency_p95_seconds <= 1.0
    view = render(s)
    assert "in     20.0/s" in view and "BREACHES" in view and "FLOWING" in view and "2/2 up" in view


def test_a_restarted_process_never_gives_negative_rates():
    s = summarise(snapshot(10.0, exposition(5, 0, (0, 0), 0)), snapshot(0.0, exposition(500, 0, (0, 0), 0)))
    assert s.in_rate == 0.0


def test_quantile_from_cumulative_buckets():
    assert quantile_from_buckets({0.1: 0, 1.0: 100, float("inf"): 100}, 0.5) == 0.55
    assert quantile_from_buckets({1.0: 0, float("inf"): 0}, 0.95) is None
    assert quantile_from_buckets({1.0: 10, float("inf"): 20}, 0.95) == 1.0


def test_hub_status_once_against_a_live_endpoint_and_a_dead_one():
    registry = CollectorRegistry()
    Counter("hub_events_in_total", "", ["topic"], registry=registry).labels("hub.intake.v1").inc(42)
    server = OpsServer(OpsApp("worker", registry), 0, addr="127.0.0.1").start()
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        ok = CliRunner().invoke(status, ["--url", url, "--once", "--interval", "0.2", "--no-colour"])
        assert ok.exit_code == 0, ok.output
        assert "targets     1/1 up  OK" in ok.output and "totals in 42" in ok.output
        assert HOME_CLEAR not in ok.output  # --once prints, it does not redraw
        dead = f"http://127.0.0.1:{free_port()}/metrics"
        down = CliRunner().invoke(status, ["--url", url, "--url", dead, "--once", "--interval", "0",
                                           "--no-colour"])
        assert down.exit_code == 1 and "1/2 up  ALERT" in down.output and dead in down.output
    finally:
        server.stop()
