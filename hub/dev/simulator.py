"""Simulated Smart Kampung traffic: realistic new requests from Banyuwangi's 217 villages.

Deterministic: the same seed gives the same requests (ids included). The service mix follows the
service mall's volumes: civil-registry papers first, then utilities, health insurance, police, KUA, land.
"""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from hub.connectors.village_desk import submission
from hub.core import catalogue, regions
from hub.core.lifecycle import Status, is_allowed, to_canonical
from hub.core.models import Citizen, RequestLifecycleEvent
from hub.core.validation import make_kk, make_nik

# Relative daily volumes (rough shares of MPP Banyuwangi traffic).
SERVICE_MIX: dict[str, int] = {
    "DUKCAPIL_KTP_EL": 22, "DUKCAPIL_KK": 18, "DUKCAPIL_AKTA_KELAHIRAN": 10, "DUKCAPIL_KIA": 6,
    "DUKCAPIL_AKTA_KEMATIAN": 4, "DUKCAPIL_PINDAH_KELUAR": 3, "DUKCAPIL_PINDAH_DATANG": 2,
    "DESA_PENGANTAR_KTP": 5, "DESA_SKTM": 4, "DESA_DOMISILI": 3, "DESA_SKU": 3, "DESA_PENGANTAR_SKCK": 2,
    "PLN_PASANG_BARU_TANPA_PERLUASAN": 3, "PLN_TAMBAH_DAYA": 3, "PLN_PASANG_BARU_PERLUASAN_JARINGAN": 1,
    "PUDAM_SAMBUNGAN_BARU": 2, "BPJS_KESEHATAN_PENDAFTARAN": 4, "BPJS_KESEHATAN_GANTI_FASKES": 2,
    "BPJS_KESEHATAN_BAYI_BARU_LAHIR": 2, "POLRI_SKCK": 5, "KUA_PENDAFTARAN_NIKAH": 2,
    "BPN_PENGECEKAN_SERTIPIKAT": 1, "BPN_PERALIHAN_HAK": 1,
}

GIVEN_F = ["Siti", "Sri", "Nur", "Dewi", "Indah", "Ratna", "Wulan", "Fitri", "Lestari", "Ayu", "Rina", "Yuli"]
GIVEN_M = ["Agus", "Budi", "Slamet", "Eko", "Hadi", "Joko", "Wahyu", "Rudi", "Bambang", "Arif", "Yusuf",
           "Dani"]
FAMILY = ["Santoso", "Wibowo", "Hidayat", "Susanto", "Purnomo", "Rahmawati", "Setiawan", "Kusuma",
          "Prasetyo", "Hariyanto", "Suyitno", "Mulyadi", "Handayani", "Nugroho"]


def _citizen(rng: random.Random, kecamatan_code: str, today: date) -> Citizen:
    prefix = regions.nik_prefix(kecamatan_code)
    female = rng.random() < 0.5
    born = date(1950, 1, 1) + timedelta(days=rng.randrange((date(2008, 12, 31) - date(1950, 1, 1)).days))
    recorded = date(2000, 1, 1) + timedelta(days=rng.randrange((today - date(2000, 1, 1)).days))
    name = f"{rng.choice(GIVEN_F if female else GIVEN_M)} {rng.choice(FAMILY)}"
    return Citizen(nik=make_nik(prefix, born, female, rng.randint(1, 9999)),
                   kk_number=make_kk(prefix, recorded, rng.randint(1, 9999)),
                   name=name, phone=_mobile(rng.randint(11, 99), rng.randrange(10**8)))


def _mobile(operator: int, subscriber: int) -> str:
    """An Indonesian mobile number in E.164 (the form admission normalises to): +62 8XX NNNNNNNN.

    ``operator`` 11..99 picks the 08XX prefix; 084X is not allocated, so it moves to 085X.
    """
    if 40 <= operator <= 49:
        operator += 10
    return f"+628{operator}{subscriber:08d}"


def village_requests(n: int, *, seed: int = 1, now: datetime | None = None,
                     ) -> Iterator[RequestLifecycleEvent]:
    """``n`` SUBMITTED events from random villages over the last hour before ``now``."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    villages = regions.villages()
    codes, weights = list(SERVICE_MIX), list(SERVICE_MIX.values())
    for i in range(n):
        village = rng.choice(villages)
        assert village.kecamatan_code
        yield submission(
            region_code=village.code,
            service_code=rng.choices(codes, weights)[0],
            desk_number=f"{seed:04d}{i:07d}",
            citizen=_citizen(rng, village.kecamatan_code, now.date()),
            occurred_at=now - timedelta(seconds=rng.randrange(3600)),
        )


# ---------------------------------------------------------------------------------------------------
# Full traffic: requests from every village and the agencies' answers, as a deterministic schedule.
# ``schedule`` is pure (same arguments, same schedule, ids included); ``drive`` publishes it in time.
# ---------------------------------------------------------------------------------------------------

SIM_NS = uuid.UUID("0d5e7c4a-3510-4d11-9a5e-73696d756c61")

#: Each agency's usual path after the desk's "diajukan", in its own words (hub.core.lifecycle maps them).
PATHS: dict[str, tuple[str, ...]] = {
    "dukcapil": ("berkas diterima", "diverifikasi", "perekaman", "proses cetak", "sudah tte", "dicetak",
                 "diambil"),
    "pln": ("registrasi", "survei", "perencanaan", "menunggu pembayaran", "lunas", "pemasangan", "nyala"),
    "pudam": ("diterima", "survei", "menunggu pembayaran", "lunas", "pemasangan", "mengalir"),
    "bpjs_kesehatan": ("diterima", "diverifikasi", "menunggu pembayaran", "aktif"),
    "polri": ("verifikasi berkas", "sidik jari", "pencetakan", "terbit", "diambil"),
    "kua": ("diterima", "pemeriksaan nikah", "pengumuman", "pelaksanaan akad", "buku nikah terbit",
            "tercatat"),
    "bpn": ("berkas diterima", "pengukuran", "pengumuman", "sertipikat terbit", "diserahkan"),
    "desa": ("diterima operator", "menunggu tanda tangan kades", "dicetak", "diteruskan ke dinas"),
}
DEFAULT_PATH = ("diterima", "diproses", "selesai")
RETURNED_AS = {"bpjs_kesehatan": "perbaikan data"}
P_RETURN, P_REJECT, P_LATE_SLA = 0.06, 0.03, 0.08  # per request
P_DUPLICATE, P_OUT_OF_ORDER, P_LATE = 0.01, 0.01, 0.005  # deliberate delivery anomalies


@dataclass(frozen=True, slots=True)
class Scheduled:
    """One event to publish ``at`` seconds after the start, with its CloudEvents source."""

    at: float
    event: RequestLifecycleEvent
    source: str
    anomaly: str | None = None  # None | "duplicate" | "out_of_order" | "late"


def agency_source(agency: str) -> tuple[str, str]:
    """(source_system, ce_source) of an agency's system (the connector profiles where there is one)."""
    from hub.connectors import bpjs, dukcapil, pln, pudam

    for profile in (dukcapil.PROFILE, pln.PROFILE, pudam.PROFILE, bpjs.PROFILE):
        if profile.agency == agency:
            return profile.source_system, profile.source
    return f"{agency}-system", f"/agency/{agency}/{agency}-system"


def _shares(rng: random.Random, n: int) -> list[float]:
    weights = [rng.gammavariate(2.0, 1.0) for _ in range(n)]
    total = sum(weights)
    return [w / total for w in weights]


def _request_events(rng: random.Random, first: RequestLifecycleEvent, start: float, day_s: float,
                    ) -> list[tuple[float, RequestLifecycleEvent, str]]:
    """The request's events in order of occurrence: (offset, event, ce_source). Legal by construction."""
    from hub.connectors.village_desk import SOURCE_SYSTEM, source_of

    service = catalogue.service(first.service_code)
    agency = service.agency
    if agency == "desa":
        system, source = SOURCE_SYSTEM, source_of(first.region_code)
    else:
        system, source = agency_source(agency)
    path = PATHS.get(agency, DEFAULT_PATH)
    sla_days = service.sla_working_days if service.sla_kind == "working_days" else 2
    factor = rng.uniform(1.3, 2.5) if rng.random() < P_LATE_SLA else rng.lognormvariate(math.log(0.6), 0.35)
    total = max(sla_days, 0.3) * day_s * factor

    out = [(start, first, source_of(first.region_code))]
    t = start
    seq = 0

    def add(native: str, dt: float, *, src: str = source, sys_: str = system, status: Status | None = None,
            note: str | None = None) -> None:
        nonlocal t, seq
        seq += 1
        t += dt
        occurred = first.occurred_at + timedelta(seconds=t - start)
        event = first.model_copy(update={
            "event_id": str(uuid.uuid5(SIM_NS, f"{first.request_id}/{seq}")),
            "status": status or to_canonical(agency if sys_ == system else "desa", native),
            "native_status": native, "occurred_at": occurred, "source_system": sys_,
            "citizen": None, "note": note})
        out.append((t, event, src))

    shares = _shares(rng, len(path))
    add(path[0], shares[0] * total)
    roll = rng.random()
    if roll < P_REJECT:
        add("ditolak", rng.uniform(0.05, 0.3) * day_s, note="persyaratan tidak terpenuhi")
        return out
    if roll < P_REJECT + P_RETURN:
        add(RETURNED_AS.get(agency, "dikembalikan"), rng.uniform(0.05, 0.3) * day_s,
            note="berkas belum lengkap")
        add("diajukan", rng.uniform(0.5, 2.0) * day_s, src=source_of(first.region_code), sys_=SOURCE_SYSTEM,
            status=Status.SUBMITTED, note="diajukan ulang")
        add(path[0], rng.uniform(0.05, 0.2) * day_s)
    for native, share in zip(path[1:], shares[1:], strict=True):
        add(native, share * total)
    return out


def schedule(*, seed: int, rate: float, duration: float, now: datetime, day_seconds: float = 4.0,
             anomalies: bool = True) -> list[Scheduled]:
    """Requests arriving at ``rate`` a second for ``duration`` seconds from all villages (service mix of
    the MPP), each followed by its agency's answers; 1 working day lasts ``day_seconds``. Pure."""
    rng = random.Random(seed)
    villages = regions.villages()
    codes, weights = list(SERVICE_MIX), list(SERVICE_MIX.values())
    items: list[Scheduled] = []
    t, i = 0.0, 0
    while True:
        t += rng.expovariate(rate)
        if t >= duration:
            break
        village = rng.choice(villages)
        assert village.kecamatan_code
        first = submission(region_code=village.code, service_code=rng.choices(codes, weights)[0],
                           desk_number=f"S{seed}-{i:06d}",
                           citizen=_citizen(rng, village.kecamatan_code, now.date()),
                           occurred_at=now + timedelta(seconds=t))
        i += 1
        events = _request_events(rng, first, t, day_seconds)
        ats = [at for at, _, _ in events]
        tags: list[str | None] = [None] * len(events)
        # Only an answer whose absence leaves a legal sequence may arrive late (the engine then
        # inserts it in its place); e.g. never the RETURNED before a resubmission.
        movable = [j for j in range(1, len(events) - 1)
                   if is_allowed(events[j - 1][1].status, events[j + 1][1].status)]
        if anomalies and movable:
            if rng.random() < P_OUT_OF_ORDER:  # an answer overtaken by the next one
                j = rng.choice(movable)
                ats[j], tags[j] = ats[j + 1] + rng.uniform(0.01, 0.5), "out_of_order"
            elif rng.random() < P_LATE * 4:  # an answer delivered long after it happened
                j = rng.choice(movable)
                ats[j], tags[j] = ats[j] + rng.uniform(1.0, 3.0) * day_seconds, "late"
        for (_, event, source), at, tag in zip(events, ats, tags, strict=True):
            items.append(Scheduled(at, event, source, tag))
            if (anomalies and tag is None and event.status is not Status.SUBMITTED
                    and rng.random() < P_DUPLICATE):
                items.append(Scheduled(at + rng.uniform(0.1, 2.0), event, source, "duplicate"))
    items.sort(key=lambda s: s.at)  # stable: ties keep their generation order
    return items


class BatchPublisher(Protocol):
    """What :func:`drive` publishes through (``Publisher``, ``hub.dev.sources.SourcePublishers``)."""

    async def send_batch(self, items: Sequence[tuple[RequestLifecycleEvent, str | None, str | None]]
                         ) -> list[BaseException | None]: ...


async def drive(publisher: BatchPublisher, items: list[Scheduled], *, stopping: asyncio.Event | None = None,
                window: float = 0.05, on_batch: Callable[[int], object] | None = None) -> Counter[str]:
    """Publish ``items`` at their times (relative to now) through ``publisher`` (a started one)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    counts: Counter = Counter()
    i = 0
    while i < len(items) and not (stopping and stopping.is_set()):
        delay = start + items[i].at - loop.time()
        if delay > 0:
            if stopping is not None:
                try:
                    await asyncio.wait_for(stopping.wait(), timeout=delay)
                    break
                except TimeoutError:
                    pass
            else:
                await asyncio.sleep(delay)
        horizon = loop.time() - start + window
        j = i
        while j < len(items) and items[j].at <= horizon:
            j += 1
        batch = items[i:j]
        outcomes = await publisher.send_batch([(s.event, s.source, None) for s in batch])
        for s, outcome in zip(batch, outcomes, strict=True):
            counts["failed" if outcome is not None else (s.anomaly or "published")] += 1
        if on_batch is not None:
            on_batch(len(batch))
        i = j
    return counts
