"""Writer-schema look-ups (fault campaign: a frozen registry froze the worker's event loop): the codec says
which records would call the registry, the worker resolves those in a thread, and ids the registry lacks
are asked once, then refused without a call."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from hub.core.models import RequestLifecycleEvent
from hub.dev.simulator import village_requests
from hub.settings import Settings
from hub.wire.codec import Codec, load_schema
from hub.wire.registry import MemoryRegistry, RegistryError

SCHEMA = load_schema(Settings().schemas_dir, RequestLifecycleEvent.SCHEMA)


class GatedRegistry(MemoryRegistry):
    """Counts ``schema`` calls; each waits for ``gate`` (a registry that answers only when let)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False

    def schema(self, schema_id: int) -> str:
        self.calls += 1
        if not self.gate.wait(5):
            raise RegistryError("registry frozen")
        if self.fail:
            raise RegistryError("registry unavailable", 503)
        return super().schema(schema_id)


def written_elsewhere(registry: GatedRegistry) -> bytes:
    """A record encoded by another process: this codec has never seen its schema id."""
    return Codec(registry, register=True).encoder("intake.desa.x.v1", SCHEMA)(
        next(village_requests(1, seed=3)).to_avro())


def test_only_a_framed_record_with_an_uncached_id_needs_the_registry():
    registry = GatedRegistry()
    data = written_elsewhere(registry)
    codec = Codec(registry)
    assert codec.unresolved(b"{}") is None and codec.unresolved(None) is None and \
        codec.unresolved(b"\0") is None
    assert codec.unresolved(data) == int.from_bytes(data[1:5], "big")
    codec.prefetch(codec.unresolved(data))  # type: ignore[arg-type]
    assert codec.unresolved(data) is None and registry.calls == 1
    assert codec.decode(data).record["request_id"]
    assert registry.calls == 1  # decode asked nothing more


def test_an_id_the_registry_lacks_is_asked_once_then_refused_without_a_call():
    registry = GatedRegistry()
    codec = Codec(registry)
    ghost = b"\x00\x00\x00\x7f\xff" + b"\x02"
    codec.prefetch(codec.unresolved(ghost))  # type: ignore[arg-type]
    assert codec.unresolved(ghost) is None
    with pytest.raises(Exception, match="not in the registry"):
        codec.decode(ghost)
    assert registry.calls == 1


def test_a_registry_that_cannot_answer_is_transient_not_a_bad_record():
    registry = GatedRegistry()
    data = written_elsewhere(registry)
    codec = Codec(registry)
    registry.fail = True
    with pytest.raises(RegistryError):
        codec.prefetch(codec.unresolved(data))  # type: ignore[arg-type]
    assert codec.unresolved(data) is not None  # not remembered as unknown: asked again next time
    registry.fail = False
    codec.prefetch(codec.unresolved(data))  # type: ignore[arg-type]
    assert json.dumps(codec.decode(data).record, default=str)


async def test_the_event_loop_runs_while_a_look_up_waits_for_the_registry():
    registry = GatedRegistry()
    data = written_elsewhere(registry)
    codec = Codec(registry)
    registry.gate.clear()
    lookup = asyncio.create_task(asyncio.to_thread(codec.prefetch, codec.unresolved(data)))  # type: ignore[arg-type]
    beats = 0
    for _ in range(20):  # the loop keeps turning (heartbeats, /metrics, ticks) while the registry is frozen
        await asyncio.sleep(0.01)
        beats += 1
    assert beats == 20 and not lookup.done()
    registry.gate.set()
    await lookup
    assert codec.decode(data).record["request_id"]
