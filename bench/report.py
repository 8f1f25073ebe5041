"""latest.json (everything measured) and latest.md (the targets, before/after, and the details) in
bench/results.

Every target of issue 15 is a ratio to what the raw aiokafka runs of the *same* run measured (machines differ
by
3x and more); absolute figures are reported beside them. "before" is the worker of the baseline commit,
"after"
this tree's, both measured in the run.
"""

from __future__ import annotations

import json
from pathlib import Path

#: Issue 15's targets.
TARGETS = {"ratio_1w": 0.5, "ratio_2w": 0.7, "worker_cpu_ratio": 2.5, "broker_cpu_ratio": 1.5,
           "p99_half_ms": 200, "bytes_per_open_request": 1024, "restart_vs_before": 0.5}
#: Load assumptions of the capacity model (events/s at peak): see README "Capacity".
REGENCY_PEAK_EPS = 5.0
REGENCIES = {"Banyuwangi": 1, "a province (38 regencies)": 38, "the country (514 regencies)": 514}


def _eps(p: dict | None) -> float | None:
    return (p.get("steady_eps") or p.get("end_to_end_eps")) if p else None


def _phase(run: dict | None, name_part: str) -> dict | None:
    for p in (run or {}).get("phases", []):
        if name_part in p["name"]:
            return p
    return None


def _cpu(p: dict | None, who: str) -> float | None:
    if not p:
        return None
    vals = [v for k, v in p["cpu_us_per_event"].items() if k.startswith(who)]
    return round(sum(vals), 1) if vals else None


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


def _ratio(a: float | None, b: float | None, digits: int = 3) -> float | None:
    return round(a / b, digits) if a and b else None


def _code(results: dict, code: str) -> dict:
    """Measured figures of one code ("before", "after") and their ratios to the matching pass-through."""
    pipe, raw = results.get("pipeline", {}), results.get("raw", {})
    out: dict = {}
    one = pipe.get(f"{code}-1w")
    sat = _phase(one, "saturation")
    if not sat:
        return out
    fan = round(sat.get("records_written_per_event_total") or 0)
    pt = raw.get(f"passthrough_x{fan}")
    pts = _phase(pt, "saturation")
    out.update(records_per_event=sat.get("records_written_per_event_total"),
               passthrough=f"x{fan}" if pts else None,
               eps_1w=_eps(sat), passthrough_eps=_eps(pts),
               worker_cpu_us=_cpu(sat, "hub worker"), broker_cpu_us=_cpu(sat, "kafka"),
               passthrough_cpu_us=_cpu(pts, "passthrough"), passthrough_broker_cpu_us=_cpu(pts, "kafka"))
    out["ratio_1w"] = _ratio(out["eps_1w"], out["passthrough_eps"])
    out["worker_cpu_ratio"] = _ratio(out["worker_cpu_us"], out["passthrough_cpu_us"], 2)
    out["broker_cpu_ratio"] = _ratio(out["broker_cpu_us"], out["passthrough_broker_cpu_us"], 2)
    half = _phase(one, "0.5 x saturation")
    out["p99_half_ms"] = _p99(half)
    out["half_rate"] = half["offered_eps"] if half else None
    two = _phase(pipe.get(f"{code}-2w"), "saturation")
    out["eps_2w"] = _eps(two)
    out["ratio_2w"] = _ratio(out["eps_2w"], out["passthrough_eps"])
    out["p99_half_ms_2w"] = _p99(_phase(pipe.get(f"{code}-2w"), "0.5 x saturation"))
    tr = (results.get("table_recovery") or {}).get(code) or {}
    out["bytes_per_open_request"] = tr.get("bytes_per_open_request")
    out["restart_keys"] = tr.get("keys_after")
    out["restart_s"] = tr.get("ready_s")
    out["restart_1m_s"] = tr.get("ready_1m_extrapolated_s")
    return out


def derive(results: dict) -> dict:
    """Ratios, target checks and the capacity model from what was measured."""
    d = {code: _code(results, code) for code in ("before", "after")}
    b, a = d["before"], d["after"]
    restart = _ratio(a.get("restart_1m_s"), b.get("restart_1m_s"), 2)
    t = TARGETS
    rows = [
        ("one worker / raw pass-through writing as many records per event", f">= {t['ratio_1w']}", "ratio_1w",
         lambda v: v >= t["ratio_1w"]),
        ("two workers / the same pass-through", f">= {t['ratio_2w']}", "ratio_2w",
         lambda v: v >= t["ratio_2w"]),
        ("worker CPU per input event / the pass-through's", f"<= {t['worker_cpu_ratio']}", "worker_cpu_ratio",
         lambda v: v <= t["worker_cpu_ratio"]),
        ("broker CPU per input event / the pass-through's broker CPU", f"<= {t['broker_cpu_ratio']}",
         "broker_cpu_ratio", lambda v: v <= t["broker_cpu_ratio"]),
        ("p99 end to end at half of saturation, 1 worker (ms)", f"<= {t['p99_half_ms']}", "p99_half_ms",
         lambda v: v <= t["p99_half_ms"]),
        ("memory per open request, worker RSS after a restart (bytes)", f"<= {t['bytes_per_open_request']}",
         "bytes_per_open_request", lambda v: v <= t["bytes_per_open_request"]),
        ("1M open requests ready after a restart (s, extrapolated from the keys measured)",
         f"<= {t['restart_vs_before']} x before", "restart_1m_s",
         lambda v: restart is not None and restart <= t["restart_vs_before"]),
    ]
    d["targets"] = [{"what": what, "target": goal, "before": b.get(key), "after": a.get(key),
                     "met": (a.get(key) is not None and check(a[key]))} for what, goal, key, check in rows]
    d["restart_after_vs_before"] = restart
    d["capacity"] = capacity(a or b)
    return d


def capacity(c: dict) -> dict:
    """Cores for the worker and the broker per 1,000 events/s from the measured CPU per event (at saturation,
    where per-event costs are lowest: at low load the batches are small and each event pays more), and what
    the assumed peak loads need."""
    w, k = c.get("worker_cpu_us"), c.get("broker_cpu_us")
    if not w or not k:
        return {}
    per_1000 = {"worker_cores": round(w / 1000, 2), "broker_cores": round(k / 1000, 2)}
    eps_per_worker = c.get("eps_1w")
    out: dict = {"per_1000_eps": per_1000, "regency_peak_eps": REGENCY_PEAK_EPS, "scopes": {}}
    for scope, regencies in REGENCIES.items():
        peak = REGENCY_PEAK_EPS * regencies
        workers = max(1, -(-int(peak) // int(eps_per_worker * 0.5))) if eps_per_worker else None
        out["scopes"][scope] = {"peak_eps": peak, "worker_cores": round(peak * w / 1e6, 2),
                                "broker_cores": round(peak * k / 1e6, 2), "workers_at_half_load": workers,
                                "partitions": max(6, 2 * (workers or 1))}
    return out


def _fmt(v: object) -> str:
    return "-" if v is None else (f"{v:,}" if isinstance(v, int) and abs(v) >= 10_000 else str(v))


def markdown(results: dict) -> str:
    meta, der = results["meta"], results.get("derived", {})
    lines = [f"# Hub benchmark — {meta['started']} ({'quick' if meta['config']['quick'] else 'full'} run, "
             f"{meta['duration_s']:.0f} s)", "",
             f"Machine: {meta['host']['cpus']} cores, {meta['host']['mem_gib']} GiB, load average at start "
             f"{meta['host']['loadavg_start']}, at end {meta['host']['loadavg_end']}; "
             f"Kafka {meta['versions'].get('kafka')}, Python {meta['host']['python']}; every client SASL_SSL "
             f"(SCRAM-SHA-512) as its own principal. "
             f"`other cpu-s` = CPU used by processes outside the benchmark during a phase (noise). "
             f"before = {(meta.get('before') or {}).get('ref', '-')[:12]}, after = this tree.", ""]
    if der.get("targets"):
        lines += ["## Targets (issue 15): ratios to the raw aiokafka runs of this run", "",
                  "| target | goal | before | after | met (after) |", "|---|---|---|---|---|"]
        for t in der["targets"]:
            lines.append(f"| {t['what']} | {t['target']} | {_fmt(t['before'])} | {_fmt(t['after'])} | "
                         f"{'yes' if t['met'] else 'no'} |")
        b, a = der.get("before", {}), der.get("after", {})
        lines += ["", "Absolute figures beside them:", "", "| | before | after |", "|---|---|---|"]
        for key, what in (("records_per_event", "records written per input event"),
                          ("passthrough", "the pass-through compared with"),
                          ("passthrough_eps", "its events/s (saturation)"),
                          ("eps_1w", "hub events/s, 1 worker (saturation)"),
                          ("eps_2w", "hub events/s, 2 workers (saturation)"),
                          ("worker_cpu_us", "worker CPU µs per input event"),
                          ("passthrough_cpu_us", "pass-through CPU µs per event"),
                          ("broker_cpu_us", "broker CPU µs per input event (hub)"),
                          ("passthrough_broker_cpu_us", "broker CPU µs per event (pass-through)"),
                          ("half_rate", "half of saturation (ev/s offered)"),
                          ("p99_half_ms_2w", "p99 ms at half of saturation, 2 workers"),
                          ("restart_keys", "open requests restarted"),
                          ("restart_s", "… ready after (s)")):
            lines.append(f"| {what} | {_fmt(b.get(key))} | {_fmt(a.get(key))} |")
        lines.append("")
    cap = der.get("capacity")
    if cap:
        pk = cap["per_1000_eps"]
        lines += ["## Capacity model (from the measured CPU per event)", "",
                  f"Per 1,000 events/s: **{pk['worker_cores']} worker cores** and **{pk['broker_cores']} "
                  f"broker cores** (replication factor 1; a replicated cluster multiplies the broker's share "
                  f"by about the replication factor). Peak load: {cap['regency_peak_eps']} events/s per "
                  f"regency "
                  f"(README, \"Capacity\").", "",
                  "| scope | peak ev/s | worker cores | broker cores | "
                  "workers (each at half its saturation) | "
                  "partitions |", "|---|---|---|---|---|---|"]
        for scope, v in cap["scopes"].items():
            lines.append(f"| {scope} | {v['peak_eps']:,.0f} | {v['worker_cores']} | {v['broker_cores']} | "
                         f"{v['workers_at_half_load']} | {v['partitions']} |")
        lines.append("")
    rows = []
    for group in ("raw", "pipeline"):
        for run in (results.get(group) or {}).values():
            rows += (run or {}).get("phases", [])
    if rows:
        lines += ["## Phases", "",
                  "| run | offered ev/s | sustained ev/s | latency p50 / p95 / p99 ms | delivered | "
                  "worker CPU µs/ev | Kafka CPU µs/ev | worker peak RSS MiB | other cpu-s |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for p in rows:
            hub = any(k.startswith("hub worker") for k in p["cpu_us_per_event"])
            who = "hub worker" if hub else "passthrough"
            mem = [v["rss_peak_mib"] for k, v in p["usage"]["processes"].items() if k.startswith(who)]
            lines.append(
                f"| {p['name']} | {p['offered_eps']} | {_eps(p) or '-'} | {_lat(p)} | "
                f"{p['delivered']}/{p['expected']} | {_cpu(p, who) or '-'} | {_cpu(p, 'kafka') or '-'} | "
                f"{' / '.join(f'{m:.0f}' for m in mem) or '-'} | "
                f"{p['usage']['machine']['other_cpu_s']} |")
        lines.append("")
    out_rows = [(label, p) for label, run in results.get("pipeline", {}).items()
                for p in run.get("phases", []) if p.get("records_written_per_event")]
    if out_rows:
        lines += ["## What the hub writes per input event (saturation)", "", "| run | total | per topic |",
                  "|---|---|---|"]
        for label, p in out_rows:
            per = ", ".join(f"{t.split('.', 2)[-1] if t.startswith('bench.') else t} {v}"
                            for t, v in sorted(p["records_written_per_event"].items(),
                                               key=lambda kv: -kv[1])[:9])
            lines.append(f"| {label} | {p['records_written_per_event_total']} | {per} |")
        lines.append("")
    for code, tr in (results.get("table_recovery") or {}).items():
        if not tr:
            continue
        lines += [f"## Requests table restart ({code})", "",
                  f"- changelog: {tr.get('keys_before', 0):,} real entries copied to "
                  f"{tr.get('keys_after', 0):,} "
                  f"keys (values {tr.get('value_bytes_mean', '-')} B)",
                  f"- worker start to ready (table restored, SLA timer index rebuilt): "
                  f"**{tr.get('ready_s')} s**"
                  f" (1M keys at that pace: {tr.get('ready_1m_extrapolated_s')} s)",
                  *([f"- prefill by the hub's store: {tr['prefill_records']:,} records in "
                     f"{tr['prefill_s']} s"]
                    if tr.get("prefill_records") is not None else []),
                  f"- worker RSS after it: {tr.get('worker_rss_mib')} MiB, empty worker "
                  f"{tr.get('empty_worker_rss_mib')}"
                  f" MiB: {tr.get('bytes_per_open_request')} B per open request",
                  *([f"- error: {tr['error']}"] if tr.get("error") else []), ""]
    for label, run in results.get("pipeline", {}).items():
        prof = run.get("profile")
        if prof and prof.get("self_by_package_pct"):
            lines += [f"## py-spy profile, {label} at saturation ({prof['samples']} samples)", "",
                      "Self time by package: "
                      + ", ".join(f"{k} {v}%" for k, v in prof["self_by_package_pct"].items()),
                      "", "| self % | function |", "|---|---|"]
            for f, pct in prof.get("top_self_pct", [])[:12]:
                lines.append(f"| {pct} | `{f}` |")
            lines += ["", "| inclusive % | function |", "|---|---|"]
            for f, pct in prof.get("top_inclusive_pct", [])[:15]:
                lines.append(f"| {pct} | `{f}` |")
            lines.append("")
    codec = results.get("codec")
    if codec and "avro_encode" in codec:
        lines += ["## Codec per event (µs, best of 5)", "", "| | Avro (hub codec) | json |", "|---|---|---|",
                  f"| encode | {codec['avro_encode']['best_us']} | {codec['json_dumps']['best_us']} |",
                  f"| decode | {codec['avro_decode']['best_us']} | {codec['json_loads']['best_us']} |",
                  f"| bytes | {codec['avro_bytes_mean']} | {codec['json_bytes_mean']} |", ""]
    router = results.get("router")
    if router and router.get("stages_us"):
        lines += ["## Intake stages in-process (no Kafka), µs per event", "", "| stage | best µs |",
                  "|---|---|"]
        for k, v in router["stages_us"].items():
            lines.append(f"| {k} | {v['best_us']} |")
        lines.append("")
    growth = results.get("growth", {}).get("sizes") if results.get("growth") else None
    if growth:
        lines += ["## Lifecycle state growth (pure core)", "",
                  "| open requests | bytes/request | apply p50 / p99 / p99.9 µs | full GC ms |",
                  "|---|---|---|---|"]
        for g in growth:
            a = g["apply"]
            lines.append(f"| {g['open_requests']:,} | {g['bytes_per_request']} | "
                         f"{a['p50_us']} / {a['p99_us']} / {a['p999_us']} | {g['full_gc_ms']} |")
        lines.append("")
    if results.get("delivery"):
        from bench.delivery import markdown as delivery_markdown

        lines += delivery_markdown(results["delivery"])
    if results.get("mall"):
        lines += _mall(results["mall"])
    if results.get("skipped"):
        lines += (["## Skipped (reported, not a failure)", ""]
                  + [f"- {k}: {v}" for k, v in results["skipped"].items()] + [""])
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


def _mall(m: dict) -> list[str]:
    """The service mall's phase (``bench.mall``): the view's apply rate per store, status look-ups, SSE."""
    lines = ["## Service mall (`hub mall serve`)", "",
             "| view store | feed events/s applied | records/s | batch |", "|---|---|---|---|"]
    for store, a in (m.get("apply") or {}).items():
        lines.append(f"| {store} | {a['feed_events_per_s']:,} | {a['records_per_s']:,} | {a['batch']} |")
    if (api := m.get("api_status_lookups")):
        lines += ["", f"Status look-ups (`GET /v1/requests/{{id}}`), {api['clients']} clients at "
                      f"{api['offered_per_s']:.0f}/s offered: {api['achieved_per_s']}/s, "
                      f"p50 {api['p50_ms']} ms, p99 {api['p99_ms']} ms, {api['errors']} errors."]
    if (sse := m.get("sse")):
        lines += ["", f"Live stream (`GET /v1/stream`): {sse['connected']}/{sse['clients']} clients, "
                      f"{sse['clients_with_every_event']} received every one of {sse['events']} feed events "
                      f"({sse['feed_events_per_s']}/s); feed -> client p50 {sse['p50_ms']} ms, "
                      f"p99 {sse['p99_ms']} ms."]
    return [*lines, ""]
