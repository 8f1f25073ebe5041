"""Citizen notices: short messages in Bahasa Indonesia for the status changes a citizen cares about. Pure.

A notice names the service, the request number and, where the citizen must go somewhere, the place.
It never contains the NIK, the name or any other personal data (the phone number travels beside the
text, in the notice record, because sending it is the notice's purpose).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from hub.core.catalogue import Service
from hub.core.lifecycle import Status

__all__ = ["MAX_LENGTH", "NOTIFY", "SHORT_NAMES", "breach_text", "journey_text", "pickup_place",
           "short_name", "text_for"]

MAX_LENGTH = 480
MAX_NOTE = 120

#: Statuses worth a message. RECEIVED counts only as the first status (the desk registered it).
NOTIFY: frozenset[Status] = frozenset({
    Status.SUBMITTED, Status.RECEIVED, Status.RETURNED, Status.REJECTED, Status.READY, Status.COMPLETED,
    Status.CANCELLED, Status.EXPIRED})

SHORT_NAMES: Mapping[str, str] = MappingProxyType({
    "DUKCAPIL_KTP_EL": "KTP-el",
    "DUKCAPIL_KK": "Kartu Keluarga",
    "DUKCAPIL_KIA": "KIA",
    "DUKCAPIL_AKTA_KELAHIRAN": "akta kelahiran",
    "DUKCAPIL_AKTA_KEMATIAN": "akta kematian",
    "DUKCAPIL_PINDAH_KELUAR": "surat pindah (SKPWNI)",
    "DUKCAPIL_PINDAH_DATANG": "pindah datang",
    "DUKCAPIL_VERIFIKASI_NIK": "verifikasi NIK",
    "PLN_PASANG_BARU_TANPA_PERLUASAN": "pasang baru listrik",
    "PLN_PASANG_BARU_PERLUASAN_JARINGAN": "pasang baru listrik",
    "PLN_PASANG_BARU_GARDU_BARU": "pasang baru listrik",
    "PLN_TAMBAH_DAYA": "tambah daya listrik",
    "PUDAM_SAMBUNGAN_BARU": "sambungan air PUDAM",
    "BPJS_KESEHATAN_PENDAFTARAN": "pendaftaran BPJS Kesehatan",
    "BPJS_KESEHATAN_BAYI_BARU_LAHIR": "pendaftaran BPJS Kesehatan bayi",
    "POLRI_SKCK": "SKCK",
    "KUA_PENDAFTARAN_NIKAH": "pendaftaran nikah",
    "KUA_PENDAFTARAN_NIKAH_LUAR_KANTOR": "pendaftaran nikah",
})

_PAREN = re.compile(r"\(([^)]{2,30})\)")
_MPP = "Mal Pelayanan Publik Banyuwangi"


def short_name(service: Service) -> str:
    """How a citizen calls the service: 'KTP-el', 'Kartu Keluarga', ..."""
    if service.code in SHORT_NAMES:
        return SHORT_NAMES[service.code]
    found = _PAREN.search(service.name_id)
    return found.group(1) if found else service.name_id


def pickup_place(service: Service, village_name: str) -> str:
    """Where the citizen collects the result: the village office for desk letters, else the MPP."""
    if service.agency == "desa":
        return f"Kantor Desa {village_name}"
    return _MPP


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LENGTH else text[:MAX_LENGTH - 1] + "…"


def text_for(status: Status, service: Service, request_id: str, village_name: str, *,
             first: bool = False, note: str | None = None) -> str | None:
    """The message for a request that has just reached ``status`` (None: nothing to tell).

    ``first``: the status is the request's first one (only then SUBMITTED/RECEIVED are told).
    ``note``: the agency's short reason (a RETURNED or REJECTED request), clipped.
    """
    name = short_name(service)
    head = f"Permohonan {name} Anda ({request_id})"
    reason = f" Keterangan: {note.strip()[:MAX_NOTE]}." if note and note.strip() else ""
    if status in (Status.SUBMITTED, Status.RECEIVED):
        if not first:
            return None
        return _clip(f"{head} sudah kami terima dan sedang diproses oleh {service.agency_name}.")
    if status is Status.RETURNED:
        return _clip(f"{head} dikembalikan untuk dilengkapi.{reason} Silakan perbaiki berkas Anda di "
                     f"{pickup_place(service, village_name)}.")
    if status is Status.REJECTED:
        return _clip(f"{head} ditolak.{reason}")
    if status is Status.READY:
        return _clip(f"{head} sudah selesai dan dapat diambil di {pickup_place(service, village_name)}.")
    if status is Status.COMPLETED:
        return _clip(f"{head} telah selesai. Terima kasih.")
    if status is Status.CANCELLED:
        return _clip(f"{head} telah dibatalkan.")
    if status is Status.EXPIRED:
        return _clip(f"{head} kedaluwarsa karena tidak dilanjutkan. Silakan ajukan kembali bila masih "
                     f"diperlukan.")
    return None


def breach_text(service_name: str, request_id: str) -> str:
    """The apology when a request (or journey) passes its deadline."""
    return _clip(f"Mohon maaf, permohonan {service_name} Anda ({request_id}) melewati batas waktu layanan. "
                 f"Petugas kami sedang menindaklanjutinya.")


def journey_text(status: Status, journey_name: str, request_id: str) -> str | None:
    """The message for a journey (several agencies) that has just reached ``status``."""
    head = f"Layanan {journey_name} Anda ({request_id})"
    if status is Status.COMPLETED:
        return _clip(f"{head} telah selesai di semua instansi. Terima kasih.")
    if status is Status.REJECTED:
        return _clip(f"{head} tidak dapat diselesaikan karena salah satu permohonan ditolak.")
    if status is Status.CANCELLED:
        return _clip(f"{head} telah dibatalkan.")
    if status is Status.EXPIRED:
        return _clip(f"{head} kedaluwarsa karena tidak dilanjutkan.")
    return None
