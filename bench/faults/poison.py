"""The fuzzed intake of the fault campaign: records of every kind issue 11 lists, and mutations of valid
simulator events, each with the outcome the hub owes it. Pure (no I/O): the encoders come from the
caller's :class:`hub.wire.codec.Codec`.

Each :class:`Sample` is one record as a source would write it: intake topic, the principal that writes
it, key, value, headers, and what the hub must do with it (``expect``):

* ``route``  -- a valid event: it reaches hub.lifecycle.v1 (and its subscribers);
* ``refuse`` -- a bad record: it is dead-lettered, never routed, and the stream goes on;
* ``drop``   -- an exact resend of a routed event: dropped as a duplicate (no second output);
* ``either`` -- a blind mutation (random bytes or field values): routed or dead-lettered, never lost;
* ``deny``   -- a write the broker itself must refuse (another principal's topic, over its size limit).

Kinds come in groups (a pair such as "the same event id with other content" keeps its order); groups
are shuffled by the seed. The records the issue says stop a partition for good (a header key that is not
UTF-8, records near the broker's 1 MB limit) form the last wave, so that a stall they cause shows as its
own finding and does not hide how every other kind was treated.

A header key that is not UTF-8 cannot be written through a Kafka client's normal API: :class:`RawKey`
carries its bytes through aiokafka's pure-Python record builder (``AIOKAFKA_NO_EXTENSIONS=1``), which
encodes header keys with ``key.encode("utf-8")`` (``aiokafka/record/default_records.py``).
"""

from __future__ import annotations

import random
import struct
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.access.catalogue import agency_principal, desk_principal
from hub.core import catalogue
from hub.core.lifecycle import Status
from hub.core.models import RequestLifecycleEvent
from hub.core.records import CitizenNotice
from hub.core.validation import validate_nik
from hub.dev.simulator import agency_source, village_requests
from hub.settings import Settings
from hub.wire import cloudevents as ce
from hub.wire.codec import Codec, load_schema

ROUTE, REFUSE, DROP, EITHER, DENY = "route", "refuse", "drop", "either", "deny"
#: Kafka's default ``message.max.bytes`` (a record batch of one record may be this large, headers included).
BROKER_MAX = 1_048_588
KB = 1024


class RawKey(str):
    """A header key given as raw bytes (not UTF-8): ``encode`` hands aiokafka's pure-Python record builder
    the bytes themselves; ``str`` shows them decoded with replacement characters."""

    raw: bytes

    def __new__(cls, raw: bytes) -> RawKey:
        obj = super().__new__(cls, raw.decode("utf-8", "replace"))
        obj.raw = raw
        return obj

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self.raw


Headers = tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True, slots=True)
class Sample:
    kind: str
    expect: str
    topic: str
    principal: str
    key: bytes | None
    value: bytes | None
    headers: Headers

    @property
    def size(self) -> int:
        return (len(self.key or b"") + len(self.value or b"")
                + sum(len(k.encode()) + len(v or b"") for k, v in self.headers))


@dataclass(frozen=True, slots=True)
class Source:
    """Who writes an event: intake topic, principal, CloudEvents source."""

    topic: str
    principal: str
    ce_source: str


class Forge:
    """Builds the samples; one method per kind (see :data:`KINDS`)."""

    def __init__(self, settings: Settings, codec: Codec, *, seed: int, now: datetime | None = None):
        self.settings = settings
        self.codec = codec
        self.rng = random.Random(seed)
        self.now = now or datetime.now(UTC)
        self.schema = load_schema(settings.schemas_dir, RequestLifecycleEvent.SCHEMA)
        self._events: Iterator[RequestLifecycleEvent] = village_requests(10**7, seed=seed, now=self.now)
        self.nodes = list(settings.desk_node_prefixes)

    # -- building blocks ----------------------------------------------------------------------------
    def event(self, *, desa: bool | None = None) -> RequestLifecycleEvent:
        """The next simulator event (a new request at a village desk); ``desa``: a village's own service."""
        while True:
            event = next(self._events)
            if desa is None or (event.agency == "desa") == desa:
                return event

    def desk(self, event: RequestLifecycleEvent) -> Source:
        node = self.settings.desk_node_for(event.region_code)
        return Source(self.settings.desk_intake_topic(node), desk_principal(node),
                      f"/smart-kampung/{event.region_code}")

    def as_agency(self, event: RequestLifecycleEvent) -> tuple[RequestLifecycleEvent, Source]:
        """The event (of an agency's service) as that agency's own system reports it, on its intake topic."""
        system, source = agency_source(event.agency)
        return (event.model_copy(update={"source_system": system}),
                Source(self.settings.agency_intake_topic(event.agency), agency_principal(event.agency),
                       source))

    def encode(self, topic: str, record: dict[str, Any]) -> bytes:
        return self.codec.encoder(topic, self.schema)(record)

    def headers(self, ce_id: str, source: str, subject: str, at: datetime,
                ce_type: str = RequestLifecycleEvent.CE_TYPE) -> Headers:
        meta = ce.CloudEvent(id=ce_id, source=source, type=ce_type, subject=subject, time=at,
                             traceparent=ce.new_traceparent())
        return tuple(ce.to_headers(meta))

    def sample(self, kind: str, expect: str, event: RequestLifecycleEvent, src: Source | None = None, *,
               value: bytes | None = None, headers: Headers | None = None,
               key: bytes | None | str = "request",
               edit: Callable[[dict[str, Any]], None] | None = None) -> Sample:
        """A record of ``event`` (its Avro dict changed by ``edit``) from ``src`` (default: its desk)."""
        src = src or self.desk(event)
        if value is None:
            record = event.to_avro()
            if edit is not None:
                edit(record)
            value = self.encode(src.topic, record)
        if headers is None:
            headers = self.headers(event.event_id, src.ce_source, event.request_id, event.occurred_at)
        k = event.request_id.encode() if key == "request" else key
        return Sample(kind, expect, src.topic, src.principal, k.encode() if isinstance(k, str) else k,
                      value, headers)

    def text(self, length: int) -> str:
        """Printable text of ``length`` characters (Indonesian address words)."""
        words = ["jalan", "desa", "rt", "rw", "dusun", "kampung", "blok", "no", "gang", "krajan"]
        out: list[str] = []
        size = 0
        while size < length:
            word = self.rng.choice(words)
            out.append(word)
            size += len(word) + 1
        return " ".join(out)[:length]

    def citizen(self, record: dict[str, Any], **fields: Any) -> None:
        record["citizen"] = {**(record.get("citizen") or {}), **fields}

    # -- valid traffic ----------------------------------------------------------------------------
    def valid_desk(self) -> list[Sample]:
        return [self.sample("valid_desk", ROUTE, self.event())]

    def valid_agency(self) -> list[Sample]:
        event, src = self.as_agency(self.event(desa=False))
        return [self.sample("valid_agency", ROUTE, event, src)]

    def valid_normalisable(self) -> list[Sample]:
        """Admissible after normalisation: surrounding spaces, a phone typed with separators."""
        event = self.event()
        phone = f"0812-3456-{self.rng.randrange(10**4):04d}"
        return [self.sample("valid_normalisable", ROUTE, event, edit=lambda r: self.citizen(
            r, name=f"  {r['citizen']['name']}  ", phone=phone))]

    def label_probe(self) -> list[Sample]:
        """An agency event whose source_system is NIK-shaped: a metric label taken from it would leak it."""
        event, src = self.as_agency(self.event(desa=False))
        probe = f"35{self.rng.randrange(10**13, 10**14)}"
        return [self.sample("label_probe_source_system", EITHER, event, src,
                            edit=lambda r: r.update(source_system=probe))]

    def duplicate_resend(self) -> list[Sample]:
        event = self.event()
        first = self.sample("duplicate_resend", ROUTE, event)
        again = self.sample("duplicate_resend", DROP, event)  # same bytes; a new traceparent
        return [first, again]

    def same_millisecond(self) -> list[Sample]:
        """Two events of one request at one instant, the second with the smaller id: written order wins."""
        first = self.event(desa=True)
        second = first.model_copy(update={"event_id": f"0-{uuid.uuid4()}", "status": Status.RECEIVED,
                                          "native_status": "diterima operator", "citizen": None})
        first = first.model_copy(update={"event_id": f"z-{uuid.uuid4()}"})
        return [self.sample("same_millisecond", ROUTE, first), self.sample("same_millisecond", ROUTE, second)]

    # -- content admission must refuse ------------------------------------------------------------
    def conflict(self) -> list[Sample]:
        event = self.event()
        other = event.model_copy(update={"note": "isi lain dengan id yang sama"})
        return [self.sample("conflict", ROUTE, event), self.sample("conflict", REFUSE, other)]

    def before_first(self) -> list[Sample]:
        first = self.event(desa=True)
        later = first.model_copy(update={"event_id": str(uuid.uuid4()), "status": Status.RECEIVED,
                                         "native_status": "diterima operator", "citizen": None,
                                         "occurred_at": first.occurred_at - timedelta(hours=2)})
        return [self.sample("before_first", ROUTE, first), self.sample("before_first", REFUSE, later)]

    def bad_text(self) -> list[Sample]:
        field, value = self.rng.choice([
            ("name", "Siti\x07Aminah"), ("name", "Budi\u202eharyono"), ("name", "Dewi\u200b"),
            ("name", ""), ("name", "    "), ("name", "Agus\x00"), ("name", "Nur\ue000"),
            ("address", "Jl. Melati\x1b[31m 4"), ("address", "Dusun \u2066Krajan\u2069"),
            ("name", "Rina\u2028Wati")])
        return [self.sample(f"bad_text_{field}", REFUSE, self.event(),
                            edit=lambda r: self.citizen(r, **{field: value}))]

    def bad_note(self) -> list[Sample]:
        value = self.rng.choice(["ok\u202e", "\x00", "  ", "note\u200f"])
        return [self.sample("bad_note", REFUSE, self.event(), edit=lambda r: r.update(note=value))]

    def bad_native_status(self) -> list[Sample]:
        value = self.rng.choice(["diajukan\nlagi", "<script>", "\u202ediajukan", "", "diajukan;DROP"])
        return [self.sample("bad_native_status", REFUSE, self.event(),
                            edit=lambda r: r.update(native_status=value))]

    def huge_text(self) -> list[Sample]:
        field = self.rng.choice(["name", "address", "note", "native_status", "phone"])
        value = self.text(100 * KB) if field != "phone" else "08" + "1" * (100 * KB)

        def edit(r: dict[str, Any]) -> None:
            if field in ("note", "native_status"):
                r[field] = value
            else:
                self.citizen(r, **{field: value})
        return [self.sample(f"huge_{field}", REFUSE, self.event(), edit=edit)]

    def bad_phone(self) -> list[Sample]:
        value = self.rng.choice(["08abc1234567", "+14155550100", "0812", "62-00-1234",
                                 "+62 812 3456 7890 1234", "085 x 123", "0000000000", "ab"])
        return [self.sample("bad_phone", REFUSE, self.event(), edit=lambda r: self.citizen(r, phone=value))]

    def bad_occurred_at(self) -> list[Sample]:
        when, label = self.rng.choice([(datetime(1970, 1, 1, tzinfo=UTC), "1970"),
                                       (datetime(2099, 1, 1, tzinfo=UTC), "2099"),
                                       (datetime(1, 1, 1, tzinfo=UTC), "year_1"),
                                       (self.now + timedelta(minutes=30), "future_30min")])
        event = self.event()
        headers = self.headers(event.event_id, self.desk(event).ce_source, event.request_id, when)
        return [self.sample(f"occurred_{label}", REFUSE, event, headers=headers,
                            edit=lambda r: r.update(occurred_at=when))]

    def bad_birth_date(self) -> list[Sample]:
        event = self.event()
        assert event.citizen and event.citizen.nik
        born = validate_nik(event.citizen.nik, banyuwangi_only=False).birth_date
        value, label = self.rng.choice([(date(2099, 5, 1), "2099"), (date(1800, 1, 1), "1800"),
                                        (born + timedelta(days=3), "contradicts_nik")])
        return [self.sample(f"birth_{label}", REFUSE, event,
                            edit=lambda r: self.citizen(r, birth_date=value))]

    def bad_reference(self) -> list[Sample]:
        field, value = self.rng.choice([("service_code", "NO_SUCH_SERVICE"), ("region_code", "35.10.99.9999"),
                                        ("agency", "kpk"), ("region_code", "x" * 300),
                                        ("source_system", "smart kampung; rm -rf")])
        return [self.sample(f"bad_{field}", REFUSE, self.event(), edit=lambda r: r.update({field: value}))]

    def bad_nik(self) -> list[Sample]:
        value = self.rng.choice(["1234", "35100" + "9" * 11, "abcdefghijklmnop", "3510" + "0" * 12])
        return [self.sample("bad_nik", REFUSE, self.event(), edit=lambda r: self.citizen(r, nik=value))]

    def bad_ids(self) -> list[Sample]:
        event = self.event()
        src = self.desk(event)
        value = self.rng.choice(["id with spaces", "\u00efd-\u00fcnicode", "../../etc", "x" * 129])
        return [self.sample("bad_event_id", REFUSE, event, src, edit=lambda r: r.update(event_id=value),
                            headers=self.headers(value, src.ce_source, event.request_id, event.occurred_at))]

    # -- CloudEvents attributes -------------------------------------------------------------------
    def bad_headers(self) -> list[Sample]:
        event = self.event()
        src = self.desk(event)
        base = list(self.headers(event.event_id, src.ce_source, event.request_id, event.occurred_at))

        def replace(name: str, value: bytes | None) -> Headers:
            return tuple((k, value if k == name else v) for k, v in base)

        kind, headers = self.rng.choice([
            ("null_ce_id", replace("ce_id", None)),
            ("no_ce_source", tuple((k, v) for k, v in base if k != "ce_source")),
            ("ce_id_not_utf8", replace("ce_id", b"\xff\xfe" + event.event_id.encode())),
            ("ce_time_garbage", replace("ce_time", b"yesterday")),
            ("ce_specversion_0_3", replace("ce_specversion", b"0.3")),
            ("ce_subject_huge", replace("ce_subject", b"s" * (100 * KB))),
            ("ce_type_wrong", replace("ce_type", b"com.example.other")),
            ("ce_id_not_event_id", replace("ce_id", str(uuid.uuid4()).encode())),
        ])
        return [self.sample(kind, REFUSE, event, src, headers=headers)]

    def header_key_not_utf8(self) -> list[Sample]:
        """The record aiokafka's fetcher cannot decode (issue 11: it crashed the worker, for ever)."""
        event = self.event()
        src = self.desk(event)
        headers = (*self.headers(event.event_id, src.ce_source, event.request_id, event.occurred_at),
                   (RawKey(b"ce_\xff\xfe"), b"x"))
        return [self.sample("header_key_not_utf8", REFUSE, event, src, headers=headers)]

    # -- bytes that are not our records -----------------------------------------------------------
    def bad_bytes(self) -> list[Sample]:
        event = self.event()
        src = self.desk(event)
        frame = self.encode(src.topic, event.to_avro())
        rng = self.rng
        kind, value = rng.choice([
            ("garbage_bytes", rng.randbytes(rng.randrange(1, 2000))),
            ("empty_value", b""), ("null_value", None), ("magic_only", b"\x00"),
            ("magic_1", b"\x01" + frame[1:]),
            ("unknown_schema_id", struct.pack(">BI", 0, rng.randrange(900_000, 2**31)) + frame[5:]),
            ("truncated_avro", frame[:rng.randrange(5, len(frame) - 1)]),
            ("trailing_bytes", frame + rng.randbytes(rng.randrange(1, 40))),
        ])
        sample = self.sample(kind, REFUSE, event, src, value=value or b"")
        if value is None:  # a tombstone
            return [Sample(kind, REFUSE, sample.topic, sample.principal, sample.key, None, sample.headers)]
        return [sample]

    def other_record(self) -> list[Sample]:
        """A record of another type (a citizen notice) on an intake topic."""
        event = self.event()
        src = self.desk(event)
        notice = CitizenNotice(notice_id=f"{event.request_id}/x", request_id=event.request_id,
                               status=Status.SUBMITTED, service_code=event.service_code, message="hai",
                               created_at=event.occurred_at)
        schema = load_schema(self.settings.schemas_dir, CitizenNotice.SCHEMA)
        value = self.codec.encoder(self.settings.topic_notify, schema)(notice.to_avro())
        return [self.sample("other_record_type", REFUSE, event, src, value=value)]

    def key_mismatch(self) -> list[Sample]:
        key = self.rng.choice([b"SK-other", None, b"\xff\xfe"])
        return [self.sample("key_mismatch", REFUSE, self.event(), key=key)]

    # -- blind mutations --------------------------------------------------------------------------
    def mutate_bytes(self) -> list[Sample]:
        event = self.event()
        frame = bytearray(self.encode(self.desk(event).topic, event.to_avro()))
        for _ in range(self.rng.randint(1, 4)):
            i = self.rng.randrange(5, len(frame))
            frame[i] ^= 1 << self.rng.randrange(8)
        return [self.sample("mutate_bytes", EITHER, event, value=bytes(frame))]

    def mutate_field(self) -> list[Sample]:
        rng = self.rng
        field = rng.choice(["event_id", "request_id", "native_status", "source_system", "service_code",
                            "region_code", "agency", "note", "citizen.name", "citizen.phone", "citizen.nik",
                            "citizen.address", "occurred_at", "status"])
        alphabet = "aZ09 .-_/\n\t\u00e9\u202e\u200b\x00\ud7ff\U0001f600"
        value: Any = "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 5, 40, 300])))
        if field == "occurred_at":
            value = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(0, 10**10))
        if field == "status":
            value = rng.choice(list(Status)).value

        def edit(r: dict[str, Any]) -> None:
            if field.startswith("citizen."):
                self.citizen(r, **{field.split(".")[1]: value})
            else:
                r[field] = value
        return [self.sample(f"mutate_{field.replace('.', '_')}", EITHER, self.event(), edit=edit)]

    # -- identity ---------------------------------------------------------------------------------
    def impersonation(self) -> list[Sample]:
        rng = self.rng
        event, src = self.as_agency(self.event(desa=False))
        other = rng.choice([a for a in catalogue.agencies() if a not in ("desa", event.agency)])
        choices = ["other_agency", "ce_source", "source_system"]
        if len(self.nodes) > 1:
            choices.append("village")
        kind = rng.choice(choices)
        if kind == "other_agency":  # agency <other> writes, on its own topic, an event of this agency
            mine = Source(self.settings.agency_intake_topic(other), agency_principal(other),
                          f"/agency/{other}/{agency_source(other)[0]}")
            return [self.sample("impersonation_other_agency", REFUSE, event, mine)]
        if kind == "ce_source":
            mine = Source(src.topic, src.principal, f"/agency/{other}/{agency_source(other)[0]}")
            return [self.sample("impersonation_ce_source", REFUSE, event, mine)]
        desk_event = self.event()
        if kind == "source_system":
            return [self.sample("impersonation_source_system", REFUSE, desk_event,
                                edit=lambda r: r.update(source_system=agency_source("dukcapil")[0]))]
        home = self.settings.desk_node_for(desk_event.region_code)
        node = rng.choice([n for n in self.nodes if n != home])
        mine = Source(self.settings.desk_intake_topic(node), desk_principal(node),
                      f"/smart-kampung/{desk_event.region_code}")
        return [self.sample("impersonation_village_of_other_node", REFUSE, desk_event, mine)]

    def denied_write(self) -> list[Sample]:
        """A principal writing a topic that is not its own: the broker refuses the write."""
        event, src = self.as_agency(self.event(desa=False))
        attacker = agency_principal(self.rng.choice([a for a in catalogue.agencies()
                                                     if a not in ("desa", event.agency)]))
        target = self.rng.choice([src.topic, self.settings.topic_feed,
                                  self.settings.agency_topic(event.agency),
                                  self.settings.desk_intake_topic(self.nodes[0])])
        sample = self.sample("denied_other_principals_topic", DENY, event, src)
        return [Sample(sample.kind, DENY, target, attacker, sample.key, sample.value, sample.headers)]

    # -- size -------------------------------------------------------------------------------------
    def sized(self, total: int, kind: str, expect: str = REFUSE) -> Sample:
        """A record of about ``total`` bytes (a long note: the model refuses it, so only size matters)."""
        event = self.event()
        probe = self.sample(kind, expect, event, edit=lambda r: r.update(note=""))
        pad = max(0, total - probe.size - 8)
        return self.sample(kind, expect, event, edit=lambda r: r.update(note="n" * pad))


#: kind -> (weight, method); weights are shares of the ``n`` samples (the size classes are counted apart).
KINDS: dict[str, tuple[int, Callable[[Forge], list[Sample]]]] = {
    "valid_desk": (14, Forge.valid_desk), "valid_agency": (6, Forge.valid_agency),
    "valid_normalisable": (3, Forge.valid_normalisable), "duplicate_resend": (3, Forge.duplicate_resend),
    "same_millisecond": (2, Forge.same_millisecond), "conflict": (2, Forge.conflict),
    "before_first": (2, Forge.before_first), "bad_text": (6, Forge.bad_text), "bad_note": (2, Forge.bad_note),
    "bad_native_status": (2, Forge.bad_native_status), "huge_text": (2, Forge.huge_text),
    "bad_phone": (4, Forge.bad_phone), "bad_occurred_at": (4, Forge.bad_occurred_at),
    "bad_birth_date": (3, Forge.bad_birth_date), "bad_reference": (3, Forge.bad_reference),
    "bad_nik": (2, Forge.bad_nik), "bad_ids": (2, Forge.bad_ids), "bad_headers": (8, Forge.bad_headers),
    "bad_bytes": (7, Forge.bad_bytes), "other_record": (1, Forge.other_record),
    "key_mismatch": (2, Forge.key_mismatch), "mutate_bytes": (6, Forge.mutate_bytes),
    "mutate_field": (6, Forge.mutate_field), "impersonation": (5, Forge.impersonation),
    "denied_write": (2, Forge.denied_write), "label_probe": (1, Forge.label_probe),
}
#: Records the issue says stall a partition for good: the last wave (``big`` of each).
STOPPERS: tuple[tuple[str, int, str], ...] = (
    ("header_key_not_utf8", 0, REFUSE),
    ("size_990kb", 990_000, REFUSE),  # its dead letter (the original bytes + headers) crosses 1,000,000
    ("size_1010kb", 1_010_000, REFUSE),  # over the worker producer's max_request_size (Faust: 1,000,000)
    ("size_just_under_broker_max", BROKER_MAX - 700, REFUSE),
    ("size_over_broker_max", BROKER_MAX + 2_000, DENY),
)


def intake_limit(settings: Settings) -> int | None:
    """The hub's own size limit on intake records, where the settings have one (a field named for intake and
    bytes or size): the last wave then holds records just over it too."""
    for name in type(settings).model_fields:
        if "intake" in name and ("bytes" in name or "size" in name):
            value = getattr(settings, name)
            return value if isinstance(value, int) and value > 0 else None
    return None


def forge(settings: Settings, codec: Codec, n: int, *, seed: int, big: int = 4,
          now: datetime | None = None) -> list[Sample]:
    """About ``n`` samples of every kind in :data:`KINDS` (by weight, in shuffled groups), then ``big`` of
    each of :data:`STOPPERS` (and of records just over :func:`intake_limit`). Deterministic for a seed (ids
    drawn from ``uuid4`` aside)."""
    f = Forge(settings, codec, seed=seed, now=now)
    names = list(KINDS)
    weights = [KINDS[k][0] for k in names]
    groups: list[list[Sample]] = [KINDS[name][1](f) for name in names]  # every kind at least once
    count = sum(len(g) for g in groups)
    while count < n:
        group = KINDS[f.rng.choices(names, weights)[0]][1](f)
        groups.append(group)
        count += len(group)
    f.rng.shuffle(groups)
    samples = [s for group in groups for s in group]
    limit = intake_limit(settings)
    over_limit = (("size_just_over_intake_limit", limit + 256, REFUSE),) if limit else ()
    for kind, size, expect in (*STOPPERS, *over_limit):
        for _ in range(big):
            samples.extend(f.header_key_not_utf8() if size == 0 else [f.sized(size, kind, expect)])
    return samples
