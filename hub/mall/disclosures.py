""""Who received my data" (UU 27/2022 art. 31-32) and the scope of a breach, from the audit topic's records.

A citizen is found by the keyed hash of their NIK (``hub.core.enrichment.citizen_ref`` under
``HUB_CITIZEN_REF_KEY``): the manager types the NIK, the service hashes it and forgets it; the view stores
only the hashes the hub put in the audit records. Each disclosure is one delivery that carried personal
fields: recipient, fields, purpose, channel, time.

Exports for the citizen: CSV (UTF-8, one row per delivery) and PDF. The PDF is drawn with fpdf2 (pure Python,
maintained, no system libraries) with its core Helvetica font, so text is limited to Latin-1: anything else is
replaced, which Bahasa Indonesia never needs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from hub.core import catalogue, sla
from hub.core.records import AuditEntry

__all__ = ["CitizenScope", "Disclosure", "breach_scope", "disclosures_of", "recipient_name", "to_csv",
           "to_pdf"]

@dataclass(frozen=True, slots=True)
class Disclosure:
    """One delivery of a citizen's personal data (UU 27/2022 art. 31-32), from the audit topic."""

    audit_id: str
    index: int
    citizen_ref: str | None
    request_id: str
    service_code: str
    recipient: str  # the audience: "agency:<code>", "citizen" (the notice service), ...
    topic: str
    fields: tuple[str, ...]
    purpose: str
    channel: str
    recorded_at: datetime
    event_type: str


def disclosures_of(entry: AuditEntry) -> list[Disclosure]:
    """The deliveries of an audit entry that carried personal fields (the others disclosed nothing)."""
    return [Disclosure(entry.audit_id, i, entry.citizen_ref, entry.request_id, entry.service_code, d.audience,
                       d.topic, tuple(sorted(d.personal_fields)), d.purpose, d.channel, entry.recorded_at,
                       entry.event_type)
            for i, d in enumerate(entry.deliveries) if d.personal_fields]


def recipient_name(recipient: str) -> str:
    """A recipient as a person reads it: the agency's full name, or what the audience is."""
    if recipient.startswith("agency:"):
        code = recipient.split(":", 1)[1]
        for service in catalogue.services_of(code) if code in catalogue.agencies() else ():
            return service.agency_name
        return code
    return {"citizen": "Layanan notifikasi pemohon (SMS/WhatsApp)", "journey": "Hub (status layanan terpadu)",
            "mpp": "Mal Pelayanan Publik", "lifecycle": "Hub (catatan status)"}.get(recipient, recipient)


CSV_COLUMNS = ("recorded_at", "recipient", "recipient_name", "fields", "purpose", "channel", "request_id",
               "service_code")
FIELD_NAMES = {"nik": "NIK", "kk_number": "Nomor KK", "name": "Nama", "birth_date": "Tanggal lahir",
               "address": "Alamat", "phone": "Nomor telepon", "bpjs_number": "Nomor BPJS",
               "idpel": "IDPEL PLN"}


def field_names(fields: Iterable[str]) -> str:
    return ", ".join(FIELD_NAMES.get(f, f) for f in fields)


def local(at: datetime) -> str:
    return at.astimezone(sla.WIB).strftime("%Y-%m-%d %H:%M WIB")


def to_csv(items: Iterable[Disclosure]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for d in items:
        writer.writerow([d.recorded_at.isoformat(), d.recipient, recipient_name(d.recipient),
                         " ".join(d.fields),
                         d.purpose, d.channel, d.request_id, d.service_code])
    return out.getvalue()


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def to_pdf(items: list[Disclosure], *, generated_at: datetime) -> bytes:
    """A letter-like PDF for the citizen: who received which of their data, when, why and how."""
    from fpdf import FPDF

    pdf = FPDF(orientation="L", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, _latin1("Mal Pelayanan Publik Kabupaten Banyuwangi"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, _latin1(
        "Daftar penerimaan data pribadi Anda (UU 27/2022 tentang Pelindungan Data Pribadi, pasal 31-32). "
        f"Dibuat {local(generated_at)}; {len(items)} pengiriman tercatat."), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    widths = (36, 70, 50, 80, 18, 0)
    heads = ("Waktu", "Penerima", "Data", "Tujuan", "Saluran", "Permohonan")
    pdf.set_font("Helvetica", "B", 9)
    for w, h in zip(widths, heads, strict=True):
        pdf.cell(w or 0, 6, h, border=1, new_x="RIGHT" if w else "LMARGIN", new_y="TOP" if w else "NEXT")
    pdf.set_font("Helvetica", "", 8)
    for d in items:
        cells = (local(d.recorded_at), recipient_name(d.recipient), field_names(d.fields), d.purpose,
                 d.channel,
                 d.request_id)
        for w, text in zip(widths, cells, strict=True):
            pdf.cell(w or 0, 6, _latin1(text)[:90], border=1, new_x="RIGHT" if w else "LMARGIN",
                     new_y="TOP" if w else "NEXT")
    if not items:
        pdf.cell(0, 6, "Tidak ada pengiriman data pribadi yang tercatat.", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


@dataclass(frozen=True, slots=True)
class CitizenScope:
    """What one citizen (by reference) lost to a recipient in a window: for a breach notice within 3x24 h."""

    citizen_ref: str | None
    fields: tuple[str, ...]
    deliveries: int
    requests: tuple[str, ...]
    first: datetime
    last: datetime


def breach_scope(items: Iterable[Disclosure]) -> list[CitizenScope]:
    """Disclosures to one recipient grouped by citizen: the union of fields, how often, which requests."""
    groups: dict[str | None, list[Disclosure]] = {}
    for d in items:
        groups.setdefault(d.citizen_ref, []).append(d)
    out = [CitizenScope(ref, tuple(sorted({f for d in ds for f in d.fields})), len(ds),
                        tuple(sorted({d.request_id for d in ds})), min(d.recorded_at for d in ds),
                        max(d.recorded_at for d in ds)) for ref, ds in groups.items()]
    return sorted(out, key=lambda c: (c.first, c.citizen_ref or ""))
