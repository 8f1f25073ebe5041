"""Working-day SLA arithmetic for Banyuwangi (WIB), pure.

Working days are Monday to Friday that are neither Indonesian public holidays nor
cuti bersama (joint leave days, the `holidays` package's "government" category, when the
installed version has it). Office hours are not modelled: a working day is a whole WIB
calendar day, and a request submitted on a working day counts that day as day 0.

Working time: only working days advance the clock, 24 h each (so the "working seconds"
between two instants are the seconds that fall on working days, in WIB).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "WARN_FRACTION_PERCENT",
    "WIB",
    "ClockStatus",
    "DeadlineIndex",
    "SlaClock",
    "add_working_days",
    "budget",
    "clock_start",
    "deadline",
    "due_at",
    "elapsed_working_seconds",
    "end_of_day",
    "holidays_for_year",
    "is_working_day",
    "local_date",
    "next_working_day",
    "pause",
    "resume",
    "status",
    "warn_at",
    "working_days_between",
    "working_time",
]

WIB = ZoneInfo("Asia/Jakarta")
DAY = timedelta(days=1)
_US = timedelta(microseconds=1)
_EOD = timedelta(days=1) - timedelta(milliseconds=1)  # 00:00 + this = 23:59:59.999
WARN_FRACTION_PERCENT = 80
ClockStatus = Literal["ok", "warning", "breached", "paused"]


# ------------------------------------------------------------------ calendar ---------
@lru_cache(maxsize=128)
def holidays_for_year(year: int) -> frozenset[date]:
    """Indonesian non-working holidays of `year`: public holidays plus cuti bersama."""
    try:
        found = holidays.country_holidays("ID", years=year, categories=("public", "government"))
    except (TypeError, ValueError):  # older `holidays` without categories/cuti bersama
        found = holidays.country_holidays("ID", years=year)
    return frozenset(found.keys())


def local_date(dt: datetime) -> date:
    """The WIB calendar date of an aware datetime."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"datetime must be timezone-aware, got {dt.isoformat()}")
    return dt.astimezone(WIB).date()


def _as_date(d: date) -> date:
    return local_date(d) if isinstance(d, datetime) else d


def is_working_day(d: date) -> bool:
    """Mon-Fri and not a holiday (an aware datetime is taken at its WIB date)."""
    return _working_date(_as_date(d))


@lru_cache(maxsize=8192)  # ~22 years of dates: the SLA arithmetic asks about the same few days all day
def _working_date(d: date) -> bool:
    return d.weekday() < 5 and d not in holidays_for_year(d.year)


def next_working_day(d: date) -> date:
    """The first working day on or after `d`."""
    d = _as_date(d)
    while not is_working_day(d):
        d += DAY
    return d


def add_working_days(start: date, n: int) -> date:
    """The working day `n` working days after `start` (day 0 = `start` or, if that is
    not a working day, the next working day)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return _add_working_days(_as_date(start), n)


@lru_cache(maxsize=8192)
def _add_working_days(start: date, n: int) -> date:
    d = next_working_day(start)
    for _ in range(n):
        d = next_working_day(d + DAY)
    return d


def working_days_between(a: date, b: date) -> int:
    """Working days d with a <= d < b (negative if b < a).

    Inverse of `add_working_days`: `working_days_between(a, add_working_days(a, n)) == n`.
    """
    a, b = _as_date(a), _as_date(b)
    if b < a:
        return -working_days_between(b, a)
    count, d = 0, a
    while d < b:
        count += is_working_day(d)
        d += DAY
    return count


def _day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=WIB)


def end_of_day(d: date) -> datetime:
    """23:59:59.999 WIB on `d`."""
    return _day_start(d) + _EOD


def deadline(submitted_at: datetime, sla_working_days: int) -> datetime:
    """End of the working day `sla_working_days` working days after submission (WIB)."""
    return end_of_day(add_working_days(local_date(submitted_at), sla_working_days))


# ------------------------------------------------------------------ working time -----
def working_time(a: datetime, b: datetime) -> timedelta:
    """Time in [a, b) that falls on working days (zero if b <= a)."""
    a, b = a.astimezone(WIB), b.astimezone(WIB)
    total = timedelta(0)
    if b <= a:
        return total
    d = a.date()
    while (start := _day_start(d)) < b:
        if is_working_day(d):
            total += min(b, start + DAY) - max(a, start)
        d += DAY
    return total


def elapsed_working_seconds(intervals: Iterable[tuple[datetime, datetime]]) -> float:
    """Working seconds in a set of [start, end) intervals (assumed not to overlap)."""
    return sum((working_time(a, b) for a, b in intervals), timedelta(0)).total_seconds()


def _back(end: datetime, amount: timedelta) -> datetime:
    """The instant `amount` of working time before `end`."""
    cur = end.astimezone(WIB)
    d = cur.date()
    if cur == _day_start(d):  # a midnight belongs to the day before
        d -= DAY
    while True:
        if is_working_day(d):
            available = cur - _day_start(d)
            if amount <= available:
                return cur - amount
            amount -= available
        cur = _day_start(d)
        d -= DAY


# ------------------------------------------------------------------ clock ------------
@dataclass(frozen=True, slots=True)
class SlaClock:
    """An SLA clock. `paused_working_days` accumulates closed pauses (RETURNED spells);
    `paused_since` is set while a pause is open.

    Pauses count whole days: a working day is paused if the request was returned at its
    close, i.e. the working days d with pause_date <= d < resume_date (WIB). A return
    fixed on the same day costs nothing; returned Friday, fixed Monday costs one day.
    """

    started_at: datetime
    sla_working_days: int
    paused_since: datetime | None = None
    paused_working_days: int = 0

    def __post_init__(self) -> None:
        local_date(self.started_at)  # awareness check
        if self.paused_since is not None:
            local_date(self.paused_since)
        if self.sla_working_days < 0 or self.paused_working_days < 0:
            raise ValueError("sla_working_days and paused_working_days must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        return {
            "started_at": self.started_at.isoformat(),
            "sla_working_days": self.sla_working_days,
            "paused_since": self.paused_since.isoformat() if self.paused_since else None,
            "paused_working_days": self.paused_working_days,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlaClock:
        """Inverse of `to_dict`."""
        ps = data.get("paused_since")
        return cls(
            datetime.fromisoformat(data["started_at"]),
            int(data["sla_working_days"]),
            datetime.fromisoformat(ps) if ps else None,
            int(data.get("paused_working_days", 0)),
        )


def clock_start(clock: SlaClock) -> datetime:
    """When the clock really starts: `started_at`, or 00:00 WIB of the next working day."""
    d = local_date(clock.started_at)
    if is_working_day(d):
        return clock.started_at.astimezone(WIB)
    return _day_start(next_working_day(d))


@lru_cache(maxsize=4096)  # a clock is immutable; an event asks for its deadlines more than once
def due_at(clock: SlaClock) -> datetime:
    """Deadline, pushed by the closed pauses (an open pause is not yet counted)."""
    n = clock.sla_working_days + clock.paused_working_days
    return end_of_day(add_working_days(local_date(clock.started_at), n))


def budget(clock: SlaClock) -> timedelta:
    """Working time the agency has: from `clock_start` to the un-paused deadline."""
    d0 = add_working_days(local_date(clock.started_at), clock.sla_working_days)
    return working_time(clock_start(clock), _day_start(d0) + DAY)


@lru_cache(maxsize=4096)
def warn_at(clock: SlaClock) -> datetime:
    """When `WARN_FRACTION_PERCENT` of the budget is used: the instant that leaves
    (100 - pct)% of `budget` in working time before the (pause-extended) deadline.

    Pauses push the deadline by whole working days, so counting the remainder back from
    the deadline equals counting pct% forward from the start while skipping the paused
    days, wherever they fell. Always strictly before `due_at` (1 µs before for an empty
    budget).
    """
    total = budget(clock) // _US
    remaining = total - total * WARN_FRACTION_PERCENT // 100  # >= 1 µs when total >= 1
    due = due_at(clock)
    at = _back(_day_start(due.astimezone(WIB).date()) + DAY, max(remaining, 1) * _US)
    return min(at, due - _US)


def pause(clock: SlaClock, at: datetime) -> SlaClock:
    """Stop the clock (request returned to the citizen). Idempotent while paused."""
    if clock.paused_since is not None:
        return clock
    if at < clock.started_at:
        raise ValueError("cannot pause before the clock started")
    return replace(clock, paused_since=at)


def resume(clock: SlaClock, at: datetime) -> SlaClock:
    """Restart the clock, pushing the deadline by the working days spent paused.

    A pause that began after the deadline had passed does not extend it: a breach is final.
    """
    if clock.paused_since is None:
        return clock
    if at < clock.paused_since:
        raise ValueError("cannot resume before the pause began")
    days = 0
    if clock.paused_since <= due_at(clock):
        days = working_days_between(local_date(clock.paused_since), local_date(at))
    return replace(clock, paused_since=None,
                   paused_working_days=clock.paused_working_days + max(days, 0))


def status(clock: SlaClock, now: datetime) -> ClockStatus:
    """'paused' while returned (unless already breached), else ok / warning / breached."""
    due = due_at(clock)
    if clock.paused_since is not None:
        return "breached" if clock.paused_since > due else "paused"
    if now > due:
        return "breached"
    if now >= warn_at(clock):
        return "warning"
    return "ok"


# ------------------------------------------------------------------ deadline index ---
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
Key = tuple[str, str]


class DeadlineIndex:
    """Pending timers (request_id, kind) -> instant, bucketed by time.

    `due(now)` costs O(entries falling due + the now-bucket), never O(open requests):
    buckets sit in a min-heap of bucket numbers (lazy deletion), `remove` is O(1)
    through the reverse map. Serialisable with `to_dict` / `from_dict`.
    """

    __slots__ = ("bucket_seconds", "_buckets", "_heap", "_where")

    def __init__(self, bucket_seconds: int = 60) -> None:
        if bucket_seconds <= 0:
            raise ValueError("bucket_seconds must be > 0")
        self.bucket_seconds = bucket_seconds
        self._buckets: dict[int, set[Key]] = {}
        self._heap: list[int] = []
        self._where: dict[Key, datetime] = {}  # the bucket is derived from the instant (less memory/timer)

    def _bucket(self, at: datetime) -> int:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("deadline must be timezone-aware")
        return (at - _EPOCH) // timedelta(seconds=self.bucket_seconds)

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, key: object) -> bool:
        return key in self._where

    def get(self, request_id: str, kind: str) -> datetime | None:
        """The instant registered for (request_id, kind), if any."""
        return self._where.get((request_id, kind))

    def add(self, request_id: str, kind: str, at: datetime) -> None:
        """Register (or move) the timer (request_id, kind) to `at`."""
        key = (request_id, kind)
        b = self._bucket(at)
        self.remove(request_id, kind)
        bucket = self._buckets.get(b)
        if bucket is None:
            bucket = self._buckets[b] = set()
            heapq.heappush(self._heap, b)
        bucket.add(key)
        self._where[key] = at

    def remove(self, request_id: str, kind: str) -> bool:
        """Forget a timer; True if it existed."""
        key = (request_id, kind)
        found = self._where.pop(key, None)
        if found is None:
            return False
        b = self._bucket(found)
        bucket = self._buckets[b]
        bucket.discard(key)
        if not bucket:
            del self._buckets[b]  # its heap entry is dropped lazily
            if len(self._heap) > 2 * len(self._buckets) + 64:
                self._heap = list(self._buckets)
                heapq.heapify(self._heap)
        return True

    def due(self, now: datetime) -> list[tuple[str, str, datetime]]:
        """Pop every timer with at <= now, sorted by (at, request_id, kind)."""
        limit = self._bucket(now)
        out: list[tuple[str, str, datetime]] = []
        heap, buckets = self._heap, self._buckets
        while heap and heap[0] <= limit:
            b = heap[0]
            bucket = buckets.get(b)
            if bucket is None:
                heapq.heappop(heap)
                continue
            if b < limit:
                taken = list(bucket)
            else:  # the current bucket may hold timers later than now
                taken = [k for k in bucket if self._where[k] <= now]
            for key in taken:
                out.append((key[0], key[1], self._where.pop(key)))
                bucket.discard(key)
            if bucket:
                break  # only the current bucket can be left non-empty
            del buckets[b]
            heapq.heappop(heap)
        out.sort(key=lambda e: (e[2], e[0], e[1]))
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        entries = sorted((rid, kind, at.isoformat()) for (rid, kind), at in self._where.items())
        return {"bucket_seconds": self.bucket_seconds, "entries": [list(e) for e in entries]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeadlineIndex:
        """Inverse of `to_dict`."""
        index = cls(int(data.get("bucket_seconds", 60)))
        for rid, kind, at in data.get("entries", ()):
            index.add(rid, kind, datetime.fromisoformat(at))
        return index
