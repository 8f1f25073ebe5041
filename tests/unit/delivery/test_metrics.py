"""Push delivery's metrics: the families the issue asks for, labelled by endpoint id (never its URL)."""

from __future__ import annotations

from hub import metrics

FAMILIES = {
    "hub_delivery_attempts": ("counter", {"agency", "endpoint", "result"}),
    "hub_delivery_outcomes": ("counter", {"agency", "endpoint", "outcome"}),
    "hub_delivery_request_seconds": ("histogram", {"agency", "endpoint"}),
    "hub_delivery_latency_seconds": ("histogram", {"agency", "endpoint"}),
    "hub_delivery_backlog": ("gauge", {"agency", "endpoint"}),
    "hub_delivery_oldest_pending_age_seconds": ("gauge", {"agency", "endpoint"}),
    "hub_delivery_breaker_state": ("gauge", {"agency", "endpoint"}),
    "hub_delivery_endpoint_disabled": ("gauge", {"agency", "endpoint"}),
    "hub_delivery_notices": ("counter", {"agency", "kind"}),
}


def test_every_delivery_family_is_declared_with_bounded_labels():
    declared = {m._name: m for m in vars(metrics).values()
                if hasattr(m, "_type") and hasattr(m, "_labelnames")}
    for name, (kind, labels) in FAMILIES.items():
        assert declared[name]._type == kind, name
        assert set(declared[name]._labelnames) == labels, name
        assert "url" not in declared[name]._labelnames
