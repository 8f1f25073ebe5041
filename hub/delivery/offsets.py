"""Which input offset may be committed (no I/O; the journal owns one book).

A record read from an agency topic is *settled* once each of its deliveries is delivered or durably
parked (scheduled, held, skipped, exhausted): from then on a crash loses nothing of it. The offset to
commit for a partition is that of its first unsettled record, or one past the last record read when all
are settled. Records settle in any order (one endpoint is fast, another slow); the committed offset
only ever moves forward over a contiguous run of settled records.

Invariants: :meth:`OffsetBook.committable` never passes an unsettled record and never goes back;
a partition forgotten after a rebalance has no offset to commit.
"""

from __future__ import annotations

TP = tuple[str, int]


class OffsetBook:
    def __init__(self) -> None:
        self._open: dict[TP, dict[int, int]] = {}  # offset -> deliveries unsettled (in offset order)
        self._high: dict[TP, int] = {}  # one past the last offset read
        self._reported: dict[TP, int] = {}

    def read(self, tp: TP, offset: int, unsettled: int) -> None:
        """A record was read; ``unsettled`` of its deliveries are still in memory only."""
        if offset < self._high.get(tp, -1):
            return  # read again after a seek back: already counted
        self._high[tp] = offset + 1
        if unsettled > 0:
            self._open.setdefault(tp, {})[offset] = unsettled

    def settle(self, tp: TP, offset: int) -> None:
        """One delivery of the record at ``offset`` is delivered or durably parked."""
        pending = self._open.get(tp)
        if pending is None or offset not in pending:
            return
        pending[offset] -= 1
        if pending[offset] <= 0:
            del pending[offset]

    def committable(self, tp: TP) -> int | None:
        if tp not in self._high:
            return None
        pending = self._open.get(tp)
        return next(iter(pending)) if pending else self._high[tp]

    def changes(self) -> dict[TP, int]:
        """Partitions whose committable offset moved since the last call, with that offset."""
        out = {}
        for tp in self._high:
            offset = self.committable(tp)
            if offset is not None and offset > self._reported.get(tp, -1):
                out[tp] = offset
                self._reported[tp] = offset
        return out

    def forget(self, tp: TP) -> None:
        """The partition was revoked: nothing more to commit for it here."""
        self._open.pop(tp, None)
        self._high.pop(tp, None)
        self._reported.pop(tp, None)

    def unsettled(self) -> int:
        return sum(sum(p.values()) for p in self._open.values())
