"""The limit, on the same broker, with the same records and the same security: raw aiokafka produce ->
consume, and a raw aiokafka pass-through (consume the desk intake topic, produce each record unchanged to
``fanout`` output topics) as the fair comparator for the hub's worker. Both run on a provisioned bench hub
(``bench.hubs``): the load generator as the desk node, the pass-through as ``hub-worker`` in the hub's
consumer group, writing the hub's own output topics, all over SASL_SSL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.config import Config
from bench.hubs import BenchHub
from bench.pipeline import log, run_phase
from hub.access.catalogue import WORKER
from hub.settings import REPO_ROOT


def produce_consume(hub: BenchHub, cfg: Config, n: int, label: str = "raw-produce-consume") -> dict:
    """The load generator into the desk intake topic, the subscriber reading that topic."""
    procs = {"kafka (JVM)": hub.stack.pids["kafka"]}
    r = asyncio.run(run_phase(hub, topic=hub.intake, kind_of_topic={hub.intake: "out"}, n=n, rate=0,
                              processes=procs, drain_timeout=cfg.drain_timeout, name=label))
    return {"label": label, "phases": [r]}


def passthrough_outputs(hub: BenchHub, fanout: int) -> list[str]:
    """``fanout`` of the hub's output topics (the subscribers' ones first), writable by the worker."""
    s = hub.admin
    from hub.core import catalogue

    names = [s.topic_feed, s.topic_notify, s.topic_audit, s.topic_sla,
             *(s.agency_topic(a) for a in catalogue.agencies())]
    if fanout > len(names):
        raise ValueError(f"a pass-through of {fanout} outputs: the hub has {len(names)} output topics")
    return names[:fanout]


def passthrough(hub: BenchHub, cfg: Config, fanout: int, workdir: Path, n: int,
                rates: tuple[int, ...] = ()) -> dict:
    """Saturation (``n`` events) and fixed loads through a raw pass-through writing ``fanout`` records per
    event. The subscriber reads two of its outputs (as it reads agency + feed of the hub), so the broker's
    fetch work is the same as in a hub phase."""
    label = f"raw-passthrough-x{fanout}"
    outs = passthrough_outputs(hub, fanout)
    args = {"in_topic": hub.intake, "out_topics": outs, "group": hub.admin.app_id}
    logf = open(workdir / f"{label}.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "bench.passthrough", json.dumps(args)], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=logf, start_new_session=True,
                            env={**os.environ, **hub.env(WORKER)})
    try:
        t0 = time.monotonic()
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if line.strip() != b"READY":
            raise RuntimeError(f"pass-through did not start: {line!r}; see {workdir / (label + '.log')}")
        log(f"{label}: ready in {time.monotonic() - t0:.1f}s")
        procs = {"passthrough": proc.pid, "kafka (JVM)": hub.stack.pids["kafka"]}
        kinds = {t: f"out{i}" for i, t in enumerate(outs[:2])}
        phases = [asyncio.run(run_phase(hub, topic=hub.intake, kind_of_topic=kinds, n=n, rate=0,
                                        processes=procs, drain_timeout=cfg.drain_timeout,
                                        name=f"{label} saturation"))]
        for rate in rates:
            phases.append(asyncio.run(run_phase(hub, topic=hub.intake, kind_of_topic=kinds,
                                                n=int(rate * cfg.fixed_seconds), rate=rate, processes=procs,
                                                drain_timeout=cfg.drain_timeout,
                                                name=f"{label} fixed {rate}/s")))
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {"label": label, "fanout": fanout, "phases": phases}
