"""The campaign's sources, each a process of its own: ``python -m bench.faults.sender <mode> '<json>'``.

Settings come from the environment (the hub admin's ``HUB_*``, with ``HUB_ACCESS_CREDENTIALS_DIR``); every
record is written by the principal that owns its intake topic, with that principal's password from the
stack's credential store, as the sources would in production.

``load``  simulator traffic (``hub.dev.simulator.schedule``: requests from every village and their agencies'
          answers, with the simulator's own resends and late answers) at ``rate`` requests/s for ``duration``
          seconds through :class:`hub.dev.sources.SourcePublishers`. What the brokers do not acknowledge is
          sent again, same CloudEvents ids, until they do (the producers are thrown away and made anew
          after a failure): a broker outage delays records, it loses none.
``fuzz``  the samples of :mod:`bench.faults.poison` spread over ``duration`` seconds, the last wave (the
          records near 1 MB and the header key that is not UTF-8) one by one at the end. The ledger
          (JSON lines: kind, expectation, where each record landed or the broker's refusal) goes to
          ``ledger``. Run with ``AIOKAFKA_NO_EXTENSIONS=1`` (see :class:`bench.faults.poison.RawKey`).

Both print ``SENDING`` when the first record goes out and write a JSON summary to ``summary``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from bench.faults.poison import DENY, Sample, forge
from hub.access.credentials import CredentialStore
from hub.dev.simulator import Scheduled, schedule
from hub.dev.sources import SourcePublishers
from hub.settings import Settings, get_settings
from hub.wire.clients import kafka_options, registry
from hub.wire.codec import Codec

#: The fuzz producers let the broker judge sizes (its limit is ``message.max.bytes``, ~1 MiB).
MAX_REQUEST = 4 * 1024 * 1024
#: How long a write the broker refuses (another principal's topic) may take to fail.
DENIED_TIMEOUT_MS = 5000
RETRY_PAUSE = 1.0


def _store(settings: Settings) -> CredentialStore:
    assert settings.access_credentials_dir, "HUB_ACCESS_CREDENTIALS_DIR is needed"
    return CredentialStore(settings.access_credentials_dir)


async def load(settings: Settings, args: dict[str, Any]) -> dict[str, Any]:
    duration = float(args["duration"])
    items = [s for s in schedule(seed=int(args["seed"]), rate=float(args["rate"]), duration=duration,
                                 now=datetime.now(UTC), day_seconds=float(args.get("day_seconds", 2.0)))
             if s.at <= duration]
    counts: Counter[str] = Counter()
    publishers = SourcePublishers(settings, _store(settings), connector="faults-load")
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()  # SIGTERM: stop scheduling; what was begun is acknowledged first
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    await publishers.open_all()  # every intake topic's schema id looked up before the clock starts
    print("SENDING", flush=True)
    start = loop.time()
    i = 0
    try:
        while i < len(items) and not stopping.is_set():
            delay = start + items[i].at - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), delay)
                continue
            horizon = loop.time() - start + 0.05
            j = i
            while j < len(items) and items[j].at <= horizon:
                j += 1
            await _send_until_acknowledged(publishers, items[i:j], counts)
            i = j
    finally:
        await publishers.abort()
    return {"events": i, "requests": len({s.event.request_id for s in items[:i]}),
            "seconds": round(loop.time() - start, 2), **counts}


async def _send_until_acknowledged(publishers: SourcePublishers, batch: Sequence[Scheduled],
                                   counts: Counter[str]) -> None:
    pending = list(batch)
    while pending:
        try:
            outcomes: Sequence[BaseException | None] = await publishers.send_batch(
                [(s.event, s.source, None) for s in pending])
        except Exception as exc:  # a producer that cannot even start (broker or registry away)
            outcomes = [exc] * len(pending)
        failed = [s for s, outcome in zip(pending, outcomes, strict=True) if outcome is not None]
        counts["acknowledged"] += len(pending) - len(failed)
        if failed:
            counts["sent_again"] += len(failed)
            await publishers.abort()  # fresh producers: a failed idempotent producer may stay wedged
            await asyncio.sleep(RETRY_PAUSE)
        pending = failed


async def fuzz(settings: Settings, args: dict[str, Any]) -> dict[str, Any]:

    store = _store(settings)
    samples = forge(settings, Codec(registry(settings)), int(args["n"]), seed=int(args["seed"]),
                    big=int(args["big"]))
    last_wave = sum(1 for s in samples if s.kind.startswith(("size_", "header_key_")))
    producers: dict[tuple[str, bool], AIOKafkaProducer] = {}
    for principal, attack in sorted({(s.principal, s.expect == DENY) for s in samples}):
        options = kafka_options(store.settings_for(settings, principal))
        producers[(principal, attack)] = p = AIOKafkaProducer(
            **options, acks="all", linger_ms=5, max_request_size=MAX_REQUEST,
            request_timeout_ms=DENIED_TIMEOUT_MS if attack else 30_000)
        await p.start()
    ledger: list[dict[str, Any]] = []

    async def append(i: int, s: Sample) -> tuple[dict[str, Any], asyncio.Future | None]:
        """Hand the record to its principal's producer (in call order); its acknowledgement comes later."""
        entry: dict[str, Any] = {"i": i, "kind": s.kind, "expect": s.expect, "topic": s.topic,
                                 "principal": s.principal, "size": s.size}
        ledger.append(entry)
        try:
            return entry, await producers[(s.principal, s.expect == DENY)].send(
                s.topic, s.value, key=s.key, headers=list(s.headers))
        except (KafkaError, ValueError) as exc:
            entry["error"] = type(exc).__name__
            return entry, None

    async def settle(entry: dict[str, Any], future: asyncio.Future | None) -> None:
        if future is None:
            return
        try:
            meta = await future
            entry.update(partition=meta.partition, offset=meta.offset)
        except KafkaError as exc:
            entry["error"] = type(exc).__name__

    async def send_one(i: int, s: Sample) -> None:
        await settle(*await append(i, s))

    print("SENDING", flush=True)
    started = time.monotonic()
    body = samples[:len(samples) - last_wave]
    chunk = max(1, len(body) // max(1, int(float(args["duration"]) / 0.25)))
    try:
        for k in range(0, len(body), chunk):
            part = list(enumerate(body[k:k + chunk], start=k))
            # in order, one by one, so that the records of a pair keep their order; the broker's
            # refusals (they wait for metadata that never comes) side by side
            appended = [await append(i, s) for i, s in part if s.expect != DENY]
            await asyncio.gather(*(settle(*a) for a in appended),
                                 *(send_one(i, s) for i, s in part if s.expect == DENY))
            await asyncio.sleep(max(0.0, started + (k + chunk) / len(body) * float(args["duration"])
                                    - time.monotonic()))
        for i, s in enumerate(samples[len(body):], start=len(body)):
            await send_one(i, s)
    finally:
        for p in producers.values():
            await p.stop()
    ledger.sort(key=lambda e: e["i"])
    Path(args["ledger"]).write_text("".join(json.dumps(e) + "\n" for e in ledger))
    errors = Counter(e.get("error") for e in ledger if e.get("error"))
    return {"samples": len(samples), "last_wave": last_wave, "seconds": round(time.monotonic() - started, 2),
            "written": sum(1 for e in ledger if "offset" in e), "refused_by_broker": dict(errors)}


def main(argv: list[str]) -> int:
    mode, args = argv[0], json.loads(argv[1])
    settings = get_settings()
    summary = asyncio.run({"load": load, "fuzz": fuzz}[mode](settings, args))
    Path(args["summary"]).write_text(json.dumps(summary))
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
