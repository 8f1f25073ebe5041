"""``python -m bench`` (``make bench``): every benchmark of issue 6 in one run, < 10 minutes on 2 cores.

    python -m bench                 # full run -> bench/results/latest.json + latest.md
    python -m bench --quick         # 1-2 minute smoke run
    python -m bench --only codec,growth          # sections without the stack
    python -m bench --workers 1 --events 20000 --rates 5000,2000 --seconds 8
See bench/README.md for every option and BENCH_* variable.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench.config import Config, parse
from bench.pipeline import log


def _versions() -> dict:
    out = {}
    for pkg in ("aiokafka", "faust-streaming", "fastavro", "pydantic", "psutil", "py-spy", "uvloop", "rocksdict"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    try:
        from hub.dev.stack import versions

        out.update(versions())
    except Exception:  # noqa: BLE001
        pass
    return out


def _host() -> dict:
    import psutil

    return {"cpus": os.cpu_count(), "mem_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()]}


class Run:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.results: dict = {"meta": {"started": datetime.now(UTC).isoformat(timespec="seconds"),
                                       "config": cfg.as_dict(), "host": _host(), "versions": _versions()},
                              "errors": {}}
        self.t0 = time.monotonic()

    def section(self, name: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        """Run one section; a failure is recorded and the run goes on."""
        log(f"{name} ...")
        t0 = time.monotonic()
        try:
            out = fn(*args, **kwargs)
            log(f"{name} done in {time.monotonic() - t0:.1f}s")
            return out
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            self.results["errors"][name] = f"{type(exc).__name__}: {exc}"
            log(f"{name} FAILED: {exc}")
            return None

    def time_left(self) -> float:
        return self.cfg.budget_s - (time.monotonic() - self.t0)

    def keep(self) -> bool:
        return self.time_left() > 0

    def save(self) -> None:
        from bench.report import write

        meta = self.results["meta"]
        meta["duration_s"] = round(time.monotonic() - self.t0, 1)
        meta["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        meta["host"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        j, m = write(self.results, self.cfg.out)
        log(f"results: {j} and {m}")


def _idle(stack) -> dict:  # type: ignore[no-untyped-def]
    """CPU of the stack while nothing is sent: the floor under every phase."""
    from bench.procmon import ProcMon

    mon = ProcMon({"kafka (JVM)": stack.pids["kafka"], "registry (JVM)": stack.pids["registry"]}).start()
    time.sleep(3)
    return mon.stop()


def main(argv: list[str] | None = None) -> int:
    cfg = parse(argv)
    try:
        import psutil  # noqa: F401
    except ImportError:
        print("the benchmarks need psutil: .venv/bin/pip install 'psutil>=5.9' "
              "(and for every section: py-spy, uvloop, rocksdict)", file=sys.stderr)
        return 2
    run = Run(cfg)
    R = run.results
    only = set(cfg.only)
    log(f"{'quick' if cfg.quick else 'full'} run: {', '.join(cfg.only)}; results to {cfg.out}")
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    stack = None
    try:
        if "codec" in only:
            from bench.codec import codec_bench, router_bench

            R["codec"] = run.section("codec micro-benchmark", codec_bench, cfg.codec_iterations)
            R["router"] = run.section("router in-process", router_bench, cfg.router_events)
        if "growth" in only:
            from bench.growth import growth_bench

            R["growth"] = run.section("lifecycle state growth", growth_bench, cfg.growth_sizes,
                                      cfg.growth_tracemalloc_max)
        if "mall" in only:  # the service mall's view, API and live stream (bench/mall.py)
            from bench.mall import mall_bench

            R["mall"] = run.section("service mall: view apply rate, API p99, SSE fan-out", mall_bench,
                                    10_000 if cfg.quick else 30_000)
        if only & {"pipeline", "raw", "recovery", "experiments", "profile", "delivery"}:
            from hub.dev.stack import LocalStack

            t0 = time.monotonic()
            stack = LocalStack(workdir / "stack")
            log("starting Kafka (KRaft) + Apicurio Registry on loopback ...")
            stack.start()
            R["meta"]["stack_start_s"] = round(time.monotonic() - t0, 1)
            log(f"stack ready in {R['meta']['stack_start_s']}s: {stack.bootstrap}")
            R["meta"]["idle"] = _idle(stack)
            from bench import pipeline, raw_kafka

            # Warm the broker's JIT with the same records before anything is measured.
            run.section("broker warm-up", raw_kafka.produce_consume, stack, cfg, "broker-warmup")
            keep = run.keep
            if "raw" in only:
                R["raw"] = {}
                R["raw"]["produce_consume"] = run.section("raw produce->consume", raw_kafka.produce_consume,
                                                          stack, cfg)
                for f in cfg.passthrough_fanouts:
                    R["raw"][f"passthrough_x{f}"] = run.section(
                        f"raw pass-through x{f}", raw_kafka.passthrough, stack, cfg, f, workdir,
                        rates=cfg.fixed_rates if f == 1 else ())
            ctx, hub_sat = None, None
            if "pipeline" in only or "profile" in only:
                R["pipeline"] = {}
                for n in (cfg.workers if "pipeline" in only else (1,)):
                    label = f"hub-{n}w"
                    res = run.section(f"hub with {n} worker(s)", pipeline.run_hub, stack, cfg, workdir, label, n,
                                      profile=("profile" in only and n == 1), keep_budget=keep,
                                      phases=None if "pipeline" in only else [("saturation", 0, cfg.saturation_events)])
                    if res:
                        if "profile" in res:
                            R["profile"] = res.pop("profile")
                        c = res.pop("_ctx", None)
                        ctx = ctx or (label, c)
                        R["pipeline"][label] = res
                        sat = next((p for p in res["phases"] if p["offered_eps"] == "max"), None)
                        if n == 1 and sat:
                            hub_sat = sat.get("steady_eps") or sat.get("end_to_end_eps")
                            fan = round(sat.get("records_written_per_event_total") or 0)
                            if "raw" in only and fan > 1 and fan not in cfg.passthrough_fanouts and keep():
                                R["raw"][f"passthrough_x{fan}"] = run.section(
                                    f"raw pass-through x{fan} (the hub's fan-out)", raw_kafka.passthrough, stack,
                                    cfg, fan, workdir)
            if "recovery" in only and keep():
                from bench.recovery import recovery_bench

                R["recovery"] = run.section("changelog read into dict / rocksdict", recovery_bench, stack.bootstrap,
                                            cfg.recovery_keys, cfg.partitions, workdir)
            if "experiments" in only:
                R["experiments"], R["experiments_summary"] = {}, []
                no_linger = {"HUB_PRODUCER_LINGER_MS": "0", "HUB_PRODUCER_BATCH_BYTES": str(16 * 1024)}
                variants = [("baseline: hub defaults (linger 5 ms, 256 KiB batches)", {}),
                            ("uvloop", {"BENCH_UVLOOP": "1"}),
                            ("no linger, 16 KiB batches (Faust's defaults)", no_linger),
                            ("linger 20 ms", {"HUB_PRODUCER_LINGER_MS": "20"})]
                base = None
                n_var = int(min(cfg.experiment_events, max(1000, (hub_sat or 1000) * cfg.experiment_seconds)))
                v_rate = int(min(cfg.variant_rate, max(100, (hub_sat or 2 * cfg.variant_rate) * 0.5 // 50 * 50)))
                for i, (vname, env) in enumerate(variants):
                    if not keep():
                        R["errors"][f"variant: {vname}"] = "skipped: out of time budget"
                        continue
                    res = run.section(
                        f"variant: {vname}", pipeline.run_hub, stack, cfg, workdir, f"var{i}", 1, env=env,
                        wrapper=True, rate_from_saturation=False, keep_budget=keep,
                        phases=[(f"saturation [{vname}]", 0, n_var),
                                (f"fixed {v_rate}/s [{vname}]", v_rate, int(v_rate * cfg.variant_seconds))])
                    if not res:
                        continue
                    res.pop("_ctx", None)
                    R["experiments"][f"var{i}"] = res
                    p = res["phases"][0]
                    lat = res["phases"][1]["latency_ms"] if len(res["phases"]) > 1 else {}
                    eps = p.get("steady_eps") or p.get("end_to_end_eps")
                    cpu = p["cpu_us_per_event"].get("hub worker 1")
                    base = base or eps
                    R["experiments_summary"].append({
                        "variant": vname, "eps": eps, "cpu_us": cpu,
                        "vs_baseline": round(eps / base, 3) if eps and base else None,
                        "latency_at_rate": v_rate,
                        "p50_p99_ms": [max((v.get("p50") or 0) for v in lat.values()) if lat else None,
                                       max((v.get("p99") or 0) for v in lat.values()) if lat else None]})
            if "delivery" in only and keep():
                from bench.delivery import delivery_bench

                R["delivery"] = run.section("push delivery (hub deliver)", delivery_bench, stack, cfg, workdir)
            if "recovery" in only and ctx and ctx[1]:
                label, c = ctx
                left = run.time_left()
                if left < 30:
                    R["errors"]["table recovery after restart"] = "skipped: out of time budget"
                else:
                    R["table_recovery"] = run.section(
                        "requests table recovery after a worker restart", pipeline.restart_recovery, stack, cfg,
                        workdir, label, c["settings"], c["env"], cfg.table_recovery_keys, wrapper=c["wrapper"],
                        kinds=c["kinds"], timeout=min(cfg.recovery_timeout, max(left - 20, 30)))
    except KeyboardInterrupt:
        log("interrupted; writing what was measured")
        R["errors"]["interrupted"] = "KeyboardInterrupt"
    finally:
        if stack is not None:
            log("stopping the stack")
            stack.stop()
        try:
            run.save()
        finally:
            if R["errors"] or os.environ.get("BENCH_KEEP") == "1":
                log(f"kept {workdir} (worker logs, py-spy output) for a look; remove it when done")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    return 0 if not R["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
