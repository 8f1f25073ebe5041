"""Citizen request lifecycle: canonical statuses, legal transitions, native-status maps.

Pure domain logic: no Faust, no Kafka, no I/O. `apply()` folds one agency event into a
request's state and says whether it was accepted and, if not, why.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from types import MappingProxyType
from typing import Any

__all__ = [
    "FIRST_STATUSES",
    "HISTORY_LIMIT",
    "NATIVE_STATUS",
    "PAUSES_SLA",
    "TERMINAL",
    "TRANSITIONS",
    "LifecycleError",
    "Outcome",
    "RequestState",
    "Status",
    "Transition",
    "apply",
    "is_allowed",
    "normalise_native",
    "to_canonical",
]

HISTORY_LIMIT = 20


class LifecycleError(ValueError):
    """A status or event that the lifecycle cannot interpret."""


class Status(StrEnum):
    """Canonical request status (values equal names: they double as Avro enum symbols)."""

    SUBMITTED = "SUBMITTED"  # diajukan
    RECEIVED = "RECEIVED"  # diterima (berkas masuk, belum diverifikasi)
    VERIFIED = "VERIFIED"  # diverifikasi
    RETURNED = "RETURNED"  # dikembalikan ke pemohon untuk diperbaiki (SLA paused)
    REJECTED = "REJECTED"  # ditolak
    IN_PROCESS = "IN_PROCESS"  # diproses
    WAITING_EXTERNAL = "WAITING_EXTERNAL"  # menunggu pihak lain (blangko, pembayaran, pengumuman)
    APPROVED = "APPROVED"  # disetujui / TTE (signed)
    READY = "READY"  # terbit / siap diambil
    COMPLETED = "COMPLETED"  # selesai / diambil
    CANCELLED = "CANCELLED"  # dibatalkan
    EXPIRED = "EXPIRED"  # kedaluwarsa


S = Status
TERMINAL: frozenset[Status] = frozenset({S.REJECTED, S.COMPLETED, S.CANCELLED, S.EXPIRED})
FIRST_STATUSES: frozenset[Status] = frozenset({S.SUBMITTED, S.RECEIVED})
PAUSES_SLA: frozenset[Status] = frozenset({S.RETURNED})

# ---------------------------------------------------------------------------------------
# Transition table.
#
# Main line ("ladder"): SUBMITTED < RECEIVED < VERIFIED < IN_PROCESS (~ WAITING_EXTERNAL)
#                       < APPROVED < READY < COMPLETED.
# * Forward skips along the ladder are legal. The hub observes agency systems, it is not
#   their authority, and agencies really skip: many verify implicitly (SUBMITTED ->
#   IN_PROCESS), same-day services (akta kelahiran/kematian, SKCK) often report only
#   "diajukan" then "selesai", some never report TTE or "siap diambil". Rejecting those
#   would lose real events; backward moves are what we guard against.
# * A status repeated with a new event id (X -> X) is legal for non-terminal X: it
#   carries a finer native status (PLN "survei" then "perencanaan" are both IN_PROCESS).
# * WAITING_EXTERNAL (blank KTP cards, citizen payment, statutory announcement, another
#   agency) is a side state of IN_PROCESS: it goes back to IN_PROCESS or forward.
# * RETURNED (dikembalikan) is possible from SUBMITTED..WAITING_EXTERNAL (defects are found
#   during verification or processing; not after approval). The citizen fixes it and it
#   comes back as SUBMITTED/RECEIVED (resubmission) or VERIFIED; IN_PROCESS is also
#   allowed (re-verification done implicitly, as for a first submission). A returned file
#   not fixed in time ends EXPIRED, or REJECTED where the agency closes it that way.
# * REJECTED (ditolak) only before approval. EXPIRED only where the citizen must act:
#   RETURNED (not fixed), WAITING_EXTERNAL (e.g. PLN/PUDAM connection fee unpaid), READY
#   (document never collected).
# * Any non-terminal status can be CANCELLED (dibatalkan, by the citizen or the agency).
# * Terminal statuses have no way out, not even to themselves.
# ---------------------------------------------------------------------------------------
_TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.SUBMITTED: frozenset({S.SUBMITTED, S.RECEIVED, S.VERIFIED, S.IN_PROCESS, S.WAITING_EXTERNAL,
                            S.APPROVED, S.READY, S.COMPLETED,
                            S.RETURNED, S.REJECTED, S.CANCELLED}),
    S.RECEIVED: frozenset({S.RECEIVED, S.VERIFIED, S.IN_PROCESS, S.WAITING_EXTERNAL,
                           S.APPROVED, S.READY, S.COMPLETED,
                           S.RETURNED, S.REJECTED, S.CANCELLED}),
    S.VERIFIED: frozenset({S.VERIFIED, S.IN_PROCESS, S.WAITING_EXTERNAL,
                           S.APPROVED, S.READY, S.COMPLETED,
                           S.RETURNED, S.REJECTED, S.CANCELLED}),
    S.RETURNED: frozenset({S.RETURNED, S.SUBMITTED, S.RECEIVED, S.VERIFIED, S.IN_PROCESS,
                           S.REJECTED, S.CANCELLED, S.EXPIRED}),
    S.IN_PROCESS: frozenset({S.IN_PROCESS, S.WAITING_EXTERNAL, S.APPROVED, S.READY, S.COMPLETED,
                             S.RETURNED, S.REJECTED, S.CANCELLED}),
    S.WAITING_EXTERNAL: frozenset({S.WAITING_EXTERNAL, S.IN_PROCESS, S.APPROVED, S.READY,
                                   S.COMPLETED, S.RETURNED, S.REJECTED, S.CANCELLED,
                                   S.EXPIRED}),
    S.APPROVED: frozenset({S.APPROVED, S.READY, S.COMPLETED, S.CANCELLED}),
    S.READY: frozenset({S.READY, S.COMPLETED, S.CANCELLED, S.EXPIRED}),
    S.REJECTED: frozenset(),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}
TRANSITIONS: Mapping[Status, frozenset[Status]] = MappingProxyType(_TRANSITIONS)


def is_allowed(src: Status, dst: Status) -> bool:
    """True if `src -> dst` is a legal transition."""
    return dst in _TRANSITIONS[src]


# ---------------------------------------------------------------------------------------
# Native (agency) statuses, lowercased and whitespace-normalised, to canonical ones.
# Every agency map extends the default one; unknown agencies use the default map.
# ---------------------------------------------------------------------------------------
_DEFAULT: dict[str, Status] = {
    "diajukan": S.SUBMITTED, "pengajuan": S.SUBMITTED, "permohonan": S.SUBMITTED,
    "pendaftaran": S.SUBMITTED, "terdaftar": S.SUBMITTED, "baru": S.SUBMITTED,
    "diterima": S.RECEIVED, "berkas diterima": S.RECEIVED,
    "verifikasi": S.RECEIVED,  # "in verification": at the agency, not yet verified
    "diverifikasi": S.VERIFIED, "terverifikasi": S.VERIFIED, "berkas lengkap": S.VERIFIED,
    "dikembalikan": S.RETURNED, "perlu perbaikan": S.RETURNED, "perbaikan": S.RETURNED,
    "revisi": S.RETURNED, "berkas tidak lengkap": S.RETURNED,
    "ditolak": S.REJECTED, "tidak memenuhi syarat": S.REJECTED,
    "diproses": S.IN_PROCESS, "proses": S.IN_PROCESS, "dalam proses": S.IN_PROCESS,
    "sedang diproses": S.IN_PROCESS,
    "menunggu": S.WAITING_EXTERNAL, "ditunda": S.WAITING_EXTERNAL,
    "disetujui": S.APPROVED, "tte": S.APPROVED, "sudah tte": S.APPROVED,
    "ditandatangani": S.APPROVED,
    "terbit": S.READY, "diterbitkan": S.READY, "siap diambil": S.READY, "siap": S.READY,
    "selesai": S.COMPLETED, "diambil": S.COMPLETED, "sudah diambil": S.COMPLETED,
    "diserahkan": S.COMPLETED,
    "dibatalkan": S.CANCELLED, "batal": S.CANCELLED,
    "kedaluwarsa": S.EXPIRED, "kadaluwarsa": S.EXPIRED, "kadaluarsa": S.EXPIRED,
    "kedaluarsa": S.EXPIRED,
}

_AGENCY_EXTRA: dict[str, dict[str, Status]] = {
    "dukcapil": {  # KTP-el, KK, KIA, akta
        "perekaman": S.IN_PROCESS, "proses cetak": S.IN_PROCESS, "pencetakan": S.IN_PROCESS,
        "menunggu blangko": S.WAITING_EXTERNAL,  # blank e-KTP card stock ran out
        "menunggu tte": S.IN_PROCESS,
        "dicetak": S.READY,
    },
    "pln": {  # new connection / more power
        "registrasi": S.RECEIVED,
        "survei": S.IN_PROCESS, "perencanaan": S.IN_PROCESS,
        "pembayaran": S.WAITING_EXTERNAL, "menunggu pembayaran": S.WAITING_EXTERNAL,
        "lunas": S.APPROVED, "sudah bayar": S.APPROVED,
        "penyambungan": S.APPROVED, "pemasangan": S.APPROVED,
        "nyala": S.COMPLETED, "menyala": S.COMPLETED, "sudah nyala": S.COMPLETED,
    },
    "pudam": {  # water connection
        "survei": S.IN_PROCESS,
        "pembayaran": S.WAITING_EXTERNAL, "menunggu pembayaran": S.WAITING_EXTERNAL,
        "lunas": S.APPROVED, "pemasangan": S.APPROVED,
        "terpasang": S.COMPLETED, "mengalir": S.COMPLETED,
    },
    "bpjs_kesehatan": {
        "menunggu pembayaran": S.WAITING_EXTERNAL, "menunggu aktivasi": S.WAITING_EXTERNAL,
        "perbaikan data": S.RETURNED,
        "aktif": S.COMPLETED,
    },
    "polri": {  # SKCK
        "verifikasi berkas": S.RECEIVED,
        "sidik jari": S.IN_PROCESS, "pengambilan sidik jari": S.IN_PROCESS,
        "pencetakan": S.IN_PROCESS,
        "terbit": S.READY,
    },
    "kua": {  # marriage registration
        "pemeriksaan": S.IN_PROCESS, "pemeriksaan nikah": S.IN_PROCESS,
        "pengumuman": S.WAITING_EXTERNAL,  # public announcement period
        "akad": S.APPROVED, "pelaksanaan akad": S.APPROVED,
        "buku nikah terbit": S.READY,
        "tercatat": S.COMPLETED,
    },
    "bpn": {  # land office
        "pengukuran": S.IN_PROCESS, "pemeriksaan tanah": S.IN_PROCESS,
        "pengumuman": S.WAITING_EXTERNAL,
        "sertipikat terbit": S.READY, "sertifikat terbit": S.READY,
    },
    "desa": {  # Smart Kampung village desk (cover letters)
        "diterima operator": S.RECEIVED,
        "menunggu tanda tangan": S.IN_PROCESS, "menunggu tanda tangan kades": S.IN_PROCESS,
        "dicetak": S.READY,
        "diteruskan": S.COMPLETED, "diteruskan ke dinas": S.COMPLETED,
    },
}

NATIVE_STATUS: Mapping[str, Mapping[str, Status]] = MappingProxyType({
    "default": MappingProxyType(dict(_DEFAULT)),
    **{agency: MappingProxyType({**_DEFAULT, **extra}) for agency, extra in _AGENCY_EXTRA.items()},
})

_SEP = re.compile(r"[\s_\-]+")


def normalise_native(native: str) -> str:
    """Lowercase, trim, and fold runs of spaces, '_' and '-' into one space."""
    return _SEP.sub(" ", native.strip().lower()).strip()


def to_canonical(agency: str, native: str) -> Status:
    """Map an agency's own status string to a canonical `Status`.

    Unknown agencies use the `default` map. Raises `LifecycleError` naming the agency and
    the native status if the status is unknown.
    """
    key = normalise_native(agency)
    table = NATIVE_STATUS.get(key.replace(" ", "_"), NATIVE_STATUS["default"])
    try:
        return table[normalise_native(native)]
    except KeyError:
        raise LifecycleError(f"unknown native status {native!r} for agency {agency!r}") from None


# ---------------------------------------------------------------------------------------
# State and folding.
# ---------------------------------------------------------------------------------------
def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise LifecycleError(f"occurred_at must be timezone-aware, got {dt.isoformat()}")
    return dt.astimezone(timezone.utc)


@dataclass(frozen=True, slots=True)
class Transition:
    """One status change reported by an agency. `occurred_at` is normalised to UTC.

    `seq` is the order the producer wrote it in: the hub's engine gives the event's offset in its
    intake partition (all of a request's events share one partition, being keyed by its id). None where
    no such order is known (a desk's own ledger, table entries written before it was kept).
    """

    event_id: str
    status: Status
    occurred_at: datetime
    native_status: str | None = None
    seq: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        object.__setattr__(self, "occurred_at", _utc(self.occurred_at))

    @property
    def key(self) -> tuple[datetime, int, str]:
        """Sort key: event time; ties in the order written (no `seq`: before any that has one), then event id.

        Producers stamp times to the millisecond, so two events of one request (RECEIVED, then
        IN_PROCESS) often share an instant; their intake order is the order that happened.
        """
        return (self.occurred_at, -1 if self.seq is None else self.seq, self.event_id)


@dataclass(frozen=True, slots=True)
class RequestState:
    """Canonical state of one request.

    `history` holds the last `HISTORY_LIMIT` accepted transitions sorted by `Transition.key`
    (occurred_at, seq, event_id); `dropped` counts older ones that were cut off.
    `returned_since` is when the current RETURNED spell began (None otherwise).
    """

    request_id: str
    status: Status
    updated_at: datetime
    history: tuple[Transition, ...]
    returned_since: datetime | None = None
    dropped: int = 0

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (for a Faust table or a log)."""
        return {
            "request_id": self.request_id,
            "status": self.status.value,
            "updated_at": self.updated_at.isoformat(),
            "returned_since": self.returned_since.isoformat() if self.returned_since else None,
            "dropped": self.dropped,
            "history": [
                [t.event_id, t.status.value, t.occurred_at.isoformat(), t.native_status,
                 *(() if t.seq is None else (t.seq,))]
                for t in self.history
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequestState:
        """Inverse of `to_dict`."""
        rs = data.get("returned_since")
        return cls(
            request_id=data["request_id"],
            status=Status(data["status"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            history=tuple(  # entries written before `seq` was kept have four items
                Transition(e, Status(s), datetime.fromisoformat(at), n, seq[0] if seq else None)
                for e, s, at, n, *seq in data["history"]
            ),
            returned_since=datetime.fromisoformat(rs) if rs else None,
            dropped=int(data.get("dropped", 0)),
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """Result of `apply`: the (possibly unchanged) state, and why an event was rejected."""

    state: RequestState | None
    accepted: bool
    reason: str | None = None


def _reject(state: RequestState | None, reason: str) -> Outcome:
    return Outcome(state, False, reason)


def _build(
    request_id: str,
    history: tuple[Transition, ...],
    dropped: int,
    prev: RequestState | None,
    appended: bool,
) -> RequestState:
    """Make a state from a sorted history, capping it and deriving status fields."""
    if len(history) > HISTORY_LIMIT:
        cut = len(history) - HISTORY_LIMIT
        history, dropped = history[cut:], dropped + cut
    last = history[-1]
    returned_since: datetime | None = None
    if last.status is S.RETURNED:
        if (appended and prev is not None and prev.status is S.RETURNED
                and prev.returned_since is not None):
            returned_since = prev.returned_since  # the spell goes on: O(1) on the hot path
        else:
            i = len(history) - 1
            while i > 0 and history[i - 1].status is S.RETURNED:
                i -= 1
            returned_since = history[i].occurred_at
            if i == 0 and prev is not None and prev.returned_since is not None:
                returned_since = min(returned_since, prev.returned_since)
    return RequestState(request_id, last.status, last.occurred_at, history, returned_since, dropped)


def apply(
    state: RequestState | None,
    request_id: str,
    t: Transition,
    *,
    allow_any_first: bool = False,
    resubmission_may_overtake: bool = False,
) -> Outcome:
    """Fold transition `t` into `state` (None for a request never seen).

    Rules, in order:
    * a different request id, or an event id already in the history, is rejected;
    * the first event must be SUBMITTED or RECEIVED, unless `allow_any_first` (for
      agencies that join mid-flight and first report e.g. IN_PROCESS or COMPLETED);
    * an event newer than the latest one is checked against the latest status only, O(1)
      (a terminal latest status rejects it);
    * an older event is inserted by `Transition.key` if both new neighbour pairs
      are legal (legality is pairwise, so that re-validates everything it affects);
      otherwise it is rejected as stale/out of order. An event older than the retained
      history, when some has been dropped, cannot be checked and is rejected too;
    * with `resubmission_may_overtake`, a pair `X -> SUBMITTED` where that SUBMITTED is a
      resubmission (not the first event) and X is open is not refused: the desk and the agency
      write separate topics, read independently, so the agency's RETURNED that came before a
      resubmission may be read after it (or an agency event of the first round after the
      resubmission); once read, it is placed between them by time and the pair is legal again.
    The resulting status is always that of the greatest `Transition.key` (occurred_at, then the
    order written, then event id).
    """
    if state is None:
        if not allow_any_first and t.status not in FIRST_STATUSES:
            return _reject(None, f"first event of request {request_id} must be SUBMITTED or "
                                 f"RECEIVED, got {t.status}")
        return Outcome(_build(request_id, (t,), 0, None, True), True)
    if state.request_id != request_id:
        return _reject(state, f"event for request {request_id} applied to state of "
                              f"{state.request_id}")
    history = state.history
    for h in history:
        if h.event_id == t.event_id:
            return _reject(state, f"duplicate event id {t.event_id}")
    last = history[-1]
    key = t.key
    if key > last.key:  # the common, in-order case
        if last.status in TERMINAL:
            return _reject(state, f"request is {last.status} (terminal)")
        if t.status not in _TRANSITIONS[last.status] and not (
                resubmission_may_overtake and t.status is S.SUBMITTED):
            return _reject(state, f"{last.status} -> {t.status} is not allowed")
        return Outcome(_build(request_id, history + (t,), state.dropped, state, True), True)

    # Out of order: t belongs somewhere before the latest transition.
    i = bisect.bisect_left([h.key for h in history], key)
    when = t.occurred_at.isoformat()
    stale = f"stale/out of order: {t.status} at {when} ({t.event_id})"
    nxt = history[i]
    if i == 0:
        if state.dropped:
            return _reject(state, f"{stale} is older than the retained history "
                                  f"(starts {nxt.occurred_at.isoformat()})")
        if not allow_any_first and t.status not in FIRST_STATUSES:
            return _reject(state, f"{stale} would become the first event, which must be "
                                  f"SUBMITTED or RECEIVED")
    else:
        prev = history[i - 1]
        overtaken = resubmission_may_overtake and t.status is S.SUBMITTED and prev.status not in TERMINAL
        if t.status not in _TRANSITIONS[prev.status] and not overtaken:
            return _reject(state, f"{stale} would follow {prev.status}: "
                                  f"{prev.status} -> {t.status} is not allowed")
    overtaking = (resubmission_may_overtake and nxt.status is S.SUBMITTED and i > 0
                  and t.status not in TERMINAL)
    if nxt.status not in _TRANSITIONS[t.status] and not overtaking:
        return _reject(state, f"{stale} would precede {nxt.status}: "
                              f"{t.status} -> {nxt.status} is not allowed")
    new_history = history[:i] + (t,) + history[i:]
    return Outcome(_build(request_id, new_history, state.dropped, state, False), True)
