"""The worker's table entries, typed: what the ``requests`` and ``journeys`` tables hold per key.

A value is the entry's MessagePack array (msgspec ``Struct`` with ``array_like=True``: no field names, times
as MessagePack timestamps), a few hundred bytes per open request. Entries an older worker wrote as compact
JSON (a ``{`` first byte) are still read (:func:`decode_request`, :func:`decode_journey`), so an upgrade needs
no migration: each is rewritten in the binary form the next time its request changes.

Every entry starts with the same four fields, :class:`TimerView`: the partition of its key, its agency and
status (the open-requests gauge) and the SLA timers armed for it (kind and instant). Rebuilding the timer
index after a restart is a plain read of that prefix (:func:`timers_of`), no lifecycle or SLA arithmetic.

Invariants:
* ``armed`` lists exactly the timers the engine has armed and not disarmed, fired or superseded for the key
  (what ``hub.streams.timing.plan`` arms for the entry's clock, status and fired kinds);
* ``seen`` has one item per accepted event: its CloudEvents source and id, the content digest, and where it
  was read (topic, partition, offset: a record read again at the same place is our own redelivery);
* ``phone`` is dropped once the request is terminal (no personal data kept that nothing needs).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import msgspec

from hub.core import sla
from hub.core.journeys import ChildView, JourneyState
from hub.core.lifecycle import RequestState, Status, Transition
from hub.core.records import SlaStage
from hub.streams import timing

__all__ = ["Clock", "JourneyEntry", "RequestEntry", "Seen", "Step", "Timer", "TimerView", "decode_journey",
           "decode_request", "encode", "timers_of"]


#: Timer kinds as they are stored (one byte each). Append only: the position is the stored code.
KIND_CODES: tuple[str, ...] = ("REQUEST:WARNING", "REQUEST:BREACH", "JOURNEY:WARNING", "JOURNEY:BREACH")
_CODE_OF = {kind: code for code, kind in enumerate(KIND_CODES)}


def _bin(text: str | None) -> bytes | None:
    """A hex digest or reference as the bytes the entry keeps (half the size)."""
    return bytes.fromhex(text) if text else None


def _hex(value: bytes | None) -> str | None:
    return value.hex() if value is not None else None


class Timer(msgspec.Struct, array_like=True, frozen=True):
    code: int  # KIND_CODES[code]: "<STAGE>:<KIND>" (hub.streams.timing.timer_kind)
    at: datetime

    @property
    def kind(self) -> str:
        return KIND_CODES[self.code]

    @classmethod
    def of(cls, kind: str, at: datetime) -> Timer:
        return cls(_CODE_OF[kind], at)


class TimerView(msgspec.Struct, array_like=True):
    """The prefix every entry starts with: all the timer index rebuild reads."""

    partition: int
    agency: str
    status: str
    armed: list[Timer]


class Step(msgspec.Struct, array_like=True, frozen=True):
    """One accepted transition (``hub.core.lifecycle.Transition``)."""

    event_id: str
    status: str
    at: datetime
    native: str | None
    seq: int | None


class Clock(msgspec.Struct, array_like=True, frozen=True):
    """An SLA clock (``hub.core.sla.SlaClock``)."""

    started_at: datetime
    sla_working_days: int
    paused_since: datetime | None
    paused_working_days: int

    def clock(self) -> sla.SlaClock:
        return sla.SlaClock(self.started_at, self.sla_working_days, self.paused_since,
                            self.paused_working_days)

    @classmethod
    def of(cls, clock: sla.SlaClock | None) -> Clock | None:
        if clock is None:
            return None
        return cls(clock.started_at, clock.sla_working_days, clock.paused_since, clock.paused_working_days)


class Seen(msgspec.Struct, array_like=True, frozen=True):
    source: str
    event_id: str
    digest_bytes: bytes  # the content digest (hub.streams.engine.digest_record), as bytes
    topic: str
    partition: int
    offset: int

    @property
    def digest(self) -> str:
        return self.digest_bytes.hex()

    @classmethod
    def of(cls, source: str, event_id: str, digest: str, topic: str, partition: int, offset: int) -> Seen:
        return cls(source, event_id, bytes.fromhex(digest), topic, partition, offset)


class RequestEntry(msgspec.Struct, array_like=True):
    """One request (key: its id)."""

    partition: int
    agency: str
    status: str
    armed: list[Timer]
    request_id: str
    updated_at: datetime
    returned_since: datetime | None
    dropped: int
    history: list[Step]
    service: str
    region: str
    parent: str | None
    clock: Clock | None
    fired: list[str]
    done: bool
    ref_bytes: bytes | None  # pseudonymous citizen_ref (hex in records), as bytes
    chk_bytes: bytes | None  # citizen_check: the citizen page's second factor, as bytes
    phone: str | None  # for notices; None once terminal
    seen: list[Seen]

    @property
    def ref(self) -> str | None:
        return _hex(self.ref_bytes)

    @property
    def chk(self) -> str | None:
        return _hex(self.chk_bytes)

    def state(self) -> RequestState:
        return RequestState(self.request_id, Status(self.status), self.updated_at,
                            tuple(Transition(s.event_id, Status(s.status), s.at, s.native, s.seq)
                                  for s in self.history),
                            self.returned_since, self.dropped)

    def sla_clock(self) -> sla.SlaClock | None:
        return self.clock.clock() if self.clock is not None else None

    def seen_as(self, source: str, event_id: str) -> Seen | None:
        for s in self.seen:
            if s.event_id == event_id and s.source == source:
                return s
        return None

    def digest_of(self, event_id: str) -> str | None:
        for s in self.seen:
            if s.event_id == event_id:
                return s.digest
        return None

    @staticmethod
    def reference(text: str | None) -> bytes | None:
        """A citizen_ref or citizen_check as the entry keeps it."""
        return _bin(text)

    def to_dict(self) -> dict[str, Any]:
        """The entry in the JSON shape workers wrote before the binary form (for people and tests)."""
        clock = self.sla_clock()
        return {"v": 1, "p": self.partition, "state": self.state().to_dict(), "service": self.service,
                "agency": self.agency, "region": self.region, "parent": self.parent,
                "clock": clock.to_dict() if clock else None, "fired": list(self.fired), "done": self.done,
                "ref": self.ref, "chk": self.chk, "phone": self.phone,
                "seen": {f"{s.source}|{s.event_id}": [s.digest, s.topic, s.partition, s.offset]
                         for s in self.seen},
                "ids": {s.event_id: s.digest for s in self.seen}}


def steps(state: RequestState) -> list[Step]:
    return [Step(t.event_id, t.status.value, t.occurred_at, t.native_status, t.seq) for t in state.history]


class Child(msgspec.Struct, array_like=True, frozen=True):
    """What a journey remembers of one child (``hub.core.journeys.ChildView``)."""

    request_id: str
    service_code: str
    status: str
    started_at: datetime
    updated_at: datetime
    last_event_id: str


class JourneyEntry(msgspec.Struct, array_like=True):
    """One journey (key: its parent request id)."""

    partition: int
    agency: str  # "hub": a journey has no agency of its own
    status: str
    armed: list[Timer]
    request_id: str
    journey: str
    region_code: str
    children: list[Child]
    clock: Clock
    phone: str | None
    fired: list[str]
    done: bool

    def state(self) -> JourneyState:
        return JourneyState(self.request_id, self.journey, self.region_code,
                            {c.request_id: ChildView(c.request_id, c.service_code, Status(c.status),
                                                     c.started_at, c.updated_at, c.last_event_id)
                             for c in self.children},
                            Status(self.status), self.clock.clock(), self.phone, tuple(self.fired))

    def to_dict(self) -> dict[str, Any]:
        """The entry in the JSON shape workers wrote before the binary form (for people and tests)."""
        return {"v": 1, "p": self.partition, "journey": self.state().to_dict(), "done": self.done}

    @classmethod
    def of(cls, state: JourneyState, *, partition: int, armed: list[Timer], done: bool) -> JourneyEntry:
        clock = Clock.of(state.clock)
        assert clock is not None
        return cls(partition, "hub", state.status.value, armed, state.request_id, state.journey,
                   state.region_code,
                   [Child(c.request_id, c.service_code, c.status.value, c.started_at, c.updated_at,
                          c.last_event_id) for c in state.children.values()],
                   clock, state.phone, list(state.fired), done)


_encoder = msgspec.msgpack.Encoder()
_requests = msgspec.msgpack.Decoder(RequestEntry)
_journeys = msgspec.msgpack.Decoder(JourneyEntry)
_views = msgspec.msgpack.Decoder(TimerView)


def encode(entry: RequestEntry | JourneyEntry) -> bytes:
    """The bytes the table holds and its changelog carries."""
    return _encoder.encode(entry)


def _legacy(value: bytes) -> dict[str, Any] | None:
    return json.loads(value) if value[:1] == b"{" else None


def decode_request(value: bytes | None) -> RequestEntry | None:
    if not value:
        return None
    old = _legacy(value)
    return _requests.decode(value) if old is None else _request_from_json(old)


def decode_journey(value: bytes | None) -> JourneyEntry | None:
    if not value:
        return None
    old = _legacy(value)
    return _journeys.decode(value) if old is None else _journey_from_json(old)


def timers_of(value: bytes) -> TimerView:
    """The prefix of an entry (either table): a plain read for the timer index rebuild."""
    old = _legacy(value)
    if old is None:
        return _views.decode(value)
    if "journey" in old:
        entry: RequestEntry | JourneyEntry = _journey_from_json(old)
    else:
        entry = _request_from_json(old)
    return TimerView(entry.partition, entry.agency, entry.status, entry.armed)


def planned(stage: SlaStage, clock: sla.SlaClock | None, status: Status, fired: list[str]) -> list[Timer]:
    """The timers an entry has armed when nothing since its last change disarmed them (old entries)."""
    p = timing.plan(clock, status, frozenset(fired), finished_at=None, was_done=True)
    return [Timer.of(timing.timer_kind(stage, kind), at) for kind, at in p.arm]


def _request_from_json(old: dict[str, Any]) -> RequestEntry:
    """An entry written as JSON by a worker before the binary form (``{"v": 1, "p", "state", ...}``)."""
    state = RequestState.from_dict(old["state"])
    clock = sla.SlaClock.from_dict(old["clock"]) if old["clock"] else None
    seen = []
    for key, (digest, topic, partition, offset) in old["seen"].items():
        source, _, event_id = key.rpartition("|")
        seen.append(Seen.of(source, event_id, digest, topic, partition, offset))
    return RequestEntry(old["p"], old["agency"], state.status.value,
                        planned(SlaStage.REQUEST, clock, state.status, old["fired"]), state.request_id,
                        state.updated_at, state.returned_since, state.dropped, steps(state), old["service"],
                        old["region"], old["parent"], Clock.of(clock), list(old["fired"]), bool(old["done"]),
                        _bin(old["ref"]), _bin(old.get("chk")), old["phone"], seen)


def _journey_from_json(old: dict[str, Any]) -> JourneyEntry:
    state = JourneyState.from_dict(old["journey"])
    return JourneyEntry.of(state, partition=old["p"], done=bool(old["done"]),
                           armed=planned(SlaStage.JOURNEY, state.clock, state.status, list(state.fired)))
