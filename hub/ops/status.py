"""The operator's terminal view of throughput, lag, dead letters and SLA health.

Scrapes one or more ``/metrics`` URLs, computes rates between two scrapes and redraws in place with
ANSI escapes (``--once`` prints a single snapshot and exits: non-zero when a target is down).
"""

from __future__ import annotations

import time

from hub.ops.scrape import Summary

HOME_CLEAR = "\x1b[H\x1b[2J"


def _fmt_map(values: dict[str, float], fmt: str = "{:.1f}", limit: int = 8) -> str:
    items = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return "  ".join(f"{k}={fmt.format(v)}" for k, v in items) or "-"


def render(summary: Summary, *, colour: bool = False) -> str:
    """The view as plain text (``colour`` adds ANSI colours to the health words)."""
    def health(ok: bool, good: str = "OK", bad: str = "ALERT") -> str:
        word = good if ok else bad
        return f"\x1b[{32 if ok else 31}m{word}\x1b[0m" if colour else word

    down = [t for t, up in summary.targets.items() if not up]
    not_ready = [t for t, ready in summary.ready.items() if not ready]
    p95 = summary.latency_p95_seconds
    breaches = sum(v for k, v in summary.sla_by_kind.items() if k in ("breach", "breached"))
    window = f"over {summary.window:.1f}s" if summary.window else "(one scrape: no rates yet)"
    lines = [
        f"Banyuwangi event hub — {time.strftime('%Y-%m-%d %H:%M:%S')}  rates {window}",
        f"targets     {len(summary.targets) - len(down)}/{len(summary.targets)} up  "
        f"{health(not down)}{'  down: ' + ', '.join(down) if down else ''}"
        f"{'  not ready: ' + ', '.join(not_ready) if not_ready else ''}",
        f"throughput  in {summary.in_rate:8.1f}/s   out {summary.out_rate:8.1f}/s   "
        f"(totals in {summary.in_total:.0f}, out {summary.out_total:.0f})",
        f"by agency   {_fmt_map(summary.routed_rate_by_agency, '{:.1f}/s')}",
        f"latency     end-to-end p95 {'-' if p95 is None else f'{p95:.3f}s'}",
        f"lag         {summary.lag_total:.0f} records  {health(summary.lag_total < 1000, 'OK', 'HIGH')}  "
        f"{_fmt_map(summary.lag_by_partition, '{:.0f}')}",
        f"dead letters {summary.dead_letters_total:.0f} total, {summary.dead_letter_rate:.2f}/s  "
        f"{health(summary.dead_letter_rate == 0, 'OK', 'FLOWING')}  "
        f"{_fmt_map(summary.dead_letters_by_reason, '{:.0f}')}",
        f"duplicates  {summary.duplicates_total:.0f} dropped",
        f"SLA         {_fmt_map(summary.sla_by_kind, '{:.0f}')}  {health(breaches == 0, 'OK', 'BREACHES')}  "
        f"breaches by agency: {_fmt_map(summary.sla_breaches_by_agency, '{:.0f}')}",
        f"open        {summary.open_requests:.0f} requests",
        f"outboxes    {summary.outbox_depth:.0f} buffered, oldest {summary.outbox_oldest_seconds:.0f}s",
    ]
    return "\n".join(lines) + "\n"
