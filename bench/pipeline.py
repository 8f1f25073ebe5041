"""The real pipeline: simulator -> connector-style publisher -> hub.intake.v1 -> hub worker(s) (Faust)
-> agency.<code>.v1 + mpp.feed.v1 -> subscribers; at saturation and at fixed offered loads, with one
and with two worker processes (same app_id, all started and ready before any load)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import time
from array import array
from pathlib import Path

from hub.core import catalogue
from hub.dev.stack import LocalStack, free_port
from hub.dev.runner import WorkerProcess
from hub.settings import REPO_ROOT, Settings
from hub.wire.topics import ensure_topics, topic_specs

from bench.common import Subscriber, summary_ms, throughput
from bench.config import Config
from bench.procmon import ProcMon

_phase_ids = itertools.count(1)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def next_phase() -> int:
    return next(_phase_ids)


class BenchWorker(WorkerProcess):
    """A hub worker; ``wrapper=True`` runs it through bench.worker (uvloop and other variants)."""

    def __init__(self, env: dict[str, str], log_path: Path, *, name: str, wrapper: bool = False):
        super().__init__(env, log_path, name=name)
        self.wrapper = wrapper

    def wait_ready(self, timeout: float = 90.0, marker: str | tuple[str, ...] = ("Ready", "Worker ready")) -> None:
        """Until one of ``marker`` is in the log (Faust's '[^Worker]: Ready' or, with the hub's JSON logs,
        its Recovery service's 'Worker ready')."""
        markers = (marker,) if isinstance(marker, str) else marker
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            if self.log_path.exists():
                text = self.log_path.read_text(errors="replace")
                if any(m in text for m in markers):
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout}s; see {self.log_path}")

    def start(self) -> BenchWorker:
        if not self.wrapper:
            super().start()
            return self
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.worker"], env=self.env, stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, cwd=REPO_ROOT)
        return self


async def run_phase(stack: LocalStack, *, topic: str, kind_of_topic: dict[str, str], n: int, rate: float,
                    processes: dict[str, int], drain_timeout: float, name: str,
                    on_sending=None, loadgen: dict | None = None) -> dict:  # type: ignore[no-untyped-def]
    """One measured phase: the load generator publishes ``n`` stamped events to ``topic`` at ``rate``
    (0 = as fast as it can); the subscriber waits for all of them on the output topics."""
    phase = next_phase()
    sub = await Subscriber(stack.bootstrap, kind_of_topic).start()
    loop = asyncio.get_running_loop()
    files = stack.workdir / "phases"
    files.mkdir(exist_ok=True)
    keys_file, times_file = files / f"{phase}.keys", files / f"{phase}.times"
    try:
        args = {"bootstrap": stack.bootstrap, "registry_url": stack.registry_url, "topic": topic, "n": n,
                "rate": rate, "phase": phase, "keys_file": str(keys_file), "times_file": str(times_file),
                **(loadgen or {})}
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.loadgen", json.dumps(args),
                                                    cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE)
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
    for a, s in zip(arr, sent):
        if a and s:
            b = (s - t0) // (bucket_ms * 1_000_000)
            worst[b] = max(worst.get(b, 0), a - s)
    return {"bucket_ms": bucket_ms, "worst": [round(worst.get(b, 0) / 1e6) for b in range(max(worst, default=-1) + 1)]}


def hub_settings(stack: LocalStack, cfg: Config, workdir: Path, label: str, index: int) -> Settings:
    """Settings of one bench worker: every topic of this configuration is its own (fields that the
    current Settings does not have are left out, so the bench follows the hub as it grows)."""
    wanted = dict(bootstrap_servers=stack.bootstrap, registry_url=stack.registry_url, table_store=cfg.table_store,
                  topic_partitions=cfg.partitions, app_id=f"bench-{label}",
                  topic_intake=f"bench.{label}.hub.intake.v1", topic_feed=f"bench.{label}.mpp.feed.v1",
                  topic_dlq=f"bench.{label}.hub.dlq.v1", topic_agency_template=f"bench.{label}.agency.{{agency}}.v1",
                  topic_lifecycle=f"bench.{label}.hub.lifecycle.v1", topic_notify=f"bench.{label}.citizen.notify.v1",
                  topic_audit=f"bench.{label}.hub.audit.v1", topic_sla=f"bench.{label}.hub.sla.v1",
                  metrics_port=free_port(), worker_data_dir=workdir / label / f"w{index}")
    return Settings(**{k: v for k, v in wanted.items() if k in Settings.model_fields and v is not None})


def output_topics(settings: Settings) -> list[str]:
    return [s.name for s in topic_specs(settings) if s.name != settings.topic_intake]


async def end_offsets(bootstrap: str, topics: list[str]) -> dict[str, int]:
    """Sum of end offsets per topic (records ever written)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
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


async def _warm_up(settings: Settings, n: int, seed: int) -> dict:
    """Real connector path: VillageDeskConnector.submit_many, then wait for every output."""
    from hub.connectors.village_desk import VillageDeskConnector
    from hub.dev.simulator import village_requests

    kinds = {settings.topic_feed: "feed", **{settings.agency_topic(a): "agency" for a in catalogue.agencies()}}
    sub = await Subscriber(settings.bootstrap_servers, kinds).start()
    try:
        events = list(village_requests(n, seed=seed))
        t0 = time.monotonic()
        async with VillageDeskConnector(settings) as desk:
            await desk.submit_many(events)
        published = time.monotonic() - t0
        got = await sub.count_any(2 * n, timeout=120)
        return {"events": n, "connector_publish_s": round(published, 3),
                "connector_eps": round(n / published, 1), "outputs": got, "expected_outputs": 2 * n,
                "all_s": round(time.monotonic() - t0, 3)}
    finally:
        await sub.stop()


def run_hub(stack: LocalStack, cfg: Config, workdir: Path, label: str, n_workers: int, *,
            phases: list[tuple[str, float, int]] | None = None, env: dict[str, str] | None = None,
            wrapper: bool = False, profile: bool = False, rate_from_saturation: bool = True,
            keep_budget=None) -> dict:  # type: ignore[no-untyped-def]
    """Start ``n_workers`` hub workers on a fresh topic set, warm up, then run the phases:
    (name, rate, events); rate 0 is saturation, sized by a short probe so that it lasts about
    cfg.saturation_seconds. A fixed-rate phase offered above the measured capacity is shortened
    (it only shows that the hub cannot sustain it). Phases at 0.5 x the measured saturation are added
    when ``rate_from_saturation`` and cfg.half_saturation. ``result["_ctx"]`` (not saved) lets
    restart_recovery() reuse the configuration's topics afterwards."""
    settings = [hub_settings(stack, cfg, workdir, label, i) for i in range(n_workers)]
    for s in settings:
        s.worker_data_dir.mkdir(parents=True, exist_ok=True)
    s0 = settings[0]
    asyncio.run(ensure_topics(s0, topic_specs(s0)))
    outputs = output_topics(s0)
    envs = [{**s.to_env(), **(env or {})} for s in settings]
    workers = [BenchWorker(e, workdir / label / f"worker-{i + 1}.log", name=f"hub worker {i + 1}", wrapper=wrapper)
               for i, e in enumerate(envs)]
    result: dict = {"label": label, "workers": n_workers, "env": env or {}, "wrapper": wrapper, "phases": []}
    t0 = time.monotonic()
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.wait_ready(timeout=120)
        result["workers_ready_s"] = round(time.monotonic() - t0, 2)
        time.sleep(1.0)
        result["warmup"] = asyncio.run(_warm_up(s0, cfg.warmup_events, seed=9000 + next_phase()))
        log(f"{label}: {n_workers} worker(s) ready in {result['workers_ready_s']}s; warm-up through the "
            f"connector {result['warmup']['connector_eps']} ev/s publish, "
            f"{result['warmup']['outputs']}/{result['warmup']['expected_outputs']} outputs")
        rss0 = {w.name: _rss_mib(w.proc.pid) for w in workers if w.proc}
        procs = {w.name: w.proc.pid for w in workers if w.proc}
        procs.update({"kafka (JVM)": stack.pids["kafka"], "registry (JVM)": stack.pids["registry"]})
        kinds = {s0.topic_feed: "feed", **{s0.agency_topic(a): "agency" for a in catalogue.agencies()}}
        todo = list(phases if phases is not None else
                    [("saturation", 0, cfg.saturation_events)]
                    + [(f"fixed {r}/s", r, int(r * cfg.fixed_seconds)) for r in cfg.fixed_rates])
        sat = None
        ingested = cfg.warmup_events
        while todo:
            if keep_budget is not None and not keep_budget():
                result["skipped_phases"] = [t[0] for t in todo]
                log(f"{label}: out of time budget, skipping {result['skipped_phases']}")
                break
            name, rate, n = todo.pop(0)
            if rate == 0 and sat is None and phases is None and n > cfg.probe_events and cfg.saturation_seconds:
                probe = asyncio.run(run_phase(stack, topic=s0.topic_intake, kind_of_topic=kinds, n=cfg.probe_events,
                                              rate=0, processes=procs, drain_timeout=cfg.drain_timeout,
                                              name=f"{label} probe"))
                ingested += cfg.probe_events
                est = probe.get("end_to_end_eps") or 0
                n = int(min(n, max(cfg.probe_events, est * cfg.saturation_seconds)))
                result["probe_eps"] = est
            if rate and sat and rate > 1.2 * sat:
                n = int(min(n, rate * min(cfg.fixed_seconds, cfg.overload_seconds)))
                name += " (offered > capacity)"
            spy = None
            if profile and rate == 0:
                from bench.profile import PySpy

                profile, pid = False, workers[0].proc.pid  # type: ignore[union-attr]
                spy = lambda: PySpy(pid, workdir / label).start()  # noqa: E731
                name += " (py-spy attached)"
            before = asyncio.run(end_offsets(stack.bootstrap, outputs)) if rate == 0 else None
            r = asyncio.run(run_phase(stack, topic=s0.topic_intake, kind_of_topic=kinds, n=n, rate=rate,
                                      processes=procs, drain_timeout=cfg.drain_timeout, name=f"{label} {name}",
                                      on_sending=spy))
            r["open_requests_before"] = ingested
            ingested += n
            if before is not None:
                time.sleep(0.5)
                after = asyncio.run(end_offsets(stack.bootstrap, outputs))
                written = {t: after[t] - before[t] for t in outputs if after[t] - before[t]}
                r["records_written_per_event"] = {t: round(c / max(r["delivered"], 1), 2) for t, c in written.items()}
                r["records_written_per_event_total"] = round(sum(written.values()) / max(r["delivered"], 1), 2)
            if "extra" in r:
                result["profile"] = r.pop("extra")
            result["phases"].append(r)
            if rate == 0 and sat is None:
                sat = r.get("steady_eps") or r.get("end_to_end_eps")
                if sat and rate_from_saturation and cfg.half_saturation:
                    half = int(sat * 0.5 // 100 * 100) or 100
                    todo.append((f"fixed {half}/s (0.5 x saturation)", half, int(half * cfg.fixed_seconds)))
        rss1 = {w.name: _rss_mib(w.proc.pid) for w in workers if w.proc}
        result["open_requests_at_end"] = ingested
        result["worker_rss_mib"] = {"after_warmup": rss0, "at_end": rss1}
        grown = sum(rss1.values()) - sum(rss0.values())
        result["worker_rss_growth_bytes_per_request"] = round(grown * 2**20 / max(ingested - cfg.warmup_events, 1))
        result["_ctx"] = {"settings": s0, "env": envs[0], "kinds": kinds, "wrapper": wrapper}
    finally:
        for w in workers:
            w.stop(timeout=10)
    return result


def _rss_mib(pid: int) -> float:
    import psutil

    try:
        return round(psutil.Process(pid).memory_info().rss / 2**20, 1)
    except psutil.Error:
        return 0.0


async def _copy_changelog(bootstrap: str, topic: str, target: int) -> dict:
    """Fill a table's changelog up to ``target`` distinct keys with copies of its own records (new keys,
    same values, same partitions): a table of that size in the engine's real format."""
    from aiokafka import AIOKafkaProducer

    from hub.wire.tail import read_to_end

    latest: dict[tuple[int, bytes], bytes] = {}
    async for m in read_to_end(bootstrap, topic, max_records=50_000, max_partition_fetch_bytes=8 << 20):
        if m.key is not None:
            latest[(m.partition, m.key)] = m.value
    source = [(p, k, v) for (p, k), v in latest.items() if v is not None]
    have = len(source)
    if not source or target <= have:
        return {"keys_before": have, "keys_after": have, "copied": 0}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=20, max_batch_size=1 << 20,
                                max_request_size=8 << 20)
    await producer.start()
    t0 = time.perf_counter()
    try:
        pending, batches = [], {}
        now_ms = int(time.time() * 1000)  # an explicit timestamp: Faust's recovery stalls on records without one
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


def _recovery_progress(log_path: Path, keys: int) -> dict:
    """From the worker's recovery log lines: the hub's prefill (records, seconds), when Faust's own reading
    started and ended, the records/s, and the time a 1M-key table would take at that rate."""
    import re
    from datetime import datetime

    start = end = None
    remaining: list[tuple[datetime, int]] = []
    prefill: dict = {}
    for line in log_path.read_text(errors="replace").splitlines():
        ts = re.search(r'"ts": "([^"]+)"', line) or re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+)", line)
        if not ts:
            continue
        try:
            when = datetime.fromisoformat(ts.group(1).replace(",", "."))
        except ValueError:
            continue
        if "Restoring state from changelog topics" in line and start is None:
            start = when
        elif "Done reading from changelog topics" in line and end is None:
            end = when
        elif (m := re.search(r"total remaining=(\d+)", line)):
            remaining.append((when, int(m.group(1))))
        elif (m := re.search(r"table requests: (\d+) changelog records of (\d+) partitions read in ([\d.]+)s", line)):
            prefill = {"prefill_records": int(m.group(1)), "prefill_s": float(m.group(3))}
    out: dict = {}
    if prefill:  # hub.streams.store.PrefilledMemoryStore read the changelog before Faust's recovery
        out.update(prefill)
        if prefill["prefill_s"] > 0:
            out["prefill_records_per_s"] = round(prefill["prefill_records"] / prefill["prefill_s"])
    if start and end:
        secs = (end - start).total_seconds()
        out["changelog_read_s"] = round(secs, 1)
        if secs > 0 and keys:
            out["changelog_read_records_per_s"] = round(keys / secs)
            out["changelog_read_1m_extrapolated_s"] = round(secs * 1_000_000 / keys)
    elif len(remaining) >= 2 and remaining[-1][0] > remaining[0][0]:
        rate = (remaining[0][1] - remaining[-1][1]) / (remaining[-1][0] - remaining[0][0]).total_seconds()
        out["changelog_read_records_per_s"] = round(rate)
        if rate > 0:
            out["changelog_read_1m_extrapolated_s"] = round(1_000_000 / rate)
    return out


def restart_recovery(stack: LocalStack, cfg: Config, workdir: Path, label: str, s0: Settings, env: dict[str, str],
                     keys: int, *, wrapper: bool, kinds: dict[str, str], timeout: float | None = None) -> dict:
    """Real table recovery: the engine's ``requests`` table filled to ``keys`` entries, then one worker
    (re)started on it; time to Faust's 'Recovery complete', RSS afterwards, and latency at a low load."""
    changelog = (s0.changelog_topic("requests") if hasattr(s0, "changelog_topic")
                 else f"{s0.app_id}-requests-changelog")
    names = {s.name for s in topic_specs(s0)}
    if changelog not in names:
        return {"error": f"this hub has no requests table ({changelog} is not in its topic catalogue)"}
    out: dict = {"changelog": changelog, **asyncio.run(_copy_changelog(stack.bootstrap, changelog, keys))}
    log(f"{label}: requests changelog filled to {out['keys_after']:,} keys; restarting a worker ...")
    w = BenchWorker(env, workdir / label / "worker-restart.log", name="hub worker (restarted)", wrapper=wrapper)
    t0 = time.monotonic()
    w.start()
    try:
        try:
            timeout = timeout or cfg.recovery_timeout
            w.wait_ready(timeout=timeout, marker="Recovery complete")
            out["recovery_s"] = round(time.monotonic() - t0, 1)
        except TimeoutError:
            out["recovery_s"] = None
            out["error"] = f"not recovered within {timeout:.0f}s"
            out["worker_rss_mib"] = _rss_mib(w.proc.pid)  # type: ignore[union-attr]
            out.update(_recovery_progress(w.log_path, out.get("keys_after", 0)))
            return out
        out.update(_recovery_progress(w.log_path, out.get("keys_after", 0)))
        try:
            w.wait_ready(timeout=min(120, cfg.recovery_timeout), marker="timer index rebuilt")
            out["recovery_and_index_s"] = round(time.monotonic() - t0, 1)
        except TimeoutError:
            pass
        out["settle_s"] = _settle(w.proc.pid)  # type: ignore[union-attr]
        out["worker_rss_mib"] = _rss_mib(w.proc.pid)  # type: ignore[union-attr]
        if out.get("keys_after") and out.get("recovery_s"):
            total = out.get("recovery_and_index_s") or out["recovery_s"]
            out["restart_1m_extrapolated_s"] = round(total * 1_000_000 / out["keys_after"])
        log(f"{label}: recovered {out['keys_after']:,} keys in {out['recovery_s']}s; worker RSS {out['worker_rss_mib']} MiB")
        procs = {"hub worker (restarted)": w.proc.pid, "kafka (JVM)": stack.pids["kafka"]}  # type: ignore[union-attr]
        rate = cfg.recovered_latency_rate
        out["latency_phase"] = asyncio.run(run_phase(
            stack, topic=s0.topic_intake, kind_of_topic=kinds, n=int(rate * cfg.fixed_seconds), rate=rate,
            processes=procs, drain_timeout=cfg.drain_timeout,
            name=f"{label} fixed {rate}/s with {out['keys_after']:,} open requests"))
        out["worker_rss_after_latency_mib"] = _rss_mib(w.proc.pid)  # type: ignore[union-attr]
    finally:
        w.stop()
    return out
