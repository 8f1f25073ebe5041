"""Prometheus metrics, one home for every process (``hub_`` prefix, base units, bounded labels only).

Label values are codes from closed sets (topic names, agency and service codes, reason codes, status
names): never a request id, a NIK or free text.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, Info

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

BUILD = Info("hub_build", "Version of the hub running in this process")

# Worker
EVENTS_IN = Counter("hub_events_in_total", "Records read, per topic", ["topic"])
EVENTS_OUT = Counter("hub_events_out_total", "Records written, per topic and audience", ["topic", "audience"])
EVENTS_ROUTED = Counter("hub_events_routed_total",
                        "Lifecycle events accepted, per intake source (the topic's owner: desk:<node> or "
                        "agency:<code>, never event content), agency and canonical status",
                        ["source", "agency", "status"])
DEAD_LETTERS = Counter("hub_dead_letters_total", "Records sent to the dead-letter topic", ["stage", "reason"])
INTERNAL_ERRORS = Counter("hub_internal_errors_total",
                          "Records that met a bug in the hub (dead-lettered with reason internal_error; the "
                          "log has the traceback)", ["stage"])
DUPLICATES = Counter("hub_duplicates_total", "Events dropped as duplicates (same source and id)", ["stage"])
PROCESSING = Histogram("hub_processing_seconds", "Time to process one record, per stage", ["stage"],
                       buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0))
END_TO_END = Histogram("hub_end_to_end_latency_seconds", "From the event's own time to its fan-out",
                       ["stage"], buckets=LATENCY_BUCKETS)
OPEN_REQUESTS = Gauge("hub_open_requests", "Requests not yet in a terminal state", ["agency", "status"])
SLA_EVENTS = Counter("hub_sla_events_total", "SLA warnings and breaches", ["agency", "service", "kind"])
CONSUMER_LAG = Gauge("hub_consumer_lag", "Records behind the end of the partition", ["topic", "partition"])
LAG_POLLS = Counter("hub_consumer_lag_polls_total", "Consumer-lag polls by outcome (ok, error)", ["outcome"])

# Every process (hub.ops.runtime)
READY = Gauge("hub_ready", "1 when this process is ready for work (the /readyz answer), else 0", ["role"])

# Connectors
PUBLISHED = Counter("hub_connector_published_total", "Events published by a connector", ["connector"])
PUBLISH_FAILED = Counter("hub_connector_failed_total", "Events a connector failed to publish", ["connector"])
OUTBOX_DEPTH = Gauge("hub_connector_outbox_depth", "Events buffered in a connector's outbox", ["connector"])
OUTBOX_OLDEST = Gauge("hub_connector_outbox_oldest_age_seconds", "Age of the oldest buffered event",
                      ["connector"])

# Service mall (hub mall serve): the view of the feed, its live stream and the citizen page
MALL_APPLIED = Counter("hub_mall_records_applied_total", "Records the mall's view applied, per topic",
                       ["topic"])
MALL_DUPLICATES = Counter("hub_mall_duplicates_total", "Feed records the view already held (same ce_source "
                          "and ce_id): the worker's redeliveries")
MALL_SKIPPED = Counter("hub_mall_skipped_total", "Records the view could not read, per topic and reason code",
                       ["topic", "reason"])
MALL_LAG = Gauge("hub_mall_lag_records", "Records between the view and the end of each topic it follows",
                 ["topic"])
MALL_APPLY = Histogram("hub_mall_apply_seconds", "Time to apply one batch to the view (one transaction)",
                       buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
MALL_SSE_CLIENTS = Gauge("hub_mall_sse_clients", "Open live-stream (server-sent events) connections")
MALL_CITIZEN_LOOKUPS = Counter("hub_mall_citizen_lookups_total", "Citizen page look-ups by outcome (found, "
                               "refused: unknown id or wrong second factor, limited: rate limit)",
                               ["outcome"])
# Push delivery (hub deliver; hub.delivery). ``endpoint`` is the endpoint's id (ep_...), never its URL: the
# endpoints are registered by admins, so the set is small and closed; a removed endpoint's series go with it.
DELIVERY_ATTEMPTS = Counter("hub_delivery_attempts_total", "HTTP attempts to agency endpoints, by answer "
                            "class (2xx, 3xx, 4xx, 410, 429, 5xx, timeout, connect, tls, blocked, protocol, "
                            "error)", ["agency", "endpoint", "result"])
DELIVERY_OUTCOMES = Counter("hub_delivery_outcomes_total", "Deliveries by what became of them (delivered, "
                            "exhausted, skipped: endpoint disabled, parked: breaker open or endpoint paused)",
                            ["agency", "endpoint", "outcome"])
DELIVERY_REQUEST = Histogram("hub_delivery_request_seconds", "Duration of one HTTP attempt to an endpoint",
                             ["agency", "endpoint"], buckets=LATENCY_BUCKETS)
DELIVERY_LATENCY = Histogram("hub_delivery_latency_seconds", "From reading a record off its agency topic to "
                             "its delivery (2xx), retries included", ["agency", "endpoint"],
                             buckets=(*LATENCY_BUCKETS, 300.0, 1800.0, 7200.0, 36000.0, 86400.0, 259200.0))
DELIVERY_BACKLOG = Gauge("hub_delivery_backlog", "Unresolved deliveries per endpoint (sending, scheduled, "
                         "held)", ["agency", "endpoint"])
DELIVERY_OLDEST = Gauge("hub_delivery_oldest_pending_age_seconds", "Age of the oldest unresolved delivery "
                        "per endpoint (0: none)", ["agency", "endpoint"])
DELIVERY_BREAKER = Gauge("hub_delivery_breaker_state", "Circuit breaker per endpoint: 0 closed, 1 half-open, "
                         "2 open", ["agency", "endpoint"])
DELIVERY_DISABLED = Gauge("hub_delivery_endpoint_disabled", "1 while an endpoint is disabled (410 Gone, or 5 "
                          "days without a success), 0 otherwise", ["agency", "endpoint"])
DELIVERY_NOTICES = Counter("hub_delivery_notices_total", "Notices to an agency's admins (failing, disabled, "
                           "gone)", ["agency", "kind"])
DELIVERY_UNREADABLE = Counter("hub_delivery_unreadable_total", "Agency-topic records the dispatcher could "
                              "not decode (skipped; the hub's dead letters are upstream)", ["topic"])
