"""The real pipeline: simulated village-desk requests -> the desk node's intake topic -> hub worker(s) (Faust)
-> agency.<code>.v1 + mpp.feed.v1 -> a subscriber; at saturation and at half of it, with one and with two
worker processes (same app_id, all started and ready before any load), on a secured, provisioned bench hub
(``bench.hubs``), running this tree's code or the "before" commit's."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import time
from array import array
from collections.abc import Callable
from pathlib import Path

from bench.common import Subscriber, summary_ms, throughput
from bench.config import Config
from bench.hubs import BenchHub
from bench.procmon import ProcMon
from hub.core import catalogue
from hub.dev.runner import WorkerProcess
from hub.settings import REPO_ROOT
from hub.wire.clients import kafka_options

_phase_ids = itertools.count(1)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def next_phase() -> int:
    return next(_phase_ids)


class BenchWorker(WorkerProcess):
    """A hub worker of a bench hub's code (its folder is the working directory, so ``python -m hub`` imports
    that code); ``wrapper=True`` runs it through bench.worker (uvloop and other variants)."""

    def __init__(self, hub: BenchHub, env: dict[str, str], log_path: Path, *, name: str,
                 wrapper: bool = False):
        super().__init__(env, log_path, name=name)
        self.hub = hub
        self.wrapper = wrapper

    def start(self) -> BenchWorker:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "ab")
        env = dict(self.env)
        if self.wrapper:  # bench.worker lives in this tree: it must be importable beside the hub's code
            env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(REPO_ROOT)) if p)
        args = ["-m", "bench.worker"] if self.wrapper else ["-m", "hub", "worker"]
        self.proc = subprocess.Popen([sys.executable, *args], env=env, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.hub.code.cwd)
        return self

    def wait_for(self, marker: str, timeout: float) -> None:
        super().wait_ready(timeout=timeout, marker=marker)


async def run_phase(hub: BenchHub, *, topic: str, kind_of_topic: dict[str, str], n: int, rate: float,
                    processes: dict[str, int], drain_timeout: float, name: str,
                    on_sending: Callable | None = None, loadgen: dict | None = None) -> dict:
    """One measured phase: the load generator (the desk node's principal) publishes ``n`` stamped events to
    ``topic`` at ``rate`` (0 = as fast as it can); the subscriber (the admin) waits for all of them on the
    output topics."""
    phase = next_phase()
    sub = await Subscriber(kafka_options(hub.admin), kind_of_topic).start()
    loop = asyncio.get_running_loop()
    files = hub.stack.workdir / "phases"
    files.mkdir(exist_ok=True)
    keys_file, times_file = files / f"{phase}.keys", files / f"{phase}.times"
    try:
        args = {"topic": topic, "n": n, "rate": rate, "phase": phase, "keys_file": str(keys_file),
                "times_file": str(times_file), **(loadgen or {})}
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.loadgen", json.dumps(args),
                                                    cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE,
                                                    env={**os.environ, **hub.loadgen_env()})
        assert proc.stdout is not None
        while True:
            line = await proc.stdout.readline()
            if not line:
                raise RuntimeError(f"load generator exited ({await proc.wait()}) before sending")
            if line.strip() == b"SENDING":
                break
        mon = ProcMon({**processes, "loadgen": proc.pid, "bench (subscriber)": os.getpid()}).start()
        extra = await on_sending() if on_sending else None
        index = {k: i for i, k in enumerate(keys_file.read_bytes().split(b"\n"))}
        deadline = loop.create_future()
        collecting = asyncio.create_task(sub.collect(index, deadline=deadline))
        out = await proc.stdout.read()
        await proc.wait()
        gen = json.loads(out.decode().strip().splitlines()[-1])
        deadline.set_result(time.monotonic() + drain_timeout)
        arrivals = await collecting
        extra_result = await extra.stop() if extra is not None else None
        usage = mon.stop()
    finally:
        await sub.stop()
    sent = array("q")
    with open(times_file, "rb") as f:
        sent.fromfile(f, n)
    result = {"name": name, "phase": phase, "offered_eps": rate or "max", "events": n,
              **throughput(arrivals, gen["start_ns"]),
              "latency_ms": {k: summary_ms(v) for k, v in arrivals.latencies(sent).items()},
              "loadgen": gen, "usage": usage}
    if rate:
        result["latency_timeline_ms"] = _timeline(arrivals, sent)
    delivered = max(result["delivered"], 1)
    result["cpu_us_per_event"] = {k: round(v["cpu_s"] / delivered * 1e6, 1)
                                  for k, v in usage["processes"].items()}
    if extra_result is not None:
        result["extra"] = extra_result
    lat = result["latency_ms"]
    worst = max((v.get("p99") or 0) for v in lat.values())
    log(f"  {name}: {result.get('steady_eps')} ev/s steady, {result.get('end_to_end_eps')} ev/s end to end, "
        f"p99 {worst} ms, delivered {result['delivered']}/{n}{'' if result['complete'] else ' INCOMPLETE'}, "
        f"other load {usage['machine']['other_cpu_s']} cpu-s")
    return result


def _timeline(arrivals, sent: array, bucket_ms: int = 250) -> dict:  # type: ignore[no-untyped-def]
    """Worst latency (ms) of the events sent in each ``bucket_ms`` of the phase: shows periodic stalls."""
    arr = arrivals.arrival[arrivals.kinds[0]]
    t0 = min((s for s in sent if s), default=0)
    worst: dict[int, int] = {}
    for a, s in zip(arr, sent, strict=False):
        if a and s:
            b = (s - t0) // (bucket_ms * 1_000_000)
            worst[b] = max(worst.get(b, 0), a - s)
    buckets = range(max(worst, default=-1) + 1)
    return {"bucket_ms": bucket_ms, "worst": [round(worst.get(b, 0) / 1e6) for b in buckets]}


async def end_offsets(kafka: dict, topics: list[str]) -> dict[str, int]:
    """Sum of end offsets per topic (records ever written)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    c = AIOKafkaConsumer(**kafka, group_id=None, enable_auto_commit=False)
    await c.start()
    try:
        await c._client.force_metadata_update()
        parts = [TopicPartition(t, p) for t in topics for p in (c.partitions_for_topic(t) or ())]
        ends = await c.end_offsets(parts) if parts else {}
        out: dict[str, int] = {t: 0 for t in topics}
        for tp, off in ends.items():
            out[tp.topic] += off
        return out
    finally:
        await c.stop()


def kinds_of(hub: BenchHub) -> dict[str, str]:
    """What the subscriber reads of a hub: the agency topics and the MPP feed, like agencies and the mall."""
    s = hub.admin
    return {s.topic_feed: "feed", **{s.agency_topic(a): "agency" for a in catalogue.agencies()}}


def sized(rate: float | None, seconds: float, low: int, high: int) -> int:
    """Events for a phase of about ``seconds`` at ``rate`` events/s, within [low, high]."""
    return int(min(high, max(low, (rate or 0) * seconds)))


def run_hub(hub: BenchHub, cfg: Config, workdir: Path, n_workers: int, *, label: str | None = None,
            env: dict[str, str] | None = None, wrapper: bool = False, profile: bool = False,
            keep_budget: Callable[[float], bool] | None = None, half: bool = True) -> dict:
    """Start ``n_workers`` hub workers on the hub, warm up, probe, then run saturation (sized by the probe to
    last about ``cfg.saturation_seconds``) and, if ``half``, a fixed load at half of the saturation rate
    (sized to ``cfg.fixed_seconds``) for the latency target; ``profile``: then a short saturation phase with
    py-spy attached to the first worker (not used for any ratio). ``keep_budget(seconds)`` says whether a
    phase of that length still fits in the run's budget; a phase that does not is skipped and reported."""
    label = label or hub.label
    workers = [BenchWorker(hub, hub.worker_env(i, workdir, env), workdir / label / f"worker-{i + 1}.log",
                           name=f"hub worker {i + 1}", wrapper=wrapper) for i in range(n_workers)]
    result: dict = {"label": label, "code": hub.code.name, "code_ref": hub.code.ref, "workers": n_workers,
                    "env": env or {}, "wrapper": wrapper, "phases": [], "skipped_phases": []}
    t0 = time.monotonic()
    kinds = kinds_of(hub)
    outputs = hub.outputs()
    admin = kafka_options(hub.admin)
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.wait_ready(timeout=180)
        result["workers_ready_s"] = round(time.monotonic() - t0, 2)
        procs = {w.name: w.proc.pid for w in workers if w.proc}
        procs.update({"kafka (JVM)": hub.stack.pids["kafka"], "registry (JVM)": hub.stack.pids["registry"]})

        def phase(name: str, n: int, rate: float, **kw: object) -> dict:
            return asyncio.run(run_phase(hub, topic=hub.intake, kind_of_topic=kinds, n=n, rate=rate,
                                         processes=procs, drain_timeout=cfg.drain_timeout,
                                         name=f"{label} {name}", **kw))  # type: ignore[arg-type]

        phase("warm-up", cfg.warmup_events, 0)
        rss0 = {w.name: _rss_mib(w.proc.pid) for w in workers if w.proc}
        probe = phase("probe", cfg.probe_events, 0)
        est = probe.get("steady_eps") or probe.get("end_to_end_eps") or 0
        result["probe_eps"] = est
        ingested = cfg.warmup_events + cfg.probe_events
        n = sized(est, cfg.saturation_seconds, cfg.probe_events, cfg.saturation_events)
        before = asyncio.run(end_offsets(admin, outputs))
        sat = phase("saturation", n, 0)
        time.sleep(0.5)
        after = asyncio.run(end_offsets(admin, outputs))
        written = {t: after[t] - before[t] for t in outputs if after[t] - before[t]}
        delivered = max(sat["delivered"], 1)
        sat["records_written_per_event"] = {t: round(c / delivered, 2) for t, c in written.items()}
        sat["records_written_per_event_total"] = round(sum(written.values()) / max(sat["delivered"], 1), 2)
        sat["records_written_total"] = sum(written.values())
        result["phases"].append(sat)
        ingested += n
        eps = sat.get("steady_eps") or sat.get("end_to_end_eps") or est
        todo: list[tuple[str, float, int, bool]] = []
        if half and eps:
            rate = max(50, int(eps * 0.5 // 50 * 50))
            todo.append((f"fixed {rate}/s (0.5 x saturation)", rate, int(rate * cfg.fixed_seconds), False))
        if profile:
            todo.append(("saturation (py-spy attached)", 0, sized(eps, cfg.profile_seconds, 500,
                                                                    cfg.saturation_events), True))
        for name, rate, count, spy in todo:
            seconds = count / max(rate or eps or 1, 1) + 10
            if keep_budget is not None and not keep_budget(seconds):
                result["skipped_phases"].append(name)
                log(f"{label}: skipping '{name}' (out of the run's time budget)")
                continue
            hook = None
            if spy and workers[0].proc:
                from bench.profile import PySpy

                pid = workers[0].proc.pid
                hook = lambda pid=pid: PySpy(pid, workdir / label).start()  # noqa: E731
            r = phase(name, count, rate, on_sending=hook)
            ingested += count
            if "extra" in r:
                result["profile"] = r.pop("extra")
            result["phases"].append(r)
        rss1 = {w.name: _rss_mib(w.proc.pid) for w in workers if w.proc}
        result["open_requests_at_end"] = ingested
        result["worker_rss_mib"] = {"after_warmup": rss0, "at_end": rss1}
        grown = sum(rss1.values()) - sum(rss0.values())
        taken = max(ingested - cfg.warmup_events, 1)
        result["worker_rss_growth_bytes_per_request"] = round(grown * 2**20 / taken)
    finally:
        for w in workers:
            w.stop(timeout=15)
    return result


def _rss_mib(pid: int) -> float:
    import psutil

    try:
        return round(psutil.Process(pid).memory_info().rss / 2**20, 1)
    except psutil.Error:
        return 0.0


async def _copy_changelog(kafka: dict, topic: str, target: int) -> dict:
    """Fill a table's changelog up to ``target`` distinct keys with copies of its own records (new keys,
    same values, same partitions): a table of that size in the engine's real format."""
    from aiokafka import AIOKafkaProducer

    from hub.wire.tail import read_to_end

    latest: dict[tuple[int, bytes], bytes] = {}
    async for m in read_to_end(kafka, topic, max_records=50_000, max_partition_fetch_bytes=8 << 20):
        if m.key is not None:
            latest[(m.partition, m.key)] = m.value
    source = [(p, k, v) for (p, k), v in latest.items() if v is not None]
    have = len(source)
    if not source or target <= have:
        return {"keys_before": have, "keys_after": have, "copied": 0}
    producer = AIOKafkaProducer(**kafka, acks=1, linger_ms=20, max_batch_size=1 << 20,
                                max_request_size=8 << 20)
    await producer.start()
    t0 = time.perf_counter()
    try:
        pending, batches = [], {}
        now_ms = int(time.time() * 1000)  # explicit: Faust's recovery stalls on records without a timestamp
        quoted = source[0][1][:1] == b'"' and source[0][1][-1:] == b'"'  # Faust's JSON key serializer
        for i in range(target - have):
            p, k, v = source[i % have]
            b = batches.get(p) or batches.setdefault(p, producer.create_batch())
            nk = (k[:-1] + b"~%d\"" % i) if quoted else (k + b"~%d" % i)
            if b.append(key=nk, value=v, timestamp=now_ms) is None:
                pending.append(await producer.send_batch(b, topic, partition=p))
                b = batches[p] = producer.create_batch()
                b.append(key=nk, value=v, timestamp=now_ms)
        for p, b in batches.items():
            pending.append(await producer.send_batch(b, topic, partition=p))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return {"keys_before": have, "keys_after": target, "copied": target - have,
            "copy_s": round(time.perf_counter() - t0, 1),
            "value_bytes_mean": round(sum(len(v) for _, _, v in source) / have, 1)}


def _settle(pid: int, limit: float = 60.0) -> float:
    """Wait until the process uses < 20% of a core over a second (after recovery it still rebuilds its
    indexes and collects garbage); returns the seconds waited."""
    import psutil

    t0 = time.monotonic()
    try:
        p = psutil.Process(pid)
        while time.monotonic() - t0 < limit and p.cpu_percent(interval=1.0) > 20:
            pass
    except psutil.Error:
        pass
    return round(time.monotonic() - t0, 1)


def _recovery_progress(log_path: Path) -> dict:
    """The hub's prefill of the table (records, seconds) from the worker's log."""
    import re

    for line in log_path.read_text(errors="replace").splitlines():
        m = re.search(r"table requests: (\d+) changelog records of (\d+) partitions read in ([\d.]+)s", line)
        if m:
            out: dict = {"prefill_records": int(m.group(1)), "prefill_s": float(m.group(3))}
            if out["prefill_s"] > 0:
                out["prefill_records_per_s"] = round(out["prefill_records"] / out["prefill_s"])
            return out
    return {}


def empty_worker_rss(hub: BenchHub, workdir: Path) -> float | None:
    """RSS (MiB) of a worker of this hub's code with an empty table: the floor under memory per request."""
    from bench.hubs import make_hub

    empty = make_hub(hub.stack, f"{hub.label}-empty", partitions=hub.admin.topic_partitions, code=hub.code)
    w = BenchWorker(empty, empty.worker_env(0, workdir), workdir / empty.label / "worker.log",
                    name="empty worker")
    w.start()
    try:
        w.wait_ready(timeout=180)
        _settle(w.proc.pid, 20)  # type: ignore[union-attr]
        return _rss_mib(w.proc.pid)  # type: ignore[union-attr]
    finally:
        w.stop()


def restart_recovery(hub: BenchHub, cfg: Config, workdir: Path, keys: int, *, timeout: float,
                     base_rss_mib: float | None = None) -> dict:
    """Real table recovery: the engine's ``requests`` table filled to ``keys`` entries (copies of its own
    entries), then one worker (re)started on it: time from start to ready (table restored and the SLA timer
    index rebuilt: the worker's readiness), and its RSS afterwards (per open request over
    ``base_rss_mib``)."""
    s0 = hub.admin
    changelog = s0.changelog_topic("requests")
    out: dict = {"code": hub.code.name, "changelog": changelog,
                 **asyncio.run(_copy_changelog(kafka_options(s0), changelog, keys))}
    log(f"{hub.label}: requests changelog filled to {out['keys_after']:,} keys; restarting a worker ...")
    w = BenchWorker(hub, hub.worker_env(9, workdir), workdir / hub.label / "worker-restart.log",
                    name="hub worker (restarted)")
    t0 = time.monotonic()
    w.start()
    try:
        try:
            w.wait_ready(timeout=timeout)  # "readiness: ready": recovered and the timer index rebuilt
            out["ready_s"] = round(time.monotonic() - t0, 1)
        except TimeoutError:
            out["ready_s"] = None
            out["error"] = f"not ready within {timeout:.0f}s"
        out.update(_recovery_progress(w.log_path))
        out["settle_s"] = _settle(w.proc.pid, 30)  # type: ignore[union-attr]
        out["worker_rss_mib"] = _rss_mib(w.proc.pid)  # type: ignore[union-attr]
        if base_rss_mib and out.get("keys_after"):
            out["empty_worker_rss_mib"] = base_rss_mib
            grown = (out["worker_rss_mib"] - base_rss_mib) * 2**20
            out["bytes_per_open_request"] = round(grown / out["keys_after"])
        if out.get("ready_s") and out.get("keys_after"):
            out["ready_1m_extrapolated_s"] = round(out["ready_s"] * 1_000_000 / out["keys_after"], 1)
        log(f"{hub.label}: {out['keys_after']:,} keys ready in {out.get('ready_s')}s; worker RSS "
            f"{out['worker_rss_mib']} MiB ({out.get('bytes_per_open_request')} B per open request)")
    finally:
        w.stop()
    return out
