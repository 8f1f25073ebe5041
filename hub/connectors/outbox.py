"""Store and forward: a durable local outbox (SQLite, WAL) and the forwarder that drains it to Kafka.

A connector first *commits* an event to its outbox (``Outbox.enqueue``), then the ``Forwarder`` sends
it and marks it sent once the brokers have acknowledged it (acks=all). So:

* broker down for minutes, connector killed with SIGKILL: the event is on disk, it is sent later;
* sent twice (killed after the ack, before the mark): same ``ce_source`` + ``ce_id`` (stable event
  ids), so downstream deduplication drops the copy;
* enqueued twice (a desk resubmits, a CSV file is imported again): ``UNIQUE(source, event_id)`` keeps one.

Order per request is kept *by construction*: a chunk in flight holds at most one event per request
(``heads``), and a request's next event is only taken once the previous one is acknowledged. Kafka
batching, retries or a failed chunk can therefore never put a request's later event before an earlier one.

The same database holds the desk's ledger of events it has *seen* (``record_seen``), so a desk can
answer "what is the status of my request" from its own disk, broker or not.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hub import metrics
from hub.backoff import RECONNECT_START, Backoff
from hub.connectors.publisher import Publisher
from hub.core.models import RequestLifecycleEvent
from hub.settings import Settings
from hub.wire import cloudevents as ce

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    payload     TEXT NOT NULL,
    traceparent TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    sent_at     REAL,
    UNIQUE (source, event_id)
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (seq) WHERE sent_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_request ON outbox (request_id);
CREATE TABLE IF NOT EXISTS seen (
    source     TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    request_id TEXT NOT NULL,
    payload    TEXT NOT NULL,
    seen_at    REAL NOT NULL,
    PRIMARY KEY (source, event_id)
);
CREATE INDEX IF NOT EXISTS seen_request ON seen (request_id);
"""


@dataclass(frozen=True, slots=True)
class Pending:
    """One outbox row not yet acknowledged by the brokers."""

    seq: int
    source: str
    event_id: str
    request_id: str
    payload: str
    traceparent: str
    enqueued_at: float

    def event(self) -> RequestLifecycleEvent:
        return RequestLifecycleEvent.model_validate_json(self.payload)


def heads(rows: Iterable[Pending], limit: int) -> list[Pending]:
    """The oldest pending row of each request, in outbox order, at most ``limit`` (pure).

    A request whose oldest row is taken has no other row in the chunk: its next event waits for the ack.
    """
    taken: list[Pending] = []
    requests: set[str] = set()
    for row in rows:
        if row.request_id in requests:
            continue
        requests.add(row.request_id)
        taken.append(row)
        if len(taken) >= limit:
            break
    return taken


class Outbox:
    """A durable queue of lifecycle events in one SQLite file (WAL; ``synchronous=FULL`` by default)."""

    def __init__(self, path: Path | str, *, synchronous: str = "FULL"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------------
    def enqueue(self, events: Iterable[tuple[RequestLifecycleEvent, str]]) -> int:
        """Commit (event, ce_source) pairs in one transaction; returns how many were new (dupes ignored)."""
        now = time.time()
        rows = [(source, e.event_id, e.request_id, e.model_dump_json(), ce.new_traceparent(), now)
                for e, source in events]
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO outbox (source, event_id, request_id, payload, traceparent,"
                    " enqueued_at) VALUES (?, ?, ?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return self._db.total_changes - before

    def mark_sent(self, seqs: Sequence[int]) -> None:
        if not seqs:
            return
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("UPDATE outbox SET sent_at = ? WHERE seq = ?", [(now, s) for s in seqs])
            self._db.execute("COMMIT")

    def record_seen(self, items: Iterable[tuple[RequestLifecycleEvent, str]]) -> int:
        """Remember events seen on a hub topic (for status look-ups); returns how many were new."""
        now = time.time()
        rows = [(source, e.event_id, e.request_id, e.model_dump_json(), now) for e, source in items]
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")
            return self._db.total_changes - before

    def purge_sent(self, older_than_s: float) -> int:
        """Forget sent rows older than ``older_than_s`` seconds (the ledger keeps what was seen)."""
        with self._lock:
            cur = self._db.execute("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?",
                                   (time.time() - older_than_s,))
            return cur.rowcount

    # -- reading ---------------------------------------------------------------------------------
    def pending(self, limit: int) -> list[Pending]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, source, event_id, request_id, payload, traceparent, enqueued_at FROM outbox"
                " WHERE sent_at IS NULL ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [Pending(*row) for row in rows]

    def next_chunk(self, limit: int) -> list[Pending]:
        """Up to ``limit`` rows to send now: the head of each request's queue (see ``heads``)."""
        return heads(self.pending(limit * 4), limit)

    def depth(self) -> tuple[int, float | None]:
        """(rows waiting, enqueue time of the oldest waiting row)."""
        with self._lock:
            count, oldest = self._db.execute(
                "SELECT count(*), min(enqueued_at) FROM outbox WHERE sent_at IS NULL").fetchone()
        return count, oldest

    def counts(self) -> tuple[int, int]:
        """(rows sent, rows waiting)."""
        with self._lock:
            sent, waiting = self._db.execute(
                "SELECT count(sent_at), count(*) - count(sent_at) FROM outbox").fetchone()
        return sent, waiting

    def own_event(self, source: str, event_id: str) -> RequestLifecycleEvent | None:
        """The event this node committed under (source, event_id); None if never (or purged once sent)."""
        with self._lock:
            row = self._db.execute("SELECT payload FROM outbox WHERE source = ? AND event_id = ?",
                                   (source, event_id)).fetchone()
        return RequestLifecycleEvent.model_validate_json(row[0]) if row else None

    def events_of(self, request_id: str) -> list[tuple[RequestLifecycleEvent, str, bool]]:
        """Every event of a request this node sent or saw: (event, source, delivered), deduplicated."""
        with self._lock:
            own = self._db.execute("SELECT source, event_id, payload, sent_at FROM outbox"
                                   " WHERE request_id = ? ORDER BY seq", (request_id,)).fetchall()
            seen = self._db.execute("SELECT source, event_id, payload FROM seen WHERE request_id = ?",
                                    (request_id,)).fetchall()
        out: dict[tuple[str, str], tuple[RequestLifecycleEvent, str, bool]] = {}
        for source, event_id, payload in seen:
            out[(source, event_id)] = (RequestLifecycleEvent.model_validate_json(payload), source, True)
        for source, event_id, payload, sent_at in own:
            key = (source, event_id)
            if key not in out:
                out[key] = (RequestLifecycleEvent.model_validate_json(payload), source, sent_at is not None)
        return sorted(out.values(), key=lambda t: (t[0].occurred_at, t[0].event_id))


class Forwarder:
    """Drains an ``Outbox`` to Kafka through a ``Publisher``, reconnecting with back-off while it cannot.

    ``run(stopping)`` until ``stopping`` is set (then a last drain attempt and a graceful stop), or with
    ``until_empty=True`` until the outbox is empty. Updates the outbox depth and oldest-age gauges.
    """

    def __init__(self, outbox: Outbox, publisher: Publisher, *, chunk: int = 500, idle_poll_s: float = 1.0,
                 max_backoff_s: float = 5.0, grace_s: float = 5.0):
        self.outbox = outbox
        self.publisher = publisher
        self.chunk = chunk
        self.idle_poll_s = idle_poll_s
        self.max_backoff_s = max_backoff_s
        self.grace_s = grace_s
        self.attempts = 0
        self.connector = publisher.connector
        self._wake = asyncio.Event()
        self.sent = 0
        self.failures = 0

    def wake(self) -> None:
        """Something was enqueued: send it now rather than at the next poll."""
        self._wake.set()

    def _gauges(self) -> int:
        depth, oldest = self.outbox.depth()
        metrics.OUTBOX_DEPTH.labels(self.connector).set(depth)
        metrics.OUTBOX_OLDEST.labels(self.connector).set(time.time() - oldest if oldest else 0.0)
        return depth

    async def _sleep(self, seconds: float, stopping: asyncio.Event | None) -> None:
        waiters = [asyncio.ensure_future(self._wake.wait())]
        if stopping is not None:
            waiters.append(asyncio.ensure_future(stopping.wait()))
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        self._wake.clear()

    async def drain_once(self) -> tuple[int, int]:
        """Send one chunk; returns (acknowledged, failed). Raises if the publisher cannot start."""
        chunk = self.outbox.next_chunk(self.chunk)
        if not chunk:
            return 0, 0
        self.attempts += 1
        if not self.publisher.started:
            await self.publisher.start()
        outcomes = await self.publisher.send_batch([(r.event(), r.source, r.traceparent) for r in chunk])
        acked = [row.seq for row, outcome in zip(chunk, outcomes, strict=True) if outcome is None]
        self.outbox.mark_sent(acked)
        self.sent += len(acked)
        failed = len(chunk) - len(acked)
        if failed:
            first = next(o for o in outcomes if o is not None)
            log.warning("%s: %d of %d events not acknowledged (%r); will resend", self.connector, failed,
                        len(chunk), first)
        return len(acked), failed

    async def run(self, stopping: asyncio.Event | None = None, *, until_empty: bool = False) -> int:
        """Forward until ``stopping`` is set (or, ``until_empty``, until nothing waits); returns events sent.

        While the broker is away the idempotent producer retries the chunk in flight itself; on
        ``stopping`` that chunk gets ``grace_s`` seconds, then the producer is aborted (the chunk stays
        in the outbox and is resent by the next run: same event ids).
        """
        backoff = Backoff(RECONNECT_START, self.max_backoff_s)
        try:
            while stopping is None or not stopping.is_set():
                depth = self._gauges()
                if depth == 0:
                    if until_empty:
                        break
                    await self._sleep(self.idle_poll_s, stopping)
                    continue
                drain = asyncio.ensure_future(self.drain_once())
                if stopping is not None:
                    stop_wait = asyncio.ensure_future(stopping.wait())
                    done, _ = await asyncio.wait({drain, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                    if drain not in done:
                        done, _ = await asyncio.wait({drain}, timeout=self.grace_s)
                    stop_wait.cancel()
                    if drain not in done:
                        drain.cancel()
                        log.warning("%s: stopping with a chunk unacknowledged; it stays in the outbox",
                                    self.connector)
                        await self.publisher.abort()
                        break
                try:
                    _, failed = await drain
                except Exception as exc:  # broker or registry unreachable at start
                    failed = 1
                    log.warning("%s: cannot publish yet (%r); retrying in %.1fs", self.connector, exc,
                                backoff.delay)
                if failed:
                    self.failures += 1
                    await self._reset()
                    await self._sleep(backoff.next(), stopping)  # a new enqueue wakes it early too
                else:
                    backoff.reset()
        finally:
            self._gauges()
            await self._reset()
        return self.sent

    async def _reset(self) -> None:
        """Close the producer (flushing if it can; aborting if it cannot) - a fresh one is made next time."""
        if not self.publisher.started:
            return
        try:
            await asyncio.wait_for(self.publisher.stop(), timeout=self.grace_s)
        except Exception as exc:
            log.debug("%s: closing the producer: %r", self.connector, exc)
            await self.publisher.abort()


async def forward_outbox(settings: Settings, path: Path, stopping: asyncio.Event | None = None, *,
                         node: str | None = None, connector: str = "village_desk", chunk: int = 500,
                         until_empty: bool = False) -> tuple[int, int]:
    """Send what the outbox at ``path`` holds to the intake topic of desk ``node`` (default: the first of
    ``settings.desk_nodes``), as ``Forwarder.run`` does; returns (sent, still waiting)."""
    topic = settings.desk_intake_topic(node or next(iter(settings.desk_node_prefixes)))
    with Outbox(path) as outbox:
        publisher = Publisher(settings, connector, f"/{connector}", topic=topic)
        forwarder = Forwarder(outbox, publisher, chunk=chunk)
        sent = await forwarder.run(stopping, until_empty=until_empty)
        return sent, outbox.depth()[0]
