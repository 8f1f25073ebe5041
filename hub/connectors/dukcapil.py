"""Civil registry (Dinas Kependudukan dan Pencatatan Sipil): KTP-el, KK, KIA, birth and death certificates.

Its system (SIAK) reports workflow step codes; they are mapped here to the lifecycle's native
vocabulary for ``dukcapil`` (``hub.core.lifecycle``), and the code itself is kept as ``native_status``.
Plain Indonesian statuses ("diverifikasi", "menunggu blangko", ...) are accepted as they are.
"""

from __future__ import annotations

from pathlib import Path

from hub.connectors.agency import AgencyConnector, AgencyProfile
from hub.settings import Settings

PROFILE = AgencyProfile(
    agency="dukcapil",
    source_system="siak-dukcapil",
    codes={
        "BERKAS_MASUK": "berkas diterima",
        "VERIFIKASI_OK": "diverifikasi",
        "BERKAS_KURANG": "dikembalikan",
        "TOLAK": "ditolak",
        "REKAM": "perekaman",  # biometric capture
        "CETAK": "proses cetak",
        "BLANGKO_HABIS": "menunggu blangko",  # blank KTP-el card stock ran out
        "TTE": "sudah tte",  # electronically signed
        "SIAP_AMBIL": "siap diambil",
        "SERAH": "diserahkan",
        "BATAL": "dibatalkan",
    },
)


def connector(settings: Settings, state_dir: Path, **kwargs: object) -> AgencyConnector:
    return AgencyConnector(settings, PROFILE, state_dir, **kwargs)  # type: ignore[arg-type]
