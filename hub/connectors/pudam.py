"""Water utility PUDAM Banyuwangi: new drinking-water connections.

Its billing system reports stage codes; they are mapped here to the lifecycle's native vocabulary for
``pudam``; the code itself is kept as ``native_status``.
"""

from __future__ import annotations

from pathlib import Path

from hub.connectors.agency import AgencyConnector, AgencyProfile
from hub.settings import Settings

PROFILE = AgencyProfile(
    agency="pudam",
    source_system="pudam-sambungan",
    codes={
        "DAFTAR": "diterima",
        "SURVEI": "survei",
        "TAGIHAN": "menunggu pembayaran",
        "LUNAS": "lunas",
        "PASANG": "pemasangan",
        "ALIR": "mengalir",  # water flows: done
        "BATAL": "dibatalkan",
        "TOLAK": "ditolak",
    },
)


def connector(settings: Settings, state_dir: Path, **kwargs: object) -> AgencyConnector:
    return AgencyConnector(settings, PROFILE, state_dir, **kwargs)  # type: ignore[arg-type]
