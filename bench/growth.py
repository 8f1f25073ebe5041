"""Growth of the lifecycle state with open requests (pure core, until the engine's Faust table lands):
memory per open request of hub.core.lifecycle.RequestState values plus their hub.core.sla.DeadlineIndex
entries (warn + due) in a dict, and apply() latency at 10k / 100k / 1M open requests, including the
cost of a full garbage collection over that many objects."""

from __future__ import annotations

import gc
import random
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

import psutil

from bench.common import percentile
from hub.core.lifecycle import RequestState, Status, Transition, apply
from hub.core.sla import DeadlineIndex

# A realistic mix of open requests: most have 1-3 accepted transitions.
OPEN_PATHS = [
    (Status.SUBMITTED,),
    (Status.SUBMITTED, Status.RECEIVED),
    (Status.SUBMITTED, Status.RECEIVED, Status.VERIFIED),
    (Status.SUBMITTED, Status.IN_PROCESS),
    (Status.SUBMITTED, Status.RECEIVED, Status.IN_PROCESS, Status.WAITING_EXTERNAL),
]
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _event_id(i: int, j: int) -> str:
    return f"{i:08x}-0000-4000-8000-{j:012x}"  # uuid-shaped, 36 chars like the connectors' ids


def build_states(n: int, seed: int = 5) -> dict[str, RequestState]:
    """``n`` open requests as the engine would hold them. The first request of each path goes through
    apply() (so the shape is apply()'s); the rest are built with the same constructors, which is the
    same objects at a fraction of the set-up time."""
    rng = random.Random(seed)
    states: dict[str, RequestState] = {}
    minute = timedelta(minutes=1)
    for i in range(n):
        rid = f"SK-3510{rng.randrange(10**6):06d}-{i:011d}"
        at = T0 + timedelta(seconds=rng.randrange(30 * 86400))
        path = OPEN_PATHS[i % len(OPEN_PATHS)]
        history = []
        for j, status in enumerate(path):
            at = at + rng.randrange(1, 600) * minute
            history.append(Transition(_event_id(i, j), status, at, status.value.lower()))
        if i < len(OPEN_PATHS):
            state = None
            for t in history:
                state = apply(state, rid, t).state
        else:
            state = RequestState(rid, history[-1].status, history[-1].occurred_at, tuple(history))
        states[rid] = state  # type: ignore[assignment]
    return states


def build_index(states: dict[str, RequestState]) -> DeadlineIndex:
    index = DeadlineIndex()
    warn, due = timedelta(days=4), timedelta(days=5)
    for rid, state in states.items():
        index.add(rid, "warn", state.updated_at + warn)
        index.add(rid, "due", state.updated_at + due)
    return index


def _apply_latency(states: dict[str, RequestState], index: DeadlineIndex, samples: int) -> dict:
    """Look up, apply one in-order transition, store, move the timers; per-call latency."""
    rng = random.Random(9)
    keys = rng.sample(list(states), min(samples, len(states)))
    lat = []
    clock = time.perf_counter_ns
    for k, rid in enumerate(keys):
        t = Transition(_event_id(10**7 + k, 99), Status.IN_PROCESS, datetime(2026, 6, 1, tzinfo=UTC),
                       "diproses")
        t0 = clock()
        outcome = apply(states.get(rid), rid, t)
        if outcome.accepted:
            states[rid] = outcome.state  # type: ignore[assignment]
            index.add(rid, "warn", t.occurred_at + timedelta(days=4))
            index.add(rid, "due", t.occurred_at + timedelta(days=5))
        lat.append(clock() - t0)
    lat.sort()
    return {"samples": len(lat), **{f"p{q}_us": round(percentile(lat, q) / 1e3, 2) for q in (50, 99)},
            "p999_us": round(percentile(lat, 99.9) / 1e3, 1), "max_us": round(lat[-1] / 1e3, 1),
            "mean_us": round(sum(lat) / len(lat) / 1e3, 2)}


def measure(n: int, *, use_tracemalloc: bool, samples: int = 20_000) -> dict:
    gc.collect()
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    if use_tracemalloc:
        tracemalloc.start()
    t0 = time.perf_counter()
    states = build_states(n)
    traced_states = tracemalloc.get_traced_memory()[0] if use_tracemalloc else 0
    index = build_index(states)
    t2 = time.perf_counter()
    if use_tracemalloc:
        traced = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    rss1 = proc.memory_info().rss
    out: dict = {"open_requests": n, "build_s": round(t2 - t0, 2),
                 "history_mean": round(sum(len(s.history) for s in states.values()) / n, 2),
                 "deadline_entries": len(index),
                 "memory_method": "tracemalloc" if use_tracemalloc else "rss delta"}
    if use_tracemalloc:
        out["bytes_per_request"] = round(traced / n)
        out["bytes_per_request_states"] = round(traced_states / n)
        out["bytes_per_request_deadlines"] = round((traced - traced_states) / n)
    else:
        out["bytes_per_request"] = round((rss1 - rss0) / n)
    sample_state = next(iter(states.values()))
    out["to_dict_json_bytes"] = len(__import__("json").dumps(sample_state.to_dict()))
    out["apply"] = _apply_latency(states, index, samples)
    t0 = time.perf_counter()
    gc.collect()
    out["full_gc_ms"] = round((time.perf_counter() - t0) * 1e3, 1)
    out["gc_tracked_objects"] = len(gc.get_objects())
    del states, index
    gc.collect()
    return out


def growth_bench(sizes: tuple[int, ...], tracemalloc_max: int) -> dict:
    results = [measure(n, use_tracemalloc=n <= tracemalloc_max) for n in sizes]
    return {"note": "pure core (dict of RequestState + DeadlineIndex warn/due); the engine's Faust table "
                    "is not measured here until it exists", "sizes": results}
