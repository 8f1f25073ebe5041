"""CSV batch import for village desks that work offline: rows become SUBMITTED events in the outbox.

Columns (header row, order free; unknown columns are refused): ``region_code, desk_number,
service_code, nik, kk_number, name, birth_date (YYYY-MM-DD), address, phone, bpjs_number, idpel,
occurred_at (ISO 8601 with offset, optional), note``.

``parse_rows`` is pure: good rows become events, bad rows become ``RowError``s (line, field, reason),
every problem of a row at once. ``import_file`` commits the good rows to the durable outbox (in
transactions of ``batch`` rows; re-importing a file is harmless: stable event ids), shows a progress bar
and writes the error report; ``hub.cli.connectors`` forwards the outbox when the hub is reachable.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hub.connectors.outbox import Outbox
from hub.connectors.village_desk import CitizenIn, SubmitIn, build_submission, parse, source_of
from hub.core.errors import ValidationError, ValidationErrors
from hub.core.models import RequestLifecycleEvent

CITIZEN = ("nik", "kk_number", "name", "birth_date", "address", "phone", "bpjs_number", "idpel")
COLUMNS = ("region_code", "desk_number", "service_code", *CITIZEN, "occurred_at", "note")
REQUIRED = ("region_code", "desk_number", "service_code")


@dataclass(frozen=True, slots=True)
class RowError:
    line: int  # line number in the file (the header is line 1)
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class Parsed:
    events: list[RequestLifecycleEvent]
    errors: list[RowError]
    rows: int

    @property
    def bad_rows(self) -> int:
        return len({e.line for e in self.errors})


def _body(row: dict[str, str]) -> dict[str, object]:
    cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
    return {
        "region_code": cells.get("region_code", ""), "desk_number": cells.get("desk_number", ""),
        "service_code": cells.get("service_code", ""),
        "citizen": {k: cells[k] for k in CITIZEN if cells.get(k)},
        **({"occurred_at": cells["occurred_at"]} if cells.get("occurred_at") else {}),
        **({"note": cells["note"]} if cells.get("note") else {}),
    }


def iter_rows(text: str, *, region: str | None = None, now: datetime | None = None,
              ) -> Iterator[tuple[int, RequestLifecycleEvent | None, list[RowError]]]:
    """(line, event or None, errors) per data row. ``region``: the importing village, others refused."""
    now = now or datetime.now(UTC)
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or ()]
    reader.fieldnames = header
    unknown = [h for h in header if h not in COLUMNS]
    missing = [h for h in REQUIRED if h not in header]
    if unknown or missing:
        raise ValidationErrors(
            [ValidationError("header", f"unknown column {h!r} (expected {', '.join(COLUMNS)})")
             for h in unknown] +
            [ValidationError("header", f"required column {h!r} is missing") for h in missing])
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        extra = row.get(None)  # csv's restkey: cells beyond the header
        if extra:
            yield line, None, [RowError(line, "(row)", f"{len(extra)} cells more than the header")]
            continue
        try:
            data = parse(SubmitIn, _body(row))
            event = build_submission(data, token_region=region, now=now)  # type: ignore[arg-type]
        except PermissionError as exc:
            field, _, reason = str(exc).partition(": ")
            yield line, None, [RowError(line, field, reason)]
            continue
        except ValidationErrors as exc:
            yield line, None, [RowError(line, e.field, e.reason) for e in exc.errors]
            continue
        if event.request_id in seen:
            yield line, None, [RowError(
                line, "desk_number", f"{row['desk_number']} already used on line {seen[event.request_id]}")]
            continue
        seen[event.request_id] = line
        yield line, event, []


def parse_rows(text: str, *, region: str | None = None, now: datetime | None = None) -> Parsed:
    events: list[RequestLifecycleEvent] = []
    errors: list[RowError] = []
    rows = 0
    for _, event, errs in iter_rows(text, region=region, now=now):
        rows += 1
        errors += errs
        if event is not None:
            events.append(event)
    return Parsed(events, errors, rows)


def report_csv(errors: Iterable[RowError]) -> str:
    """The per-row error report as CSV text (line, field, reason)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "field", "reason"])
    writer.writerows((e.line, e.field, e.reason) for e in errors)
    return out.getvalue()


def template() -> str:
    """An empty import file with the header (and one example row) for village operators."""
    example = {"region_code": "35.10.21.2003", "desk_number": "2026-0001", "service_code": "DUKCAPIL_KTP_EL",
               "nik": "3510214107900001", "kk_number": "3510210101150001", "name": "Siti Rahmawati",
               "note": "contoh"}
    return ",".join(COLUMNS) + "\n" + ",".join(example.get(c, "") for c in COLUMNS) + "\n"


def import_file(path: Path, outbox: Outbox, *, region: str | None = None, report: Path | None = None,
                on_row: Callable[[], object] | None = None, batch: int = 500) -> tuple[Parsed, int]:
    """Import ``path`` into ``outbox`` (an ``Outbox``); returns (parsed, newly enqueued).
    ``on_row`` is called after each data row (a progress bar)."""
    text = Path(path).read_text(encoding="utf-8-sig")
    rows = iter_rows(text, region=region)
    events: list[RequestLifecycleEvent] = []
    errors: list[RowError] = []
    count = new = 0
    pending: list[RequestLifecycleEvent] = []
    for _, event, errs in rows:
        count += 1
        errors += errs
        if event is not None:
            events.append(event)
            pending.append(event)
        if len(pending) >= batch:
            new += outbox.enqueue((e, source_of(e.region_code)) for e in pending)
            pending.clear()
        if on_row is not None:
            on_row()
    if pending:
        new += outbox.enqueue((e, source_of(e.region_code)) for e in pending)
    if report is not None:
        Path(report).write_text(report_csv(errors), encoding="utf-8")
    return Parsed(events, errors, count), new


# Keep the desk's citizen model referenced: the CSV columns are exactly its fields.
assert set(CITIZEN) == set(CitizenIn.model_fields)


def count_rows(path: Path) -> int:
    """Data rows in a CSV file (for the progress bar's length)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        return max(sum(1 for _ in csv.reader(f)) - 1, 0)
