"""The limit, on the same broker and with the same records: raw aiokafka produce -> consume, and a raw
aiokafka pass-through (consume intake, produce each record to ``fanout`` output topics, unchanged) as
the fair comparator for the hub's router (which writes two records per input: agency + feed)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.dev.stack import LocalStack
from hub.settings import REPO_ROOT

from bench.config import Config
from bench.pipeline import log, run_phase


async def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


def produce_consume(stack: LocalStack, cfg: Config, label: str = "raw-produce-consume") -> dict:
    topic = f"bench.{label}.v1"
    asyncio.run(create_topics(stack.bootstrap, [topic], cfg.partitions))
    time.sleep(0.5)  # leaders elected
    procs = {"kafka (JVM)": stack.pids["kafka"]}
    r = asyncio.run(run_phase(stack, topic=topic, kind_of_topic={topic: "out"}, n=cfg.saturation_events,
                              rate=0, processes=procs, drain_timeout=cfg.drain_timeout, name=label))
    return {"label": label, "phases": [r]}


def passthrough(stack: LocalStack, cfg: Config, fanout: int, workdir: Path,
                rates: tuple[int, ...] = ()) -> dict:
    label = f"raw-passthrough-x{fanout}"
    t_in = f"bench.{label}.in.v1"
    outs = [f"bench.{label}.out{i}.v1" for i in range(fanout)]
    asyncio.run(create_topics(stack.bootstrap, [t_in, *outs], cfg.partitions))
    time.sleep(0.5)
    args = {"bootstrap": stack.bootstrap, "in_topic": t_in, "out_topics": outs, "group": f"bench-{label}"}
    logf = open(workdir / f"{label}.log", "ab")
    import subprocess

    proc = subprocess.Popen([sys.executable, "-m", "bench.passthrough", json.dumps(args)], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=logf, start_new_session=True)
    try:
        t0 = time.monotonic()
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if line.strip() != b"READY":
            raise RuntimeError(f"pass-through did not start: {line!r}; see {workdir / (label + '.log')}")
        log(f"{label}: ready in {time.monotonic() - t0:.1f}s")
        procs = {"passthrough": proc.pid, "kafka (JVM)": stack.pids["kafka"]}
        kinds = {t: f"out{i}" for i, t in enumerate(outs)}
        phases = [asyncio.run(run_phase(stack, topic=t_in, kind_of_topic=kinds, n=cfg.saturation_events, rate=0,
                                        processes=procs, drain_timeout=cfg.drain_timeout, name=f"{label} saturation"))]
        for rate in (rates or ()):
            phases.append(asyncio.run(run_phase(stack, topic=t_in, kind_of_topic=kinds, n=int(rate * cfg.fixed_seconds),
                                                rate=rate, processes=procs, drain_timeout=cfg.drain_timeout,
                                                name=f"{label} fixed {rate}/s")))
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {"label": label, "fanout": fanout, "phases": phases}
