"""The metric catalogue: every family the operations issue asks for, Prometheus naming, bounded labels."""

from __future__ import annotations

from prometheus_client import REGISTRY, generate_latest

from hub import metrics

# family -> (type, labels it must at least have)
REQUIRED = {
    "hub_events_in": ("counter", {"topic"}),
    "hub_events_out": ("counter", {"topic"}),
    "hub_events_routed": ("counter", {"source", "agency", "status"}),
    "hub_processing_seconds": ("histogram", {"stage"}),
    "hub_end_to_end_latency_seconds": ("histogram", set()),
    "hub_dead_letters": ("counter", {"reason"}),
    "hub_duplicates": ("counter", set()),
    "hub_open_requests": ("gauge", {"agency", "status"}),
    "hub_sla_events": ("counter", {"agency", "service", "kind"}),
    "hub_consumer_lag": ("gauge", {"topic", "partition"}),
    "hub_connector_outbox_depth": ("gauge", {"connector"}),
    "hub_connector_outbox_oldest_age_seconds": ("gauge", {"connector"}),
    "hub_ready": ("gauge", {"role"}),
}
UNBOUNDED = {"request_id", "event_id", "nik", "kk", "kk_number", "name", "phone", "note", "error", "message",
             "id"}


def families() -> dict:
    found = {}
    for value in vars(metrics).values():
        if hasattr(value, "_type") and hasattr(value, "_labelnames"):
            found[value._name] = value
    return found


def test_every_required_family_is_declared_with_its_labels():
    declared = families()
    for name, (kind, labels) in REQUIRED.items():
        assert name in declared, f"{name} is not declared in hub.metrics"
        assert declared[name]._type == kind, name
        assert labels <= set(declared[name]._labelnames), name


def test_naming_and_bounded_labels():
    for name, metric in families().items():
        assert name.startswith("hub_"), name
        assert not (set(metric._labelnames) & UNBOUNDED), f"{name} has an unbounded label"
        if metric._type == "histogram" or "seconds" in name:
            assert name.endswith("_seconds"), name  # base unit in the name
        assert not name.endswith(("_ms", "_milliseconds", "_minutes")), name


def test_every_family_appears_on_metrics():
    text = generate_latest(REGISTRY).decode()
    for name, (kind, _) in REQUIRED.items():
        exposed = f"{name}_total" if kind == "counter" else name  # text format 0.0.4 names counters _total
        assert f"# TYPE {exposed} {kind}" in text, name
        assert f"# HELP {exposed} " in text, name
