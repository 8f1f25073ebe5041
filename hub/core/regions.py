"""Kemendagri region codes for Kabupaten Banyuwangi (35.10), loaded lazily from package data.

Codes are dotted (``35``, ``35.10``, ``35.10.21``, ``35.10.21.2003``); key on the code, never on
the name (two villages are called Tamansari). Data: ``hub/data/banyuwangi_wilayah.csv`` and
``banyuwangi_kodepos.csv`` (MIT, see ``hub/data/LICENSE-wilayah.md``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Any, Final

from hub.core.errors import ValidationError
from hub.errors import echo

__all__ = [
    "FORMER_KECAMATAN",
    "LEVELS",
    "NIK_KECAMATAN_PREFIXES",
    "Region",
    "UnknownRegion",
    "kecamatan",
    "nik_prefix",
    "nik_prefixes",
    "region",
    "villages",
    "villages_in",
]

LEVELS: Final = ("provinsi", "kabupaten", "kecamatan", "desa", "kelurahan")
_VILLAGE_LEVELS: Final = frozenset({"desa", "kelurahan"})
_CODE_RE: Final = {
    "provinsi": re.compile(r"[0-9]{2}"),
    "kabupaten": re.compile(r"[0-9]{2}\.[0-9]{2}"),
    "kecamatan": re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}"),
    "desa": re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[23][0-9]{3}"),  # 2 desa, 3 desa adat
    "kelurahan": re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.1[0-9]{3}"),
}

#: Current kecamatan code -> earlier kecamatan codes whose NIK prefixes its residents may still
#: carry (a NIK keeps the kecamatan where it was issued). Blimbingsari (35.10.25) was split from
#: Rogojampi (35.10.13): residents registered before the split carry 351013. Former codes need not
#: exist any more; every one of them is accepted as a Banyuwangi NIK prefix.
FORMER_KECAMATAN: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {"35.10.25": ("35.10.13",)}
)


@dataclass(frozen=True, slots=True)
class Region:
    """One region. ``kecamatan_*`` is the region itself for a kecamatan, None above it."""

    code: str
    name: str
    level: str  # provinsi | kabupaten | kecamatan | desa | kelurahan
    kecamatan_code: str | None
    kecamatan_name: str | None
    postal_code: str | None


class UnknownRegion(ValidationError):
    """A region code that is not in the Banyuwangi reference data."""

    def __init__(self, code: object, field: str = "region_code") -> None:
        hint = ""
        if isinstance(code, str) and re.fullmatch(r"[0-9]{10}", code):
            hint = f" (use the dotted form {code[:2]}.{code[2:4]}.{code[4:6]}.{code[6:]})"
        super().__init__(field, f"unknown region code {echo(code)}{hint}")
        self.code = code
        self.args = (code, field)


@dataclass(frozen=True, slots=True)
class _Data:
    by_code: Mapping[str, Region]
    villages: tuple[Region, ...]
    kecamatan: tuple[Region, ...]
    nik_prefixes: frozenset[str]


def _read(name: str) -> list[dict[str, str]]:
    text = files("hub").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def nik_prefix(kecamatan_code: str) -> str:
    """``"35.10.21"`` -> ``"351021"`` (the PPKKCC part of a NIK)."""
    return kecamatan_code.replace(".", "")


def _build(rows: list[dict[str, str]], postal_rows: list[dict[str, str]]) -> _Data:
    names: dict[str, tuple[str, str]] = {}
    for row in rows:
        code, name, level = row["code"].strip(), row["name"].strip(), row["level"].strip()
        if level not in _CODE_RE or not _CODE_RE[level].fullmatch(code) or not name:
            raise ValueError(f"bad region row {row!r}")
        if code in names:
            raise ValueError(f"duplicate region code {code}")
        names[code] = (name, level)
    postal: dict[str, str] = {}
    for row in postal_rows:
        code, pos = row["code"].strip(), row["kode_pos"].strip()
        if names.get(code, ("", ""))[0] != row["name"].strip() or not re.fullmatch(r"[0-9]{5}", pos):
            raise ValueError(f"postal row does not match the region list: {row!r}")
        postal[code] = pos
    by_code: dict[str, Region] = {}
    for code, (name, level) in names.items():
        kec: str | None = None
        if level == "kecamatan":
            kec = code
        elif level in _VILLAGE_LEVELS:
            kec = code[:8]
            if names.get(kec, ("", ""))[1] != "kecamatan":
                raise ValueError(f"village {code} has no kecamatan {kec}")
        by_code[code] = Region(
            code=code,
            name=name,
            level=level,
            kecamatan_code=kec,
            kecamatan_name=names[kec][0] if kec else None,
            postal_code=postal.get(code),
        )
    ordered = sorted(by_code.values(), key=lambda r: r.code)
    kec_regions = tuple(r for r in ordered if r.level == "kecamatan")
    prefixes = {nik_prefix(r.code) for r in kec_regions}
    prefixes.update(nik_prefix(c) for olds in FORMER_KECAMATAN.values() for c in olds)
    return _Data(
        by_code=MappingProxyType(by_code),
        villages=tuple(r for r in ordered if r.level in _VILLAGE_LEVELS),
        kecamatan=kec_regions,
        nik_prefixes=frozenset(prefixes),
    )


@cache
def _data() -> _Data:
    return _build(_read("banyuwangi_wilayah.csv"), _read("banyuwangi_kodepos.csv"))


def region(code: str) -> Region:
    """The region with this dotted code; raises :class:`UnknownRegion`."""
    found = _data().by_code.get(code) if isinstance(code, str) else None
    if found is None:
        raise UnknownRegion(code)
    return found


def villages() -> tuple[Region, ...]:
    """All desa and kelurahan, sorted by code."""
    return _data().villages


def villages_in(kecamatan_code: str) -> tuple[Region, ...]:
    """The desa and kelurahan of one kecamatan (raises :class:`ValidationError`)."""
    try:
        level = region(kecamatan_code).level
    except UnknownRegion:
        raise UnknownRegion(kecamatan_code, field="kecamatan_code") from None
    if level != "kecamatan":
        raise ValidationError("kecamatan_code", f"{kecamatan_code} is a {level}, not a kecamatan")
    return tuple(v for v in _data().villages if v.kecamatan_code == kecamatan_code)


def kecamatan() -> tuple[Region, ...]:
    """All kecamatan, sorted by code."""
    return _data().kecamatan


def nik_prefixes() -> frozenset[str]:
    """6-digit NIK prefixes (PPKKCC) valid for Banyuwangi: current and former kecamatan."""
    return _data().nik_prefixes


NIK_KECAMATAN_PREFIXES: frozenset[str]  # provided lazily by __getattr__ (no I/O at import)


def __getattr__(name: str) -> Any:
    if name == "NIK_KECAMATAN_PREFIXES":
        return nik_prefixes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
