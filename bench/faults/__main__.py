"""``python -m bench.faults`` (``make faults``): the fault campaign of issue 11 on the real stack, under load.

    python -m bench.faults                  # every scenario, ~15 min on 2 cores
    python -m bench.faults --quick          # smaller and shorter (one kill), ~10 min
    python -m bench.faults --only fuzzed_intake,worker_kills

Scenarios (one module each): fuzzed_intake (``intake``), worker_kills (``workers``), broker_kill and
registry_down (``outages``), slow_subscriber (``subscriber``) on one secured single-broker stack
(``hub.dev.stack.LocalStack``), each with a hub of its own; then cluster_broker_loss (``cluster``) on a
three-broker cluster (``hub.dev.cluster.LocalCluster``). Writes ``bench/results/faults.json`` and
``faults.md``, prints the report, and exits 1 if any scenario failed (a record lost or stalled, a duplicate
after dedup by (ce_source, ce_id), or a criterion of its own), 0 otherwise.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.faults import intake, outages, subscriber, workers
from bench.faults.cluster import cluster_broker_loss
from bench.faults.harness import log
from bench.faults.report import markdown, write
from bench.faults.scenario import Context, Scale
from hub.dev.stack import LocalStack, fetch
from hub.settings import REPO_ROOT

SINGLE: dict[str, Callable[[Context], dict[str, Any]]] = {
    "fuzzed_intake": intake.fuzzed_intake, "worker_kills": workers.worker_kills,
    "broker_kill": outages.broker_kill, "registry_down": outages.registry_down,
    "slow_subscriber": subscriber.slow_subscriber,
}
CLUSTER = "cluster_broker_loss"
ALL = (*SINGLE, CLUSTER)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("FAULTS_QUICK") == "1",
                        help="smaller record counts and shorter phases")
    parser.add_argument("--only", default=",".join(ALL), help=f"comma-separated, of: {', '.join(ALL)}")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (worker logs, ledgers)")
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(ALL)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


def _guarded(name: str, fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    try:
        return fn(*args)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - one scenario's failure to run is reported, the rest go on
        traceback.print_exc()
        log(f"{name} could not run: {exc!r}")
        return {"scenario": name, "verdict": "error", "error": f"{type(exc).__name__}: {exc}"[:500]}


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    scale = Scale.of(args.quick)
    only = [name for name in ALL if name in args.only.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="hub-faults-"))
    started = time.monotonic()
    results: dict[str, Any] = {"meta": {
        "started": datetime.now(UTC).isoformat(timespec="seconds"), "quick": args.quick, "seed": args.seed,
        "scale": vars(scale), "host": f"{os.cpu_count()} CPUs, {platform.platform()}",
        "loadavg_start": [round(x, 2) for x in os.getloadavg()]}, "scenarios": {}, "exit_code": None}
    log(f"fault campaign ({'quick' if args.quick else 'full'}): {', '.join(only)}; work folder {workdir}")
    try:
        dist = fetch()
        single = [name for name in only if name in SINGLE]
        if single:
            stack = LocalStack(workdir / "stack", dist=dist)
            log("starting the secured stack (Kafka, Apicurio Registry, Keycloak)")
            stack.start()
            try:
                ctx = Context(stack, workdir, scale, args.seed)
                for name in single:
                    results["scenarios"][name] = _guarded(name, SINGLE[name], ctx)
            finally:
                stack.stop()
        if CLUSTER in only:
            results["scenarios"][CLUSTER] = _guarded(
                CLUSTER, cluster_broker_loss, workdir, lambda c: Context(c, workdir, scale, args.seed))
    except KeyboardInterrupt:
        log("interrupted: reporting what was measured")
        results["meta"]["interrupted"] = True
    finally:
        failed = [n for n, s in results["scenarios"].items() if s.get("verdict") != "pass"]
        broken = failed or results["meta"].get("interrupted") or not results["scenarios"]
        results["exit_code"] = 1 if broken else 0
        results["meta"]["duration_s"] = round(time.monotonic() - started)
        results["meta"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        paths = write(results, args.out)
        print(markdown(results), flush=True)
        log(f"report: {paths[0]} and {paths[1]}")
        if args.keep or failed:
            log(f"kept {workdir} (worker logs, ledgers); remove it when done")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return int(results["exit_code"])


if __name__ == "__main__":
    sys.exit(main())
