"""Electricity utility PT PLN (UP3 Banyuwangi): new connections and more power.

Its customer-service system (AP2T) reports stage codes; they are mapped here to the lifecycle's native
vocabulary for ``pln``; the code itself is kept as ``native_status``.
"""

from __future__ import annotations

from pathlib import Path

from hub.connectors.agency import AgencyConnector, AgencyProfile
from hub.settings import Settings

PROFILE = AgencyProfile(
    agency="pln",
    source_system="pln-ap2t",
    codes={
        "REG": "registrasi",
        "SURVEY": "survei",
        "RAB": "perencanaan",  # cost estimate / network design
        "TAGIH": "menunggu pembayaran",  # connection fee invoiced
        "BAYAR": "lunas",
        "PK": "pemasangan",  # work order issued to the installer
        "NYALA": "nyala",  # energised: done
        "BATAL": "dibatalkan",
        "TOLAK": "ditolak",
    },
)


def connector(settings: Settings, state_dir: Path, **kwargs: object) -> AgencyConnector:
    return AgencyConnector(settings, PROFILE, state_dir, **kwargs)  # type: ignore[arg-type]
