"""The campaign's report: ``faults.json`` (every figure) and ``faults.md`` (tables, problems), printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

COLUMNS = ("records in", "routed", "dead-lettered", "dup. dropped", "lost", "stalled", "dup. after dedup",
           "raw dup.", "max no progress (s)", "verdict")


def _row(s: dict[str, Any]) -> list[str]:
    if "error" in s:
        return ["-"] * (len(COLUMNS) - 1) + [f"error: {s['error'][:80]}"]
    return [str(s["records_in"]), str(s["routed"]), str(s["dead_lettered"]), str(s["duplicates_dropped"]),
            str(s["lost"]), str(s["stalled"]), str(s["duplicates_after_dedup"]), str(s["raw_duplicates"]),
            f"{s['time_without_progress_s']:.1f}", s["verdict"].upper()]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(r) + " |" for r in rows)]


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    scenarios = results["scenarios"]
    failed = [name for name, s in scenarios.items() if s.get("verdict") != "pass"]
    lines = [f"# Fault campaign (issue 11) -- {meta['started']}",
             "",
             f"{'Quick' if meta['quick'] else 'Full'} run, {meta.get('duration_s', '?')} s on "
             f"{meta['host']}; exit code {results['exit_code']}. "
             + (f"**FAIL**: {', '.join(failed)}." if failed else "**PASS**: every scenario."),
             "",
             *_table(["scenario", *COLUMNS], [[name, *_row(s)] for name, s in scenarios.items()]),
             "",
             "*lost*: never handled although the group committed past it; *stalled*: never handled, the "
             "group stuck at or before it; *dup. after dedup*: one logical output under two (ce_source, "
             "ce_id); *max no progress*: the longest any record waited at the head of its intake partition."]
    for name, s in scenarios.items():
        lines += ["", f"## {name}", "", s.get("description", "")]
        if "error" in s:
            lines += ["", f"The scenario could not run: `{s['error']}`"]
            continue
        if s["problems"]:
            lines += ["", "Problems:", *(f"- {p}" for p in s["problems"])]
        lines += ["", f"Dead-lettered by reason: {_kv(s['dead_lettered_by_reason'])}.",
                  f"End-to-end latency of routed records (s): {_kv(s['latency_s'])}."]
        for fault in s["faults"]:
            lines.append(f"- fault `{fault['name']}` at {fault['at_s']} s: "
                         + _kv({k: v for k, v in fault.items() if k not in ("name", "at_s")}))
        if s["worst_partitions"]:
            lines.append("- longest waits: " + "; ".join(
                f"{w['partition']}@{w['offset']} {w['seconds']} s"
                + ("" if w["recovered"] else " (never handled)")
                for w in s["worst_partitions"][:3]))
        for crash in s["worker_crashes"][:4]:
            lines.append(f"- worker {crash['worker']} exited with {crash['exit_code']} at {crash['at_s']} s: "
                         f"{' / '.join(crash['log'])[:300]}")
        if s.get("latency_by_phase_s"):
            lines.append("- latency by phase (s): " + "; ".join(
                f"{phase}: {_kv(v)}" for phase, v in s["latency_by_phase_s"].items()))
        if s.get("by_kind"):
            lines += ["", *_table(["kind", "expect", "sent", "outcomes", "unmet"], [
                [row["kind"], row["expect"], str(row["sent"]), _kv(row["outcomes"]),
                 str(row["unmet"]) if row["unmet"] else ""] for row in s["by_kind"].values()])]
    return "\n".join(lines) + "\n"


def _kv(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in values.items()) or "none"


def write(results: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    j, m = out / "faults.json", out / "faults.md"
    j.write_text(json.dumps(results, indent=1, default=str) + "\n")
    m.write_text(markdown(results))
    return j, m
