"""Service catalogue: completeness, brief's service-level norms, data minimisation, loader checks."""

from __future__ import annotations

import re

import pytest

from hub.core.catalogue import (
    PERSONAL_DATA_FIELDS,
    SLA_KINDS,
    UnknownService,
    agencies,
    parse_services,
    service,
    services,
    services_of,
)
from hub.core.errors import ValidationError

AGENCIES = (
    "bpjs_kesehatan", "bpjs_tk", "bpn", "bpom", "desa", "dukcapil",
    "kua", "pajak", "pln", "polri", "pudam", "samsat",
)  # fmt: skip

# Service-level norms from the brief (standar pelayanan): code -> (working days, kind).
BRIEF_NORMS = {
    "DUKCAPIL_KTP_EL": (1, "working_days"),
    "DUKCAPIL_KK": (1, "working_days"),
    "DUKCAPIL_KIA": (1, "working_days"),
    "DUKCAPIL_AKTA_KELAHIRAN": (0, "working_days"),
    "DUKCAPIL_AKTA_KEMATIAN": (0, "working_days"),
    "PLN_PASANG_BARU_TANPA_PERLUASAN": (5, "working_days"),
    "PLN_PASANG_BARU_PERLUASAN_JARINGAN": (15, "working_days"),
    "PLN_PASANG_BARU_GARDU_BARU": (25, "working_days"),
    "PLN_TAMBAH_DAYA": (5, "working_days"),
    "POLRI_SKCK": (0, "working_days"),
    "KUA_PENDAFTARAN_NIKAH": (10, "before_event"),
    "KUA_PENDAFTARAN_NIKAH_LUAR_KANTOR": (10, "before_event"),
    "BPN_PENGECEKAN_SERTIPIKAT": (1, "working_days"),
    "BPN_PERALIHAN_HAK": (5, "working_days"),
}

REQUIRED = {
    "DUKCAPIL_PINDAH_KELUAR", "DUKCAPIL_PINDAH_DATANG", "PUDAM_SAMBUNGAN_BARU",
    "BPJS_KESEHATAN_PENDAFTARAN", "BPJS_KESEHATAN_GANTI_FASKES", "BPJS_KESEHATAN_BAYI_BARU_LAHIR",
    "BPJS_TK_PENDAFTARAN_BPU", "DESA_PENGANTAR_KTP", "DESA_PENGANTAR_KK", "DESA_PENGANTAR_SKCK",
    "DESA_SKTM", "DESA_SKU", "DESA_DOMISILI",
} | set(BRIEF_NORMS)  # fmt: skip


def test_catalogue_size_and_agencies() -> None:
    assert 30 <= len(services()) <= 40
    assert agencies() == AGENCIES
    assert REQUIRED <= {s.code for s in services()}
    assert {s.agency for s in services_of("samsat")} == {"samsat"} and len(services_of("samsat")) >= 2
    assert len(services_of("pajak")) >= 1


def test_every_service_is_complete() -> None:
    codes = [s.code for s in services()]
    assert len(codes) == len(set(codes))
    for s in services():
        assert re.fullmatch(r"[A-Z0-9]+(_[A-Z0-9]+)+", s.code), s.code
        assert s.code.startswith(s.agency.upper() + "_"), s.code
        assert s.agency in AGENCIES and s.agency_name and s.name_id and s.name_en
        assert isinstance(s.sla_working_days, int) and s.sla_working_days >= 0
        assert s.sla_kind in SLA_KINDS
        assert isinstance(s.fee_idr, int) and s.fee_idr >= 0
        assert s.documents and all(d and ";" not in d for d in s.documents)
        assert s.personal_data and s.personal_data <= PERSONAL_DATA_FIELDS


@pytest.mark.parametrize(("code", "norm"), sorted(BRIEF_NORMS.items()))
def test_brief_service_levels(code: str, norm: tuple[int, str]) -> None:
    s = service(code)
    assert (s.sla_working_days, s.sla_kind) == norm


def test_only_kua_counts_before_the_event() -> None:
    assert {s.agency for s in services() if s.sla_kind == "before_event"} == {"kua"}


def test_fees() -> None:
    assert service("POLRI_SKCK").fee_idr == 30_000  # PP 76/2020
    assert service("KUA_PENDAFTARAN_NIKAH").fee_idr == 0
    assert service("KUA_PENDAFTARAN_NIKAH_LUAR_KANTOR").fee_idr == 600_000
    assert all(s.fee_idr == 0 for s in services_of("dukcapil"))  # UU 24/2013: free
    assert all(s.fee_idr == 0 for s in services_of("desa"))
    assert all(s.fee_idr > 0 for s in services_of("pln"))


def test_documents_in_indonesian() -> None:
    assert service("DESA_PENGANTAR_KTP").documents == (
        "Surat pengantar RT/RW",
        "Kartu Keluarga",
        "Akta kelahiran",
    )
    assert "Surat pengantar desa/kelurahan" in service("POLRI_SKCK").documents


def test_personal_data_is_minimised() -> None:
    assert service("PLN_PASANG_BARU_TANPA_PERLUASAN").personal_data == {"nik", "name", "address", "phone"}
    assert service("BPJS_KESEHATAN_GANTI_FASKES").personal_data == {"nik", "name", "bpjs_number"}
    assert "idpel" in service("PLN_TAMBAH_DAYA").personal_data
    for s in services():
        if "idpel" in s.personal_data:
            assert s.agency == "pln", s.code
        if "bpjs_number" in s.personal_data:
            assert s.agency == "bpjs_kesehatan", s.code
    assert service("BPOM_KONSULTASI_IZIN_EDAR").personal_data.isdisjoint({"nik", "kk_number"})


def test_services_of() -> None:
    pln = services_of("pln")
    assert sorted(s.sla_working_days for s in pln) == [5, 5, 15, 25]
    assert services_of("nobody") == ()
    assert all(s.agency == "desa" for s in services_of("desa")) and len(services_of("desa")) >= 6


def test_unknown_service() -> None:
    with pytest.raises(UnknownService) as info:
        service("DUKCAPIL_KTP")
    assert isinstance(info.value, ValidationError)
    assert str(info.value) == "service_code: unknown service code 'DUKCAPIL_KTP'"
    with pytest.raises(UnknownService):
        service("dukcapil_ktp_el")


HEADER = "code,agency,agency_name,name_id,name_en,sla_working_days,sla_kind,fee_idr,documents,personal_data\n"
ROW = "X_Y,x,Agency X,Layanan,Service,{sla},{kind},0,Dok A;Dok B,{pd}\n"


def test_parse_services_good_row() -> None:
    (svc,) = parse_services(HEADER + ROW.format(sla=3, kind="working_days", pd="nik; name"))
    assert (svc.code, svc.sla_working_days, svc.documents) == ("X_Y", 3, ("Dok A", "Dok B"))
    assert svc.personal_data == frozenset({"nik", "name"})


@pytest.mark.parametrize(
    ("row", "match"),
    [
        (ROW.format(sla=-1, kind="working_days", pd="nik"), "non-negative"),
        (ROW.format(sla="", kind="working_days", pd="nik"), "non-negative"),
        (ROW.format(sla=1, kind="calendar_days", pd="nik"), "sla_kind"),
        (ROW.format(sla=1, kind="working_days", pd="nik;religion"), "religion"),
        (ROW.format(sla=1, kind="working_days", pd="nik").replace("X_Y", "x_y"), "uppercase"),
        (ROW.format(sla=1, kind="working_days", pd="nik") * 2, "duplicate"),
    ],
)
def test_parse_services_rejects(row: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_services(HEADER + row)


def test_parse_services_requires_columns() -> None:
    with pytest.raises(ValueError, match="personal_data"):
        parse_services(HEADER.replace(",personal_data", "") + "X_Y,x,A,B,C,1,working_days,0,D\n")
