"""latest.json (everything measured) and latest.md (the short table) in bench/results."""

from __future__ import annotations

import json
from pathlib import Path

TARGETS = {
    "sustained_eps": 15_000, "p99_ms_at_5000": 200, "ratio_vs_passthrough": 0.5,
    "bytes_per_open_request": 1024, "recovery_1m_s": 60,
}


def _phase(run: dict | None, name_part: str) -> dict | None:
    for p in (run or {}).get("phases", []):
        if name_part in p["name"]:
            return p
    return None


def _p99(p: dict | None) -> float | None:
    if not p:
        return None
    vals = [v.get("p99") for v in p["latency_ms"].values() if v.get("p99") is not None]
    return max(vals) if vals else None


def _lat(p: dict | None) -> str:
    if not p:
        return "-"
    worst = max(p["latency_ms"].values(), key=lambda v: v.get("p99") or 0)
    if not worst.get("n"):
        return "-"
    return f"{worst['p50']:.0f} / {worst['p95']:.0f} / {worst['p99']:.0f}"


def _eps(p: dict | None) -> float | None:
    return (p.get("steady_eps") or p.get("end_to_end_eps")) if p else None


def _cpu(p: dict | None, who: str) -> str:
    if not p:
        return "-"
    vals = [(k, v) for k, v in p["cpu_us_per_event"].items() if k.startswith(who)]
    return " + ".join(f"{v:.0f}" for _, v in vals) if vals else "-"


def _mem(p: dict | None, who: str) -> str:
    if not p:
        return "-"
    vals = [v["rss_peak_mib"] for k, v in p["usage"]["processes"].items() if k.startswith(who)]
    return " / ".join(f"{v:.0f}" for v in vals) if vals else "-"


def derive(results: dict) -> dict:
    """Ratios and target checks from what was measured."""
    pipe, raw = results.get("pipeline", {}), results.get("raw", {})
    d: dict = {}
    pt1 = _phase(raw.get("passthrough_x1"), "passthrough")
    pt2 = _phase(raw.get("passthrough_x2"), "passthrough")
    pc = _phase(raw.get("produce_consume"), "produce")
    for label, run in pipe.items():
        sat = _phase(run, "saturation")
        if not sat:
            continue
        e = _eps(sat)
        entry = {"saturation_eps": e}
        for cname, cp in (("passthrough_x1", pt1), ("passthrough_x2", pt2), ("produce_consume", pc)):
            if cp and _eps(cp) and e:
                entry[f"ratio_vs_{cname}"] = round(e / _eps(cp), 3)
        w = sat["cpu_us_per_event"]
        hub_cpu = sum(v for k, v in w.items() if k.startswith("hub worker"))
        entry["hub_worker_cpu_us_per_event"] = round(hub_cpu, 1)
        if pt1:
            entry["cpu_ratio_vs_passthrough_x1"] = round(hub_cpu / max(pt1["cpu_us_per_event"].get("passthrough", 1), 1e-9), 2)
        d[label] = entry
    best = max((v["saturation_eps"] for v in d.values() if v.get("saturation_eps")), default=None)
    p5000 = [_p99(_phase(run, "fixed 5000/s")) for run in pipe.values()]
    p5000 = [p for p in p5000 if p is not None]
    growth = (results.get("growth") or {}).get("sizes", [])
    mem = max((g["bytes_per_request"] for g in growth), default=None)
    mem_what = "memory per open request, pure core objects (bytes)"
    tr = results.get("table_recovery") or {}
    base_rss = None
    for run in pipe.values():
        base_rss = base_rss or next(iter((run.get("worker_rss_mib") or {}).get("after_warmup", {}).values()), None)
    if tr.get("worker_rss_mib") and tr.get("keys_after") and tr.get("recovery_s") and base_rss:
        mem = round((tr["worker_rss_mib"] - base_rss) * 2**20 / tr["keys_after"])
        mem_what = f"memory per open request, real requests table after recovery of {tr['keys_after']:,} (bytes, RSS)"
        d["table_bytes_per_request_rss"] = mem
    rec = results.get("recovery") or {}
    if tr.get("keys_after"):
        rec_s = tr.get("recovery_and_index_s") or tr.get("recovery_s")
        rec_what = (f"recover the requests table after a restart, {tr['keys_after']:,} keys (s, worker start "
                    f"to ready: table restored and SLA timer index rebuilt)")
        if tr["keys_after"] < 1_000_000 and (tr.get("restart_1m_extrapolated_s") or tr.get("changelog_read_1m_extrapolated_s")):
            rec_s = tr.get("restart_1m_extrapolated_s") or tr.get("changelog_read_1m_extrapolated_s")
            rec_what = (f"recover a 1M-key requests table after a restart (s, extrapolated from "
                        f"{tr['keys_after']:,} keys measured in {tr.get('recovery_and_index_s') or tr.get('recovery_s')} s)")
    else:
        rec_s = max((rec.get(k, {}).get("seconds") or 0 for k in ("into_dict", "into_rocksdict")), default=None)
        rec_what = f"read a {rec.get('keys', 0):,}-key changelog into a store (s)"
    ratio = d.get("hub-1w", {}).get("ratio_vs_passthrough_x1")
    checks = [
        ("sustained lifecycle events/s end to end", f">= {TARGETS['sustained_eps']}", best,
         best is not None and best >= TARGETS["sustained_eps"]),
        ("p99 end-to-end latency at 5,000 ev/s offered (ms)", f"<= {TARGETS['p99_ms_at_5000']}",
         min(p5000) if p5000 else None, bool(p5000) and min(p5000) <= TARGETS["p99_ms_at_5000"]),
        ("hub throughput / raw aiokafka pass-through (1 worker)", f">= {TARGETS['ratio_vs_passthrough']}",
         ratio, ratio is not None and ratio >= TARGETS["ratio_vs_passthrough"]),
        (mem_what, f"<= {TARGETS['bytes_per_open_request']}", mem,
         mem is not None and mem <= TARGETS["bytes_per_open_request"]),
        (rec_what, f"<= {TARGETS['recovery_1m_s']} (1M keys)", rec_s or tr.get("error"),
         bool(rec_s) and rec_s <= TARGETS["recovery_1m_s"]),
    ]
    d["targets"] = [{"what": w, "target": t, "measured": m, "met": ok} for w, t, m, ok in checks]
    return d


def markdown(results: dict) -> str:
    meta, der = results["meta"], results.get("derived", {})
    lines = [f"# Hub benchmark — {meta['started']} ({'quick' if meta['config']['quick'] else 'full'} run, "
             f"{meta['duration_s']:.0f} s)", "",
             f"Machine: {meta['host']['cpus']} cores, {meta['host']['mem_gib']} GiB, load average at start "
             f"{meta['host']['loadavg_start']}, at end {meta['host']['loadavg_end']}; Kafka {meta['versions'].get('kafka')}"
             f", Python {meta['host']['python']}. `other cpu-s` = CPU used by processes outside the benchmark "
             f"during a phase (noise).", ""]
    if der.get("targets"):
        lines += ["## Targets", "", "| what | target | measured | met |", "|---|---|---|---|"]
        for t in der["targets"]:
            m = t["measured"]
            lines.append(f"| {t['what']} | {t['target']} | {m if m is not None else '-'} | "
                         f"{'yes' if t['met'] else 'no'} |")
        lines.append("")
    rows = []
    for label, run in {**results.get("pipeline", {}), **results.get("raw", {}),
                       **results.get("experiments", {})}.items():
        for p in run.get("phases", []):
            rows.append(p)
    tr = results.get("table_recovery") or {}
    if tr.get("latency_phase"):
        rows.append(tr["latency_phase"])
    if rows:
        lines += ["## Pipeline (real Kafka + registry)", "",
                  "| run | offered ev/s | sustained ev/s | e2e ev/s | latency p50 / p95 / p99 ms | delivered | "
                  "worker CPU µs/ev | Kafka CPU µs/ev | worker peak RSS MiB | Kafka peak RSS MiB | other cpu-s |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for p in rows:
            who = "hub worker" if any(k.startswith("hub worker") for k in p["cpu_us_per_event"]) else "passthrough"
            if p["name"].startswith("raw-produce"):
                who = "-"
            lines.append(
                f"| {p['name']} | {p['offered_eps']} | {p.get('steady_eps', '-')} | {p.get('end_to_end_eps', '-')} | "
                f"{_lat(p)} | {p['delivered']}/{p['expected']} | {_cpu(p, who)} | {_cpu(p, 'kafka')} | "
                f"{_mem(p, who)} | {_mem(p, 'kafka')} | {p['usage']['machine']['other_cpu_s']} |")
        lines.append("")
    ratios = {k: v for k, v in der.items() if isinstance(v, dict)}
    if ratios:
        lines += ["## Hub vs raw aiokafka (same run, same broker, same records)", "",
                  "| hub run | saturation ev/s | / pass-through x1 | / pass-through x2 | / produce→consume | "
                  "worker CPU µs/ev | CPU vs pass-through x1 |", "|---|---|---|---|---|---|---|"]
        for label, v in ratios.items():
            lines.append(f"| {label} | {v.get('saturation_eps')} | {v.get('ratio_vs_passthrough_x1', '-')} | "
                         f"{v.get('ratio_vs_passthrough_x2', '-')} | {v.get('ratio_vs_produce_consume', '-')} | "
                         f"{v.get('hub_worker_cpu_us_per_event')} | {v.get('cpu_ratio_vs_passthrough_x1', '-')}x |")
        lines.append("")
    codec = results.get("codec")
    if codec and "avro_encode" in codec:
        lines += ["## Codec per event (µs, best of 5)", "", "| | Avro (hub codec) | json |", "|---|---|---|",
                  f"| encode | {codec['avro_encode']['best_us']} | {codec['json_dumps']['best_us']} |",
                  f"| decode | {codec['avro_decode']['best_us']} | {codec['json_loads']['best_us']} |",
                  f"| bytes | {codec['avro_bytes_mean']} | {codec['json_bytes_mean']} |", ""]
    router = results.get("router")
    if router and router.get("stages_us"):
        lines += ["## Router work in-process (no Kafka), µs per event", "", "| stage | best µs |", "|---|---|"]
        for k, v in router["stages_us"].items():
            lines.append(f"| {k} | {v['best_us']} |")
        lines.append("")
    growth = results.get("growth", {}).get("sizes")
    if growth:
        lines += ["## Lifecycle state growth (pure core)", "",
                  "| open requests | bytes/request | (states / deadlines) | apply p50 / p99 / p99.9 µs | "
                  "full GC ms |", "|---|---|---|---|---|"]
        for g in growth:
            split = (f"{g['bytes_per_request_states']} / {g['bytes_per_request_deadlines']}"
                     if "bytes_per_request_states" in g else g["memory_method"])
            a = g["apply"]
            lines.append(f"| {g['open_requests']:,} | {g['bytes_per_request']} | {split} | "
                         f"{a['p50_us']} / {a['p99_us']} / {a['p999_us']} | {g['full_gc_ms']} |")
        lines.append("")
    rec = results.get("recovery")
    if rec and "keys" in rec:
        lines += [f"## Table recovery from a compacted changelog ({rec['keys']:,} keys, {rec['value_bytes_mean']} B values)", "",
                  "| into | seconds | records/s |", "|---|---|---|"]
        for k in ("into_dict", "into_dict_tuned_fetch", "into_rocksdict"):
            v = rec.get(k, {})
            if "seconds" in v:
                lines.append(f"| {k.replace('into_', '').replace('_', ' ')} | {v['seconds']} | {v['records_per_s']:,} |")
        lines.append(f"| + RequestState.from_dict for every value (extrapolated) | "
                     f"{rec.get('decode_all_extrapolated_s')} | |")
        lines.append("")
    out_rows = [(label, p) for label, run in results.get("pipeline", {}).items() for p in run.get("phases", [])
                if p.get("records_written_per_event")]
    if out_rows:
        lines += ["## What the hub writes per input event (saturation phases)", "", "| run | total | per topic |",
                  "|---|---|---|"]
        for label, p in out_rows:
            per = ", ".join(f"{t.split('.', 2)[-1] if t.startswith('bench.') else t} {v}"
                            for t, v in sorted(p["records_written_per_event"].items(), key=lambda kv: -kv[1])[:8])
            lines.append(f"| {label} | {p['records_written_per_event_total']} | {per} |")
        lines.append("")
    growth_rows = [(label, run) for label, run in results.get("pipeline", {}).items()
                   if run.get("worker_rss_growth_bytes_per_request") is not None]
    if growth_rows:
        lines += ["Worker RSS growth over the run, per request taken in (includes buffers, not only the table): "
                  + "; ".join(f"{label} {run['worker_rss_growth_bytes_per_request']} B over "
                              f"{run['open_requests_at_end']:,} requests" for label, run in growth_rows), ""]
    if tr:
        lines += ["## Requests table recovery after a worker restart (real engine, memory store)", "",
                  f"- changelog `{tr.get('changelog')}`: {tr.get('keys_before', 0):,} real entries copied to "
                  f"{tr.get('keys_after', 0):,} keys (values {tr.get('value_bytes_mean', '-')} B)",
                  f"- time from worker start to Faust 'Recovery complete': **{tr.get('recovery_s')} s**"
                  + (f"; to the SLA timer index rebuilt: {tr['recovery_and_index_s']} s" if tr.get("recovery_and_index_s") else ""),
                  *([f"- read by the hub's store before Faust's recovery (one plain consumer, "
                     f"`hub.streams.store.PrefilledMemoryStore`): {tr['prefill_records']:,} records in "
                     f"{tr['prefill_s']} s ({tr.get('prefill_records_per_s', '-'):,} records/s)"]
                    if tr.get("prefill_records") is not None else []),
                  *([f"- Faust reading the changelog itself: {tr.get('changelog_read_s', '-')} s "
                     f"({tr.get('changelog_read_records_per_s', '-')} records/s)"]
                    if tr.get("changelog_read_s") is not None else []),
                  *([f"- a 1M-key table at that pace: {tr['restart_1m_extrapolated_s']} s to ready "
                     f"(linear extrapolation)"] if tr.get("keys_after", 0) < 1_000_000
                    and tr.get("restart_1m_extrapolated_s") else []),
                  f"- worker RSS after recovery: {tr.get('worker_rss_mib')} MiB"
                  + (f" (≈ {der.get('table_bytes_per_request_rss')} B per open request over the empty-table worker)"
                     if der.get("table_bytes_per_request_rss") else ""),
                  *( [f"- error: {tr['error']}"] if tr.get("error") else []), ""]
    exp = results.get("experiments_summary")
    if exp:
        lines += ["## Worker variants (1 worker)", "",
                  "| variant | sustained ev/s | worker CPU µs/ev | vs baseline | p50 / p99 ms at fixed load |",
                  "|---|---|---|---|---|"]
        for row in exp:
            pp = row.get("p50_p99_ms") or [None, None]
            lines.append(f"| {row['variant']} | {row['eps']} | {row['cpu_us']} | {row['vs_baseline']} | "
                         f"{pp[0]} / {pp[1]} at {row.get('latency_at_rate')}/s |")
        lines.append("")
    prof = results.get("profile")
    if prof and prof.get("self_by_package_pct"):
        lines += [f"## py-spy profile of a saturated worker ({prof['samples']} samples)", "",
                  "Self time by package: " + ", ".join(f"{k} {v}%" for k, v in prof["self_by_package_pct"].items()),
                  "", "| inclusive % | function |", "|---|---|"]
        for f, pct in prof.get("top_inclusive_pct", [])[:15]:
            lines.append(f"| {pct} | `{f}` |")
        lines.append("")
    if results.get("delivery"):
        from bench.delivery import markdown as delivery_markdown

        lines += delivery_markdown(results["delivery"])
    if results.get("errors"):
        lines += ["## Errors", ""] + [f"- {k}: {v}" for k, v in results["errors"].items()] + [""]
    return "\n".join(lines)


def write(results: dict, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    results["derived"] = derive(results)
    j, m = out / "latest.json", out / "latest.md"
    tmp = out / "latest.json.tmp"
    tmp.write_text(json.dumps(results, indent=1, default=str))
    tmp.replace(j)
    m.write_text(markdown(results))
    return j, m
