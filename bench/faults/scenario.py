"""One scenario of the campaign, start to end: a fresh hub on the stack, its workers, load, the fault
(injected by the scenario's own function while the load runs), the drain, the read-back and the figures.

Every scenario module (``intake``, ``workers``, ``outages``, ``subscriber``, ``cluster``) calls :func:`run`
with an ``inject`` function; ``inject`` returns the faults it caused (:class:`Fault`, with their times) and
may add figures of its own to ``extra``. The verdict lists what broke the campaign's rules:

* a record lost, or a record stalled (never handled) at the end;
* a duplicate that survives deduplication by (ce_source, ce_id);
* a worker that exits on its own (where the brokers stay up);
* the scenario's own criteria (``problems`` appended by ``inject`` or ``judge``).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.faults.accounting import Fate, Wait, account, readback, stall_around
from bench.faults.harness import Hub, Sender, Workers, drain, log, positions
from hub.dev.stack import LocalStack


@dataclass
class Scale:
    """Sizes and times of a run (``quick`` or full)."""

    quick: bool
    partitions: int = 4
    load_rate: float = 20.0  # new requests per second (each followed by its agency's answers)
    fuzz_records: int = 10_000
    fuzz_seconds: float = 60.0
    big: int = 4  # records of each size class near 1 MB
    kills: int = 3
    settle_s: float = 10.0
    takeover_cap_s: float = 90.0
    broker_down_s: float = 10.0
    registry_down_s: float = 30.0
    phase_s: float = 25.0
    drain_quiet_s: float = 20.0
    drain_timeout_s: float = 180.0

    @classmethod
    def of(cls, quick: bool) -> Scale:
        if not quick:
            return cls(quick=False)
        return cls(quick=True, partitions=3, load_rate=10.0, fuzz_records=2_000, fuzz_seconds=15.0, big=1,
                   kills=1, settle_s=5.0, takeover_cap_s=45.0, broker_down_s=5.0, registry_down_s=15.0,
                   phase_s=12.0, drain_quiet_s=20.0, drain_timeout_s=90.0)


@dataclass
class Context:
    stack: LocalStack
    workdir: Path
    scale: Scale
    seed: int = 11
    tag: str = ""  # appended to each hub's name (its topics and group): runs on one stack stay apart


@dataclass
class Fault:
    name: str
    at: float
    until: float | None = None
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass
class Live:
    """What ``inject`` works with while the load runs."""

    ctx: Context
    hub: Hub
    workers: Workers
    load: Sender
    extra: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: (topic, partition, offset) of the records the scenario wrote on purpose (bad ones among them); every
    #: other intake record is the simulator's valid traffic, which must never be dead-lettered
    injected: set[tuple[str, int, int]] = field(default_factory=set)


Inject = Callable[[Live], list[Fault]]
Judge = Callable[[Live, dict[str, Any], list[Fate], list[Wait]], None]


def run(ctx: Context, name: str, description: str, *, inject: Inject, load_seconds: float,
        judge: Judge | None = None, workers: int = 2, crashes_fail: bool = True,
        **hub_overrides: object) -> dict[str, Any]:
    """Run one scenario; returns its figures (see the module doc). ``crashes_fail``: a worker that exits on
    its own fails the scenario (not where the scenario takes the brokers away)."""
    started = time.time()
    hub = Hub(ctx.stack, name + ctx.tag, ctx.workdir, partitions=ctx.scale.partitions, **hub_overrides)
    log(f"{name}: provisioning an isolated hub")
    provisioned = hub.provision()
    crew = hub.workers(workers).start()
    log(f"{name}: {workers} workers ready; load for {load_seconds:.0f}s")
    load = hub.sender("load", seed=ctx.seed, rate=ctx.scale.load_rate, duration=load_seconds).start()
    live = Live(ctx, hub, crew, load)
    faults: list[Fault] = []
    try:
        faults = inject(live)
        live.extra["load"] = load.wait()
        log(f"{name}: load done; draining")
        live.extra["drain"] = drain(hub, quiet=ctx.scale.drain_quiet_s, timeout=ctx.scale.drain_timeout_s)
        live.extra["ready_workers_at_end"] = crew.ready_count()
        live.extra["metrics"] = crew.metrics
    finally:
        load.stop()
        crew.stop()
    end = time.time()
    log(f"{name}: reading the topics back")
    seen = readback(hub.settings, hub.intake)
    committed = {tp: c for tp, (c, _) in asyncio.run(positions(hub.settings, hub.intake)).items()}
    figures, fates, waits = account(seen, committed, end)
    for fault in faults:
        fault.figures["time_without_progress_s"] = round(stall_around(waits, fault.at), 2)
    result: dict[str, Any] = {
        "scenario": name, "description": description, "seconds": round(end - started, 1),
        "provision_s": round(provisioned, 1), "workers": workers, "partitions": ctx.scale.partitions,
        **figures,
        "faults": [{"name": f.name, "at_s": round(f.at - started, 1),
                    **({"for_s": round(f.until - f.at, 1)} if f.until else {}), **f.figures} for f in faults],
        "worker_crashes": [{"worker": c.worker, "at_s": round(c.at - started, 1), "exit_code": c.exit_code,
                            "log": c.last_lines} for c in crew.crashes],
        "readiness_changes": [{"at_s": round(t - started, 1), "worker": w, "ready": r, "reason": why}
                              for t, w, r, why in crew.readiness],
        **live.extra,
    }
    if judge is not None:
        judge(live, result, fates, waits)
    refused = Counter(f.outcome.split(":", 1)[1] for f in fates if f.outcome.startswith("dead:")
                      and (f.record.topic, f.record.partition, f.record.offset) not in live.injected)
    result["valid_traffic_dead_lettered"] = dict(refused.most_common())
    problems = list(live.problems)
    if refused:
        problems.append(f"{sum(refused.values())} records of the simulator's valid traffic dead-lettered: "
                        + ", ".join(f"{reason} {n}" for reason, n in refused.most_common()))
    if result["lost"]:
        problems.append(f"{result['lost']} records lost")
    if result["stalled"]:
        ready = live.extra["ready_workers_at_end"] == workers
        problems.append(f"{result['stalled']} records never handled, stalled at "
                        f"{', '.join(result['stalled_at'][:5])}"
                        + (" while every worker's /readyz answered 200" if ready else ""))
    if result["duplicates_after_dedup"]:
        problems.append(f"{result['duplicates_after_dedup']} duplicates after dedup by (ce_source, ce_id)")
    if crew.crashes and crashes_fail:
        problems.append(f"{len(crew.crashes)} worker crash(es) not caused by the campaign")
    result["problems"] = problems
    result["verdict"] = "pass" if not problems else "fail"
    log(f"{name}: {result['verdict']} ({result['records_in']} in, {result['routed']} routed, "
        f"{result['dead_lettered']} dead-lettered, {result['lost']} lost, {result['stalled']} stalled)")
    return result


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.5) -> float | None:
    """Seconds until ``condition()`` held, or None after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(step)
    return None
