"""Prometheus metrics shared by every process (``hub_`` prefix, base units, bounded labels only)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

EVENTS_IN = Counter("hub_events_in_total", "Records read, per topic", ["topic"])
EVENTS_OUT = Counter("hub_events_out_total", "Records written, per topic and audience", ["topic", "audience"])
DEAD_LETTERS = Counter("hub_dead_letters_total", "Records sent to the dead-letter topic", ["stage", "reason"])
PROCESSING = Histogram("hub_processing_seconds", "Time to process one record, per stage", ["stage"],
                       buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0))
PUBLISHED = Counter("hub_connector_published_total", "Events published by a connector", ["connector"])
PUBLISH_FAILED = Counter("hub_connector_failed_total", "Events a connector failed to publish", ["connector"])


def serve(port: int) -> None:
    """Expose /metrics on ``port`` (0 = disabled)."""
    if port:
        start_http_server(port, addr="0.0.0.0")
