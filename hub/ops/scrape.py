"""Scrape hub ``/metrics`` endpoints and turn two scrapes into an operator's summary (for ``hub status``).

Pure apart from ``scrape``: ``parse`` reads the Prometheus text format, ``summarise`` compares two
snapshots (rates per second between them) into a ``Summary``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

Labels = tuple[tuple[str, str], ...]
BREACH_KINDS = ("breach", "breached")  # hub_sla_events_total{kind}


@dataclass(frozen=True)
class Snapshot:
    """Every sample of one or more targets at one moment: ``{(sample name, labels): value}``."""

    at: float
    samples: dict[tuple[str, Labels], float]
    up: dict[str, bool]  # target URL -> answered

    def select(self, name: str) -> list[tuple[dict[str, str], float]]:
        return [(dict(labels), value) for (n, labels), value in self.samples.items() if n == name]

    def total(self, name: str, **match: str) -> float:
        return sum(v for labels, v in self.select(name) if all(labels.get(k) == m for k, m in match.items()))

    def by(self, name: str, label: str) -> dict[str, float]:
        """Sum of ``name`` per value of ``label``."""
        out: dict[str, float] = defaultdict(float)
        for labels, value in self.select(name):
            out[labels.get(label, "")] += value
        return dict(out)


def parse(text: str, target: str = "") -> dict[tuple[str, Labels], float]:
    """Samples of a Prometheus text exposition; with ``target``, an ``instance`` label is added."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = dict(sample.labels)
            if target:
                labels["instance"] = target
            samples[(sample.name, tuple(sorted(labels.items())))] = float(sample.value)
    return samples


def scrape(urls: Iterable[str], timeout: float = 3.0) -> Snapshot:
    """Fetch every URL (a worker's or connector's ``/metrics``); unreachable targets are marked down."""
    samples: dict[tuple[str, Labels], float] = {}
    up = {}
    with httpx.Client(timeout=timeout) as client:
        for url in urls:
            try:
                response = client.get(url)
                response.raise_for_status()
                samples.update(parse(response.text, url))
                up[url] = True
            except (httpx.HTTPError, ValueError):
                up[url] = False
    return Snapshot(time.time(), samples, up)


@dataclass
class Summary:
    targets: dict[str, bool]
    ready: dict[str, bool]
    window: float
    in_rate: float
    out_rate: float
    in_total: float
    out_total: float
    routed_rate_by_agency: dict[str, float]
    dead_letters_total: float
    dead_letter_rate: float
    dead_letters_by_reason: dict[str, float]
    duplicates_total: float
    lag_total: float
    lag_by_partition: dict[str, float]
    sla_by_kind: dict[str, float]
    sla_breaches_by_agency: dict[str, float]
    open_requests: float
    outbox_depth: float
    outbox_oldest_seconds: float
    latency_p95_seconds: float | None
    notes: list[str] = field(default_factory=list)


def _rate(now: Snapshot, before: Snapshot | None, name: str, window: float, **match: str) -> float:
    if before is None or window <= 0:
        return 0.0
    delta = now.total(name, **match) - before.total(name, **match)
    return max(delta, 0.0) / window  # a restarted process resets its counters: no negative rates


def _rate_by(now: Snapshot, before: Snapshot | None, name: str, label: str, window: float,
             ) -> dict[str, float]:
    if before is None or window <= 0:
        return {}
    old = before.by(name, label)
    return {k: max(v - old.get(k, 0.0), 0.0) / window for k, v in now.by(name, label).items()}


def quantile_from_buckets(buckets: dict[float, float], q: float) -> float | None:
    """``histogram_quantile`` over cumulative ``{upper bound: count}`` buckets (linear within a bucket)."""
    if not buckets:
        return None
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * ((rank - below) / (count - below) if count > below else 1.0)
        lower, below = bound, count
    return lower


def _latency_p95(now: Snapshot, before: Snapshot | None) -> float | None:
    def buckets(snap: Snapshot) -> dict[float, float]:
        out: dict[float, float] = defaultdict(float)
        for labels, value in snap.select("hub_end_to_end_latency_seconds_bucket"):
            out[float(labels["le"])] += value
        return out

    current = buckets(now)
    if before is not None:
        old = buckets(before)
        recent = {le: v - old.get(le, 0.0) for le, v in current.items()}
        if max(recent.values(), default=0) > 0:
            return quantile_from_buckets(recent, 0.95)
    return quantile_from_buckets(current, 0.95)


def summarise(now: Snapshot, before: Snapshot | None = None) -> Summary:
    window = now.at - before.at if before else 0.0
    lag: dict[str, float] = {}
    for labels, value in now.select("hub_consumer_lag"):  # every worker reports the group's lag: take max
        key = f"{labels.get('topic', '?')}[{labels.get('partition', '?')}]"
        lag[key] = max(lag.get(key, 0.0), value)
    ready = {labels.get("instance", "?"): value == 1 for labels, value in now.select("hub_ready")}
    return Summary(
        targets=dict(now.up), ready=ready, window=window,
        in_rate=_rate(now, before, "hub_events_in_total", window),
        out_rate=_rate(now, before, "hub_events_out_total", window),
        in_total=now.total("hub_events_in_total"), out_total=now.total("hub_events_out_total"),
        routed_rate_by_agency=_rate_by(now, before, "hub_events_routed_total", "agency", window),
        dead_letters_total=now.total("hub_dead_letters_total"),
        dead_letter_rate=_rate(now, before, "hub_dead_letters_total", window),
        dead_letters_by_reason=now.by("hub_dead_letters_total", "reason"),
        duplicates_total=now.total("hub_duplicates_total"),
        lag_total=sum(lag.values()), lag_by_partition=lag,
        sla_by_kind=now.by("hub_sla_events_total", "kind"),
        sla_breaches_by_agency={a: v for a, v in _sla_breaches(now).items() if v},
        open_requests=now.total("hub_open_requests"),
        outbox_depth=now.total("hub_connector_outbox_depth"),
        outbox_oldest_seconds=max((v for _, v in now.select("hub_connector_outbox_oldest_age_seconds")),
                                  default=0.0),
        latency_p95_seconds=_latency_p95(now, before),
    )


def _sla_breaches(snap: Snapshot) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for labels, value in snap.select("hub_sla_events_total"):
        if labels.get("kind") in BREACH_KINDS:
            out[labels.get("agency", "?")] += value
    return dict(out)
