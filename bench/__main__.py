"""``python -m bench`` (``make bench``): issue 15's targets as ratios to raw aiokafka, before and after, in
one
run of at most 10 minutes on 2 cores.

    python -m bench                 # full run -> bench/results/latest.json + latest.md
    python -m bench --quick         # a few minutes' smoke run
    python -m bench --only codec,growth          # sections without the stack
    python -m bench --baseline none              # this tree only (no before/after)
See bench/README.md for every option and BENCH_* variable.

Order (the targets first, extras while the budget lasts): the secured stack; raw produce->consume and raw
pass-throughs (x1, x6: they size every later phase); for the "before" code (a git commit, exported) and this
tree: one worker (probe, saturation, half of saturation, a py-spy'd saturation), two workers; the requests
table restart; then the codec, growth and mall sections. A phase that no longer fits the budget is skipped
and reported, and the command still succeeds; only an error fails it.
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
    for pkg in ("aiokafka", "faust-streaming", "fastavro", "msgspec", "pydantic", "psutil", "py-spy",
                "uvloop", "rocksdict"):
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
                              "errors": {}, "skipped": {}}
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

    def fits(self, seconds: float) -> bool:
        """Does a phase of about ``seconds`` still fit in the run's budget?"""
        return self.time_left() > seconds

    def skip(self, name: str, why: str = "out of the run's time budget") -> None:
        self.results["skipped"][name] = why
        log(f"skipping {name}: {why}")

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
    time.sleep(2)
    return mon.stop()


def _eps(run: dict | None) -> float | None:
    if not run:
        return None
    p = run["phases"][0]
    return p.get("steady_eps") or p.get("end_to_end_eps")


def _stack_sections(run: Run, workdir: Path) -> None:
    """Everything that needs the secured stack."""
    from bench import pipeline, raw_kafka
    from bench.hubs import Code, export, make_hub
    from hub.dev.stack import LocalStack

    cfg, R = run.cfg, run.results
    only = set(cfg.only)
    t0 = time.monotonic()
    stack = LocalStack(workdir / "stack")
    log("starting Kafka (KRaft) + Apicurio Registry + Keycloak on loopback, SASL_SSL ...")
    stack.start()
    try:
        R["meta"]["stack_start_s"] = round(time.monotonic() - t0, 1)
        log(f"stack ready in {R['meta']['stack_start_s']}s: {stack.bootstrap}")
        R["meta"]["idle"] = _idle(stack)
        codes = [Code()]
        if cfg.baseline:
            before = run.section(f"export the before code ({cfg.baseline})", export, cfg.baseline,
                                 workdir / "before-code")
            if before is not None:
                codes = [before, Code()]
                R["meta"]["before"] = {"ref": before.ref}
        p = cfg.partitions

        # -- raw aiokafka: the limit and the comparators; their rates size every later phase --------------
        raw_hub = make_hub(stack, "raw-pc", partitions=p)
        warm = run.section("broker warm-up", raw_kafka.produce_consume, raw_hub, cfg, 5_000, "broker-warmup")
        rate = _eps(warm) or 5_000.0
        R["raw"] = {}
        if "raw" in only:
            n = pipeline.sized(rate, cfg.raw_seconds, 2_000, cfg.raw_events)
            R["raw"]["produce_consume"] = run.section("raw produce->consume", raw_kafka.produce_consume,
                                                      raw_hub, cfg, n)
            rate = _eps(R["raw"]["produce_consume"]) or rate
            for fanout in cfg.passthrough_fanouts:
                n = pipeline.sized(rate / max(1, fanout) ** 0.5, cfg.raw_seconds, 2_000, cfg.raw_events)
                hub = make_hub(stack, f"raw-x{fanout}", partitions=p)
                R["raw"][f"passthrough_x{fanout}"] = run.section(
                    f"raw pass-through x{fanout}", raw_kafka.passthrough, hub, cfg, fanout, workdir, n)

        # -- the hub: before and after, 1 and 2 workers --------------------------------------------------
        R["pipeline"] = {}
        hubs: dict[str, object] = {}
        if "pipeline" in only or "profile" in only:
            for n_workers in (cfg.workers if "pipeline" in only else (1,)):
                for code in codes:
                    label = f"{code.name}-{n_workers}w"
                    need = 30 + cfg.saturation_seconds + cfg.fixed_seconds + 20
                    if not run.fits(need):
                        run.skip(f"hub {label}")
                        continue
                    hub = make_hub(stack, label, partitions=p, code=code, table_store=cfg.table_store,
                                   citizen_ref_key="bench-key")
                    res = run.section(f"hub {label}", pipeline.run_hub, hub, cfg, workdir, n_workers,
                                      profile="profile" in only and n_workers == 1, keep_budget=run.fits)
                    if res:
                        R["pipeline"][label] = res
                        hubs[label] = hub
                        for name in res.get("skipped_phases", []):
                            run.skip(f"{label} {name}")
            # the pass-through that writes as many records per event as this tree's worker
            fan = round((R["pipeline"].get("after-1w") or {}).get("phases", [{}])[0]
                        .get("records_written_per_event_total") or 0)
            if "raw" in only and fan > 1 and f"passthrough_x{fan}" not in R["raw"]:
                if run.fits(40):
                    hub = make_hub(stack, f"raw-x{fan}", partitions=p)
                    n = pipeline.sized(_eps(R["raw"].get("produce_consume")) or rate, cfg.raw_seconds / 2,
                                       2_000, cfg.raw_events)
                    R["raw"][f"passthrough_x{fan}"] = run.section(
                        f"raw pass-through x{fan} (the hub's fan-out)", raw_kafka.passthrough, hub, cfg, fan,
                        workdir, n)
                else:
                    run.skip(f"raw pass-through x{fan}")

        # -- the requests table after a restart -----------------------------------------------------------
        if "recovery" in only:
            R["table_recovery"] = {}
            for code in codes:
                label = f"{code.name}-1w"
                hub = hubs.get(label)
                if hub is None:
                    continue
                left = run.time_left() / (2 if code.name == "before" and len(codes) > 1 else 1) - 40
                keys = min(cfg.table_recovery_keys, int(max(0, left) * 8_000))  # ~8k keys/s: copy + restart
                if keys < 20_000:
                    run.skip(f"table recovery ({code.name})")
                    continue
                base = run.section(f"empty worker RSS ({code.name})", pipeline.empty_worker_rss, hub, workdir)
                R["table_recovery"][code.name] = run.section(
                    f"requests table restart ({code.name}, {keys:,} keys)", pipeline.restart_recovery, hub,
                    cfg, workdir, keys, timeout=min(cfg.recovery_timeout, max(run.time_left() - 20, 30)),
                    base_rss_mib=base)
        # -- push delivery: one dispatcher to a fast local receiver (bench/delivery.py) -------------------
        if "delivery" in only:
            if run.fits(120):
                from bench.delivery import delivery_bench

                R["delivery"] = run.section("push delivery (hub deliver)", delivery_bench, stack, cfg,
                                            workdir)
            else:
                run.skip("delivery")
    finally:
        log("stopping the stack")
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    cfg = parse(argv)
    try:
        import psutil  # noqa: F401
    except ImportError:
        print("the benchmarks need psutil: .venv/bin/pip install -e '.[bench]'", file=sys.stderr)
        return 2
    run = Run(cfg)
    R = run.results
    only = set(cfg.only)
    log(f"{'quick' if cfg.quick else 'full'} run: {', '.join(cfg.only)}; budget {cfg.budget_s:.0f}s; "
        f"results to {cfg.out}")
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    try:
        if only & {"pipeline", "raw", "recovery", "experiments", "profile", "delivery"}:
            _stack_sections(run, workdir)
        if "codec" in only:
            from bench.codec import codec_bench, router_bench

            if run.fits(20):
                R["codec"] = run.section("codec micro-benchmark", codec_bench, cfg.codec_iterations)
                R["router"] = run.section("router in-process", router_bench, cfg.router_events)
            else:
                run.skip("codec")
        if "growth" in only:
            from bench.growth import growth_bench

            if run.fits(60):
                R["growth"] = run.section("lifecycle state growth", growth_bench, cfg.growth_sizes,
                                          cfg.growth_tracemalloc_max)
            else:
                run.skip("growth")
        if "mall" in only:  # the service mall's view, API and live stream (bench/mall.py)
            from bench.mall import mall_bench

            if run.fits(90):
                R["mall"] = run.section("service mall: view apply rate, API p99, SSE fan-out", mall_bench,
                                        10_000 if cfg.quick else 30_000)
            else:
                run.skip("mall")
    except KeyboardInterrupt:
        log("interrupted; writing what was measured")
        R["errors"]["interrupted"] = "KeyboardInterrupt"
    finally:
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
