"""Scenario family 1: the fuzzed intake. The samples of :mod:`bench.faults.poison` (every kind of bad record
issue 11 lists, mutations of valid simulator events, impersonations, writes the broker must refuse)
written as the sources' principals beside the simulator's valid traffic, to two workers.

Beyond the common figures, each sample's fate is held to its expectation (``by_kind``): a record of a
refused kind that was routed reached the hub's subscribers; a valid record that was not routed was
refused wrongly; a write the broker should have refused and did not is an access hole. The workers'
``/metrics`` pages are checked for label values taken from content (a NIK-shaped ``source_system`` probe).
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from typing import Any

from bench.faults.accounting import Fate, Wait
from bench.faults.poison import DENY, DROP, EITHER, REFUSE, ROUTE
from bench.faults.scenario import Context, Fault, Live, run

DESCRIPTION = ("10,000+ fuzzed records (bad headers, bytes, content, identities, sizes near 1 MB, mutations) "
               "written by the sources' principals beside valid simulator traffic, two workers")


def _met(expect: str, outcome: str) -> bool:
    if expect == ROUTE:
        return outcome == "routed"
    if expect == REFUSE:
        return outcome.startswith("dead:")
    if expect == DROP:
        return outcome == "duplicate"
    if expect == EITHER:
        return outcome == "routed" or outcome == "duplicate" or outcome.startswith("dead:")
    return expect == DENY and outcome.startswith("broker:")


def judge_samples(ledger: list[dict[str, Any]], fates: list[Fate]) -> tuple[dict[str, Any], list[str]]:
    """Per kind: how many were sent, their outcomes, how many missed their expectation; and the problems."""
    fate = {(f.record.topic, f.record.partition, f.record.offset): f.outcome for f in fates}
    kinds: dict[str, dict[str, Any]] = {}
    unmet: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for entry in ledger:
        if entry.get("error"):
            outcome = f"broker:{entry['error']}"
        elif "offset" in entry:
            outcome = fate.get((entry["topic"], entry["partition"], entry["offset"]), "missing")
        else:
            outcome = "missing"
        # a pair's two records (e.g. an event, then its resend) are two rows: each has its own expectation
        row = kinds.setdefault(f"{entry['kind']}/{entry['expect']}", {
            "kind": entry["kind"], "expect": entry["expect"], "sent": 0, "outcomes": Counter(), "unmet": 0})
        row["sent"] += 1
        row["outcomes"][outcome] += 1
        if not _met(entry["expect"], outcome):
            row["unmet"] += 1
            unmet[entry["expect"]][f"{entry['kind']} -> {outcome}"] += 1
    for row in kinds.values():
        row["outcomes"] = dict(row["outcomes"].most_common())
    problems = []
    what = {REFUSE: "records the hub must refuse were not dead-lettered (routed ones reached subscribers)",
            ROUTE: "valid records were not routed", DROP: "resends were not dropped as duplicates",
            EITHER: "mutated records were neither routed nor dead-lettered",
            DENY: "writes the broker must refuse were accepted"}
    for expect, misses in unmet.items():
        shown = ", ".join(f"{k} ({n})" for k, n in misses.most_common(6))
        problems.append(f"{sum(misses.values())} {what[expect]}: {shown}")
    return dict(sorted(kinds.items())), problems


def fuzzed_intake(ctx: Context) -> dict[str, Any]:
    scale = ctx.scale

    def inject(live: Live) -> list[Fault]:
        ledger = live.hub.workdir / "fuzz-ledger.jsonl"
        fuzz = live.hub.sender("fuzz", seed=ctx.seed, n=scale.fuzz_records, big=scale.big,
                               duration=scale.fuzz_seconds, ledger=str(ledger)).start()
        at = time.time()
        live.extra["fuzz"] = fuzz.wait()
        return [Fault("fuzzed intake", at, time.time())]

    def judge(live: Live, result: dict[str, Any], fates: list[Fate], waits: list[Wait]) -> None:
        path = live.hub.workdir / "fuzz-ledger.jsonl"
        ledger = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        live.injected.update((e["topic"], e["partition"], e["offset"]) for e in ledger if "offset" in e)
        result["by_kind"], problems = judge_samples(ledger, fates)
        live.problems.extend(problems)
        at = {f"{e['topic']}[{e['partition']}]@{e['offset']}": e["kind"] for e in ledger if "offset" in e}
        heads = [f"{where} ({at.get(where, 'simulator traffic')})" for where in result["stalled_at"]]
        if heads:
            live.problems.append(f"the records at the head of the stalled partitions: {', '.join(heads)}")
        pages = result.get("metrics", {}).values()
        leaks = sorted({v for page in pages for v in page["id_like_label_values"]})
        if leaks:
            live.problems.append(f"metric label values taken from event content: {', '.join(leaks[:3])}")

    return run(ctx, "fuzzed_intake", DESCRIPTION, inject=inject, judge=judge,
               load_seconds=scale.fuzz_seconds)
