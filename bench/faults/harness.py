"""What every scenario of the campaign runs on: an isolated hub on a running stack, its supervised workers,
its traffic senders, and the wait until it has drained.

* :class:`Hub` -- own topic names and consumer group on the stack (like the tests' ``make_settings``),
  provisioned by the admin as a deployment is (topics, schemas, ACLs); two village-desk nodes, so that a
  desk writing for a village of the other node is an impersonation to refuse.
* :class:`Workers` -- ``hub worker`` processes as ``hub-worker``, each with its own data folder and ops port,
  kept running like an orchestrator would: a worker that exits on its own is a *crash* (recorded with the
  end of its log) and is started again after :data:`RESTART_DELAY`; :meth:`Workers.kill` is the campaign's
  own ``kill -9`` (no restart until :meth:`Workers.revive`). ``/readyz`` of each is polled once a second,
  ``/metrics`` every :data:`METRICS_EVERY` seconds (the largest page, and every label value that looks like
  an id or a NIK: a restarted worker starts a fresh page, so it is watched all along).
* :class:`Sender` -- a ``bench.faults.sender`` process (``load`` or ``fuzz``).
* :func:`drain` -- until the group's committed offsets reach the intake topics' ends, or stop moving.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from hub.access.catalogue import ADMIN, WORKER
from hub.dev.provision import provision
from hub.dev.runner import WorkerProcess
from hub.dev.stack import LocalStack, free_port
from hub.settings import REPO_ROOT, Settings
from hub.wire.clients import kafka_options
from hub.wire.tail import partitions
from hub.wire.topics import intake_topics

LABEL = re.compile(r'="([^"]*)"')
ID_LIKE = re.compile(r"\d{12}")  # a NIK, a phone or an id in a label value: content, not a closed set
METRICS_EVERY = 5.0  # seconds between scrapes of each worker's /metrics
RESTART_DELAY = 2.0  # an orchestrator's back-off before it starts a crashed worker again
MAX_RESTARTS = 6  # per worker and scenario: then it is left down (a crash loop), and reported
STOP_TIMEOUT = 15.0  # SIGTERM, then SIGKILL
READY_TIMEOUT = 180.0
POLL = 0.5
#: Two village-desk nodes: the west of the regency (kecamatan 01-12) and the east (13-25).
DESK_NODES = "barat:35.10.0|35.10.10|35.10.11|35.10.12,timur:35.10.13|35.10.14|35.10.15|35.10.16|35.10.17|" \
             "35.10.18|35.10.19|35.10.2"


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


class Hub:
    """An isolated, provisioned hub named ``name`` on ``stack`` (the admin's settings in :attr:`settings`)."""

    def __init__(self, stack: LocalStack, name: str, workdir: Path, *, partitions: int, **overrides: object):
        self.stack = stack
        self.name = name
        self.workdir = Path(workdir) / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        n = name.replace("_", "-")
        values: dict[str, object] = dict(
            topic_partitions=partitions, metrics_port=0, app_id=f"faults-{n}", desk_nodes=DESK_NODES,
            topic_intake_desk=f"{n}.intake.desa.{{node}}.v1",
            topic_intake_agency=f"{n}.intake.agency.{{agency}}.v1", topic_feed=f"{n}.mpp.feed.v1",
            topic_dlq=f"{n}.hub.dlq.v1", topic_lifecycle=f"{n}.hub.lifecycle.v1",
            topic_notify=f"{n}.citizen.notify.v1", topic_audit=f"{n}.hub.audit.v1",
            topic_sla=f"{n}.hub.sla.v1",
            topic_agency_template=f"{n}.agency.{{agency}}.v1", worker_data_dir=self.workdir / "worker",
            citizen_ref_key="fault-campaign-key")
        values.update(overrides)
        self.settings = stack.settings(ADMIN, **values)

    def provision(self) -> float:
        started = time.monotonic()
        provision(self.settings)
        return time.monotonic() - started

    @property
    def intake(self) -> list[str]:
        return intake_topics(self.settings)

    def workers(self, count: int) -> Workers:
        return Workers(self, count)

    def sender(self, mode: str, **args: Any) -> Sender:
        return Sender(self, mode, args)


def _instance_env(settings: Settings, slot: str) -> dict[str, str]:
    """Static group membership, where the hub has a setting for it: a stable instance id per worker slot
    (a restarted worker takes its place back). Named by whatever field of Settings speaks of it."""
    for name in Settings.model_fields:
        if "instance" in name and ("group" in name or "worker" in name):
            return {f"HUB_{name.upper()}": f"{settings.app_id}-{slot}"}
    return {}


@dataclass
class Slot:
    name: str
    port: int
    process: WorkerProcess | None = None
    killed: bool = False  # by the campaign: not restarted until revived
    restarts: int = 0
    spawned: int = 0
    down_since: float | None = None


@dataclass
class Crash:
    worker: str
    at: float
    exit_code: int | None
    last_lines: list[str] = field(default_factory=list)


class Workers:
    """``count`` supervised workers of ``hub`` (see the module doc)."""

    def __init__(self, hub: Hub, count: int):
        self.hub = hub
        self.slots = [Slot(f"w{i}", free_port()) for i in range(count)]
        self.crashes: list[Crash] = []
        self.kills: list[tuple[str, float]] = []
        self.readiness: list[tuple[float, str, bool, str]] = []  # (time, worker, ready, reason) on change
        self._ready: dict[str, bool] = {}
        self.metrics: dict[str, dict[str, Any]] = {}  # per worker: largest page, id-like label values seen
        self._scraped = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _spawn(self, slot: Slot) -> WorkerProcess:
        base = self.hub.stack.credentials.settings_for(self.hub.settings, WORKER)
        env = {**base.to_env(), "HUB_WORKER_DATA_DIR": str(self.hub.workdir / f"data-{slot.name}"),
               "HUB_METRICS_PORT": str(slot.port), **_instance_env(base, slot.name)}
        slot.spawned += 1  # a log per process: readiness is read from the log
        log_path = self.hub.workdir / f"{slot.name}-{slot.spawned}.log"
        return WorkerProcess(env, log_path, name=f"{self.hub.name}/{slot.name}").start()

    def start(self, timeout: float = READY_TIMEOUT) -> Workers:
        for slot in self.slots:
            slot.process = self._spawn(slot)
        for slot in self.slots:
            assert slot.process
            slot.process.wait_ready(timeout)
        self._thread.start()
        return self

    def ready_count(self) -> int:
        return sum(1 for ready in self._ready.values() if ready)

    def kill(self, slot: Slot) -> float:
        """SIGKILL the worker (the campaign's kill -9); it stays down until :meth:`revive`."""
        with self._lock:
            slot.killed = True
            at = time.time()
            if slot.process and slot.process.proc:
                os.killpg(slot.process.proc.pid, signal.SIGKILL)
                slot.process.proc.wait(10)
            self.kills.append((slot.name, at))
        return at

    def revive(self, slot: Slot, timeout: float = READY_TIMEOUT) -> None:
        with self._lock:
            slot.killed = False
            slot.process = self._spawn(slot)
        slot.process.wait_ready(timeout)

    def _watch(self) -> None:
        while not self._stop.wait(POLL):
            with self._lock:
                for slot in self.slots:
                    self._check(slot)
            self._poll_ready()
            if time.monotonic() - self._scraped >= METRICS_EVERY:
                self._scraped = time.monotonic()
                self._scrape_metrics()

    def _check(self, slot: Slot) -> None:
        proc = slot.process.proc if slot.process else None
        if slot.killed or proc is None:
            return
        code = proc.poll()
        if code is None:
            slot.down_since = None
            return
        now = time.time()
        if slot.down_since is None:  # it ended on its own: a crash
            slot.down_since = now
            assert slot.process
            self.crashes.append(Crash(slot.name, now, code, _last_lines(slot.process.log_path)))
            log(f"  {self.hub.name}/{slot.name} exited with {code}")
        if now - slot.down_since >= RESTART_DELAY and slot.restarts < MAX_RESTARTS:
            slot.restarts += 1
            slot.process = self._spawn(slot)
            slot.down_since = None

    def _poll_ready(self) -> None:
        for slot in self.slots:
            try:
                answer = httpx.get(f"http://127.0.0.1:{slot.port}/readyz", timeout=1.0)
                ready, reason = answer.status_code == 200, str(answer.json().get("reason", ""))[:120]
            except (httpx.HTTPError, ValueError):
                ready, reason = False, "no answer"
            if self._ready.get(slot.name) != ready:
                self._ready[slot.name] = ready
                self.readiness.append((time.time(), slot.name, ready, reason))

    def _scrape_metrics(self) -> None:
        for slot in self.slots:
            try:
                text = httpx.get(f"http://127.0.0.1:{slot.port}/metrics", timeout=5).text
            except httpx.HTTPError:
                continue
            series = [line for line in text.splitlines() if line and not line.startswith("#")]
            page = self.metrics.setdefault(slot.name, {"bytes": 0, "series": 0, "id_like_label_values": []})
            page["bytes"] = max(page["bytes"], len(text.encode()))
            page["series"] = max(page["series"], len(series))
            found = {v[:40] for line in series for v in LABEL.findall(line) if ID_LIKE.search(v)}
            page["id_like_label_values"] = sorted(set(page["id_like_label_values"]) | found)[:10]

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._scrape_metrics()
        for slot in self.slots:
            if slot.process:
                slot.process.stop(STOP_TIMEOUT)


def _last_lines(path: Path, n: int = 3) -> list[str]:
    """The last error lines of a worker's log (JSON lines: their message; cut to 300 characters)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    picked = [line for line in lines if "rror" in line or "Traceback" in line or "Exception" in line][-n:]
    out = []
    for line in picked or lines[-n:]:
        try:
            data = json.loads(line)
            message = data.get("message", data.get("msg", ""))
            line = f"{data.get('level', '')} {message} {data.get('exc_info', '')}"
        except (ValueError, AttributeError):
            pass
        out.append(line.strip()[:300])
    return out


class Sender:
    """A ``bench.faults.sender`` process for ``hub`` (the admin's settings; records as their principals)."""

    def __init__(self, hub: Hub, mode: str, args: dict[str, Any]):
        self.hub = hub
        self.mode = mode
        self.summary_path = hub.workdir / f"{mode}-{id(self)}.summary.json"
        self.args = {**args, "summary": str(self.summary_path)}
        self.proc: subprocess.Popen[str] | None = None
        self.started_at: float | None = None

    def start(self) -> Sender:
        env = {**os.environ, **self.hub.settings.to_env(), "PYTHONPATH": str(REPO_ROOT)}
        if self.mode == "fuzz":
            env["AIOKAFKA_NO_EXTENSIONS"] = "1"  # the pure-Python record builder (bench.faults.poison.RawKey)
        log_file = open(self.hub.workdir / f"sender-{self.mode}.log", "a")
        command = [sys.executable, "-m", "bench.faults.sender", self.mode, json.dumps(self.args)]
        self.proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=log_file, text=True,
                                     start_new_session=True)
        assert self.proc.stdout
        for line in self.proc.stdout:
            if line.startswith("SENDING"):
                self.started_at = time.time()
                break
        else:
            raise RuntimeError(f"sender {self.mode} ended before sending; see {log_file.name}")
        return self

    def wait(self, timeout: float = 900.0) -> dict[str, Any]:
        assert self.proc
        self.proc.wait(timeout)
        if self.proc.returncode != 0:
            raise RuntimeError(f"sender {self.mode} failed ({self.proc.returncode}); see "
                               f"{self.hub.workdir}/sender-{self.mode}.log")
        result: dict[str, Any] = json.loads(self.summary_path.read_text())
        return result

    def finish(self, timeout: float = 60.0) -> dict[str, Any]:
        """Ask the sender to stop sending (SIGTERM: it ends what it has begun) and return its summary."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        return self.wait(timeout)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


# -- progress of the consumer group --------------------------------------------------------------------
async def positions(settings: Settings, topics: list[str]) -> dict[tuple[str, int], tuple[int, int]]:
    """``{(topic, partition): (committed offset of the hub's group, end offset)}`` (as the admin)."""
    options = kafka_options(settings)
    admin = AIOKafkaAdminClient(request_timeout_ms=10_000, **options)
    consumer = AIOKafkaConsumer(enable_auto_commit=False, group_id=None, request_timeout_ms=10_000, **options)
    await admin.start()
    await consumer.start()
    try:
        parts = [tp for t in topics for tp in await partitions(consumer, t)]
        ends = await consumer.end_offsets(parts)
        committed = await admin.list_consumer_group_offsets(settings.app_id)
        return {(tp.topic, tp.partition): (committed[tp].offset if tp in committed else 0, ends[tp])
                for tp in parts}
    finally:
        await consumer.stop()
        await admin.close()


def drain(hub: Hub, *, quiet: float, timeout: float) -> dict[str, Any]:
    """Wait until the hub's group has committed every intake record, or nothing has moved for ``quiet``
    seconds while records wait (stalled), or ``timeout``. Returns what it saw."""
    started = time.monotonic()
    last: dict[tuple[str, int], tuple[int, int]] = {}
    moved = time.monotonic()
    while True:
        try:
            now = asyncio.run(positions(hub.settings, hub.intake))
        except Exception as exc:  # noqa: BLE001 - the broker may be on its way back: try again
            log(f"  drain: positions unavailable ({type(exc).__name__})")
            now = last
        behind = {tp: end - max(c, 0) for tp, (c, end) in now.items() if end > max(c, 0)}
        if now != last:
            moved = time.monotonic()
            last = now
        waited = time.monotonic() - started
        if now and not behind:
            return {"drained": True, "seconds": round(waited, 1), "behind": {}}
        if time.monotonic() - moved > quiet or waited > timeout:
            return {"drained": False, "seconds": round(waited, 1),
                    "behind": {f"{t}[{p}]": n for (t, p), n in sorted(behind.items())}}
        time.sleep(1.0)
