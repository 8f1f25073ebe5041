"""Region reference data: counts, known codes, NIK prefixes, loader checks."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from hub.core import regions
from hub.core.errors import ValidationError
from hub.core.regions import (
    FORMER_KECAMATAN,
    NIK_KECAMATAN_PREFIXES,
    Region,
    UnknownRegion,
    kecamatan,
    region,
    villages,
    villages_in,
)


def test_counts_match_kemendagri() -> None:
    assert len(kecamatan()) == 25
    assert len(villages()) == 217
    levels = [v.level for v in villages()]
    assert levels.count("desa") == 189
    assert levels.count("kelurahan") == 28


def test_sorted_by_code_and_unique() -> None:
    codes = [v.code for v in villages()]
    assert codes == sorted(codes)
    assert len(set(codes)) == 217
    assert [k.code for k in kecamatan()] == [f"35.10.{n:02d}" for n in range(1, 26)]


def test_ketapang_exists() -> None:
    ketapang = region("35.10.21.2003")
    assert ketapang == Region(
        code="35.10.21.2003",
        name="Ketapang",
        level="desa",
        kecamatan_code="35.10.21",
        kecamatan_name="Kalipuro",
        postal_code=ketapang.postal_code,
    )
    assert ketapang.postal_code is not None and re.fullmatch(r"684[0-9]{2}", ketapang.postal_code)


def test_two_tamansari_are_distinct() -> None:
    tamansari = [v for v in villages() if v.name == "Tamansari"]
    assert sorted(v.code for v in tamansari) == ["35.10.23.2003", "35.10.24.2008"]
    assert {v.kecamatan_name for v in tamansari} == {"Tegalsari", "Licin"}
    assert region("35.10.24.2008").kecamatan_name == "Licin"
    assert region("35.10.24.2004").name == "Banjar"


def test_upper_levels() -> None:
    assert region("35").level == "provinsi"
    kab = region("35.10")
    assert (kab.name, kab.level, kab.kecamatan_code, kab.postal_code) == (
        "Kabupaten Banyuwangi",
        "kabupaten",
        None,
        None,
    )
    kal = region("35.10.21")
    assert (kal.level, kal.kecamatan_code, kal.kecamatan_name) == ("kecamatan", "35.10.21", "Kalipuro")


def test_every_village_has_postal_code_and_parent() -> None:
    for v in villages():
        assert v.postal_code is not None and re.fullmatch(r"684[0-9]{2}", v.postal_code), v
        assert v.kecamatan_code == v.code[:8]
        assert region(v.kecamatan_code).name == v.kecamatan_name
        assert v.level == ("kelurahan" if v.code[9] == "1" else "desa")


def test_villages_in() -> None:
    blimbingsari = villages_in("35.10.25")
    assert len(blimbingsari) == 10
    assert "35.10.25.2001" in {v.code for v in blimbingsari}
    assert sum(len(villages_in(k.code)) for k in kecamatan()) == 217
    with pytest.raises(ValidationError, match=r"^kecamatan_code: 35\.10\.21\.2003 is a desa"):
        villages_in("35.10.21.2003")
    with pytest.raises(UnknownRegion) as info:
        villages_in("35.10.99")
    assert info.value.field == "kecamatan_code"


@pytest.mark.parametrize("bad", ["35.10.99", "35.10.21.9999", "", " 35.10.21.2003", "Ketapang"])
def test_unknown_region(bad: str) -> None:
    with pytest.raises(UnknownRegion) as info:
        region(bad)
    err = info.value
    assert isinstance(err, ValidationError) and isinstance(err, ValueError)
    assert err.field == "region_code"
    assert str(err) == f"region_code: unknown region code {bad!r}"


def test_unknown_region_hints_dotted_form_and_pickles() -> None:
    with pytest.raises(UnknownRegion, match=r"use the dotted form 35\.10\.21\.2003"):
        region("3510212003")
    with pytest.raises(UnknownRegion):
        region(3510212003)  # type: ignore[arg-type]
    err = pickle.loads(pickle.dumps(UnknownRegion("35.10.99", "village")))
    assert (type(err), err.field, err.code) == (UnknownRegion, "village", "35.10.99")


def test_nik_prefixes() -> None:
    assert len(NIK_KECAMATAN_PREFIXES) == 25
    assert {"351001", "351013", "351021", "351025"} <= NIK_KECAMATAN_PREFIXES
    assert "351026" not in NIK_KECAMATAN_PREFIXES and "351000" not in NIK_KECAMATAN_PREFIXES
    assert all(re.fullmatch(r"3510[0-9]{2}", p) for p in NIK_KECAMATAN_PREFIXES)
    assert NIK_KECAMATAN_PREFIXES == regions.nik_prefixes()


def test_former_kecamatan_are_accepted_prefixes() -> None:
    assert FORMER_KECAMATAN["35.10.25"] == ("35.10.13",)
    for current, olds in FORMER_KECAMATAN.items():
        assert region(current).level == "kecamatan"
        for old in olds:
            assert regions.nik_prefix(old) in NIK_KECAMATAN_PREFIXES


def test_missing_module_attribute() -> None:
    with pytest.raises(AttributeError):
        regions.NOT_THERE  # noqa: B018


def _rows(*items: tuple[str, str, str]) -> list[dict[str, str]]:
    return [{"code": c, "name": n, "level": lv} for c, n, lv in items]


def test_loader_rejects_inconsistent_data() -> None:
    base = [("35", "Jawa Timur", "provinsi"), ("35.10.01", "Pesanggaran", "kecamatan")]
    good = regions._build(_rows(*base, ("35.10.01.2001", "Sarongan", "desa")), [])
    assert len(good.villages) == 1 and good.nik_prefixes == {"351001"} | {"351013"}
    with pytest.raises(ValueError, match="duplicate"):
        regions._build(_rows(*base, ("35.10.01", "X", "kecamatan")), [])
    with pytest.raises(ValueError, match="no kecamatan"):
        regions._build(_rows(*base, ("35.10.02.2001", "Orphan", "desa")), [])
    with pytest.raises(ValueError, match="bad region row"):
        regions._build(_rows(*base, ("35.10.01.1001", "Wrong level", "desa")), [])
    postal = [{"code": "35.10.01.2001", "name": "Not Sarongan", "kode_pos": "68488"}]
    with pytest.raises(ValueError, match="postal row"):
        regions._build(_rows(*base, ("35.10.01.2001", "Sarongan", "desa")), postal)


def test_licence_file_ships_with_data() -> None:
    text = files("hub").joinpath("data", "LICENSE-wilayah.md").read_text(encoding="utf-8")
    assert "Licence of both sources: MIT." in text
    assert "Copyright (c) 2017 Cahya DSN" in text
    assert "github.com/harigro/areaid" in text


def test_import_does_no_io() -> None:
    code = (
        "import hub.core.validation, hub.core.regions as r, hub.core.catalogue as c\n"
        "assert r._data.cache_info().currsize == 0\n"
        "assert c._catalogue.cache_info().currsize == 0\n"
        "from hub.core.regions import NIK_KECAMATAN_PREFIXES\n"
        "assert r._data.cache_info().currsize == 1\n"
    )
    root = Path(__file__).resolve().parents[3]  # the repository
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, timeout=60)
