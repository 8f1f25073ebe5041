"""The agent's output path: the engine's records straight into the worker's aiokafka producer.

Faust's ``Topic.send`` builds a ``FutureMessage``, a ``PendingMessage``, runs every sensor and
serializer hook and re-derives the partition per record; the hub hands Faust-free bytes with the key
already set, so that work is pure overhead (a quarter of the worker's CPU under load, see ``bench/``).
``Emitter`` appends each record to the same aiokafka producer Faust uses (so the partitioner, the
idempotence, ``acks=all`` and the producer's batching are unchanged) and keeps the at-least-once
contract Faust's path gave:

* Faust flushes the producer before every offset commit (``Consumer._commit_offsets``); every record
  of an event is appended before the agent takes the next event, so no offset is committed before
  the records of the events below it are acknowledged by the brokers.
* A record the producer finally fails to deliver (after its own retries) must not be followed by a
  commit: the flush that precedes the commit raises ``DeliveryFailed`` naming the topic and the
  error, the commit does not happen, and the worker crashes so that it restarts from the last
  committed offset (nothing is lost; the engine drops the duplicates a re-read brings).
* A broker that cannot take records right now (no metadata for the topic, buffer full: ``send`` raises
  a *retriable* ``KafkaError``) is waited for by ``send_patiently``, with back-off, resending the event's
  records from the first with the same CloudEvents ids (consumers deduplicating by (ce_source, ce_id) see
  each once); meanwhile the worker reports itself not ready (``/readyz`` 503), so an operator sees the
  stall, and ready again once a send goes through.
* A send refused for a reason that will never change (aiokafka marks such errors ``retriable = False``:
  a record over the producer's ``max_request_size``, an invalid record) is not retried: ``send_patiently``
  raises :class:`OutputRefused` and the agent dead-letters the input instead (``hub.streams.app``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import faust
from aiokafka.errors import KafkaError

from hub import compat, metrics
from hub.streams.kafka_io import Outgoing

log = logging.getLogger("hub.worker")
MAX_BACKOFF = 30.0


class DeliveryFailed(RuntimeError):
    """A record the producer could not deliver: no offset may be committed past its event."""


class OutputRefused(RuntimeError):
    """``send`` refused a record for good (a non-retriable ``KafkaError``): the input is dead-lettered."""

    def __init__(self, topic: str, error: BaseException):
        super().__init__(f"the record for {topic} was refused: {error!r}")
        self.topic = topic
        self.error = error


class Emitter:
    """Send ``Outgoing`` records through the app's producer; see the module doc for the guarantees."""

    def __init__(self, app: faust.App, on_stuck: Any = None):
        self.app = app
        self.on_stuck = on_stuck  # on_stuck(reason or None): the output path stalls (reason) or moves again
        self.stuck = False
        self.failed: BaseException | None = None
        self._producer: Any = None
        self._counted: dict[tuple[str, str], Any] = {}  # (topic, audience) -> its EVENTS_OUT child

    def _aiokafka(self) -> Any:
        if self._producer is None:  # Faust's producer, patched (hub.compat): the flush before a commit checks
            compat.check_after_flush(self.app.producer, self.raise_if_failed)
            self._producer = compat.raw_producer(self.app.producer)
        return self._producer

    def raise_if_failed(self) -> None:
        if self.failed is not None:
            raise DeliveryFailed(f"a record was not delivered, no offset may be committed: {self.failed!r}")

    def _on_done(self, topic: str, future: asyncio.Future,
                 on_sent: Callable[[Any], None] | None = None) -> None:
        if future.cancelled():
            exc: BaseException | None = asyncio.CancelledError(f"send to {topic} cancelled")
        else:
            exc = future.exception()
        if exc is None and on_sent is not None:
            on_sent(future.result())
        if exc is None or self.failed is not None:
            return
        self.failed = exc
        log.error("delivery to %s failed after the producer's retries: %r; stopping the worker so it "
                  "restarts from the last committed offset", topic, exc)
        asyncio.ensure_future(self.app.crash(DeliveryFailed(f"delivery to {topic} failed: {exc!r}")))

    async def send(self, out: Outgoing, on_sent: Callable[[Any], None] | None = None) -> None:
        """Hand one record to the producer; ``on_sent(metadata)`` once the brokers have it."""
        self.raise_if_failed()
        try:
            future = await self._aiokafka().send(out.topic, out.value, key=out.key, headers=out.headers,
                                                 partition=out.partition)
        except KafkaError as exc:
            if not getattr(exc, "retriable", False):
                raise OutputRefused(out.topic, exc) from exc
            raise
        future.add_done_callback(lambda f, topic=out.topic: self._on_done(topic, f, on_sent))
        if on_sent is not None:  # a table's changelog: not an output of the hub
            return
        counter = self._counted.get((out.topic, out.audience))
        if counter is None:
            counter = metrics.EVENTS_OUT.labels(out.topic, out.audience)
            self._counted[(out.topic, out.audience)] = counter
        counter.inc()

    async def send_all(self, outs: Iterable[Outgoing], on_sent: Callable[[Any], None] | None = None) -> None:
        for out in outs:
            await self.send(out, on_sent)

    async def send_patiently(self, outs: Sequence[Outgoing], where: str,
                             on_sent: Callable[[Any], None] | None = None) -> None:
        """``send_all``, retried with back-off while the broker cannot take the records (``where``: the
        input record they come from, for the log)."""
        backoff = 0.5
        while True:
            try:
                await self.send_all(outs, on_sent)
                if self.stuck:
                    self.stuck = False
                    if self.on_stuck:
                        self.on_stuck(None)
                return
            except KafkaError as exc:  # retriable (send() turned the others into OutputRefused)
                log.warning("cannot send the records of %s yet, retrying in %.1fs: %r", where, backoff, exc)
                if not self.stuck:
                    self.stuck = True
                    if self.on_stuck:
                        self.on_stuck(f"output path stalled at {where}: {type(exc).__name__}")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
