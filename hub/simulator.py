"""Simulated Smart Kampung traffic: realistic new requests from Banyuwangi's 217 villages.

Deterministic: the same seed gives the same requests (ids included). The service mix follows the
service mall's volumes: civil-registry papers first, then utilities, health insurance, police, KUA, land.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from hub.connectors.village_desk import submission
from hub.core import regions
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
GIVEN_M = ["Agus", "Budi", "Slamet", "Eko", "Hadi", "Joko", "Wahyu", "Rudi", "Bambang", "Arif", "Yusuf", "Dani"]
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
                   name=name, phone=f"08{rng.randint(11, 99)}{rng.randrange(10**8):08d}")


def village_requests(n: int, *, seed: int = 1, now: datetime | None = None) -> Iterator[RequestLifecycleEvent]:
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
