"""Health insurance BPJS Kesehatan (Kantor Cabang Banyuwangi): JKN registration, change of facility,
newborns. Health data is "specific" personal data (UU 27/2022): the updates carry statuses only.

Its membership system reports status codes; they are mapped here to the lifecycle's native vocabulary
for ``bpjs_kesehatan``; the code itself is kept as ``native_status``.
"""

from __future__ import annotations

from pathlib import Path

from hub.connectors.agency import AgencyConnector, AgencyProfile
from hub.settings import Settings

PROFILE = AgencyProfile(
    agency="bpjs_kesehatan",
    source_system="bpjs-kepesertaan",
    codes={
        "REG": "diterima",
        "VERIF": "diverifikasi",
        "PERBAIKAN": "perbaikan data",  # returned to the citizen to fix the data
        "VA_TERBIT": "menunggu pembayaran",  # virtual account for the first premium issued
        "MENUNGGU_AKTIVASI": "menunggu aktivasi",
        "AKTIF": "aktif",  # membership active: done
        "TOLAK": "ditolak",
        "BATAL": "dibatalkan",
    },
)


def connector(settings: Settings, state_dir: Path, **kwargs: object) -> AgencyConnector:
    return AgencyConnector(settings, PROFILE, state_dir, **kwargs)  # type: ignore[arg-type]
