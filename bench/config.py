"""What a benchmark run does: a full preset (``make bench``, within 10 minutes on 2 cores), a quick one
(``--quick``, a few minutes), and overrides from the command line or ``BENCH_*`` variables.

Phase sizes are upper bounds: each saturation phase is sized from the rate measured just before it (the raw
runs first, then each hub's probe) to last about its ``*_seconds``, so a slow machine runs the same phases
with fewer events instead of skipping them."""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from hub.settings import REPO_ROOT

RESULTS = REPO_ROOT / "bench" / "results"
SECTIONS = ("raw", "pipeline", "profile", "recovery", "codec", "growth", "mall", "delivery")
DEFAULT_SECTIONS = ("raw", "pipeline", "profile", "recovery", "codec", "mall", "delivery")
#: main just before issue 15's batched hot path merged (issues 11-14 in): "before" in every before/after table
#: (``--baseline``) and in the equivalence tests (tests/support/baseline.py).
BASELINE_REF = "5158cf67f6f16e80863b9bee2f83c013aaa498c5"


@dataclass
class Config:
    quick: bool = False
    only: tuple[str, ...] = DEFAULT_SECTIONS
    partitions: int = 6
    workers: tuple[int, ...] = (1, 2)           # hub worker processes per configuration
    baseline: str | None = BASELINE_REF          # git ref of the "before" code; None: only this tree
    warmup_events: int = 500
    probe_events: int = 2_000                    # a short saturation phase that sizes the real one
    saturation_events: int = 80_000             # at most, offered as fast as the load generator can ...
    saturation_seconds: float = 12.0             # ... sized by the probe to last about this long
    raw_events: int = 80_000                     # raw runs: at most ...
    raw_seconds: float = 8.0                     # ... sized to last about this long
    fixed_seconds: float = 8.0                   # the fixed load at 0.5 x saturation (latency target)
    profile_seconds: float = 6.0                 # saturation with py-spy attached (1 worker)
    drain_timeout: float = 60.0                  # after the last send, how long to wait for outputs
    passthrough_fanouts: tuple[int, ...] = (1, 6)
    codec_iterations: int = 20_000
    router_events: int = 5_000
    growth_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    growth_tracemalloc_max: int = 100_000        # above: memory from RSS (tracemalloc is slow)
    table_recovery_keys: int = 1_000_000        # real requests table restart (the 1M keys), at most
    recovery_timeout: float = 240.0
    budget_s: float = 600.0                      # the whole run; phases that no longer fit: skipped, reported
    table_store: str | None = None               # HUB_TABLE_STORE for the bench workers (e.g. rocksdb://)
    out: Path = RESULTS

    @classmethod
    def preset(cls, quick: bool) -> Config:
        if not quick:
            return cls()
        return cls(quick=True, warmup_events=200, probe_events=1_000, saturation_events=20_000,
                   saturation_seconds=5.0, raw_events=20_000, raw_seconds=4.0, fixed_seconds=3.0,
                   profile_seconds=3.0, drain_timeout=30.0, workers=(1,), codec_iterations=3_000,
                   router_events=2_000, growth_sizes=(10_000, 50_000), table_recovery_keys=100_000,
                   recovery_timeout=90.0, budget_s=300.0,
                   only=("raw", "pipeline", "profile", "recovery", "codec"))

    def as_dict(self) -> dict:
        d = asdict(self)
        d["out"] = str(self.out)
        return d


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(float(x)) for x in text.split(",") if x.strip())


def parse(argv: list[str] | None = None) -> Config:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1",
                   help="a few minutes' smoke run (small N, one worker count, no mall)")
    p.add_argument("--only", help=f"comma-separated sections among {','.join(SECTIONS)} (env BENCH_ONLY)")
    p.add_argument("--skip", help="comma-separated sections to leave out (env BENCH_SKIP)")
    p.add_argument("--workers", help="worker-process counts, e.g. 1,2 (env BENCH_WORKERS)")
    p.add_argument("--events", type=int, help="saturation events per run, at most (env BENCH_EVENTS)")
    p.add_argument("--seconds", type=float, help="duration of each saturation phase (env BENCH_SECONDS)")
    p.add_argument("--baseline", help="git ref of the 'before' code, 'none' for this tree only "
                                      "(env BENCH_BASELINE)")
    p.add_argument("--growth", help="open-request counts, e.g. 10000,100000,1000000 (env BENCH_GROWTH)")
    p.add_argument("--table-keys", type=int, help="keys of the real requests table restarted, at most "
                                                  "(env BENCH_TABLE_KEYS)")
    p.add_argument("--table-store",
                   help="HUB_TABLE_STORE for the workers, e.g. rocksdb:// (env BENCH_TABLE_STORE)")
    p.add_argument("--partitions", type=int, help="partitions per topic (env BENCH_PARTITIONS)")
    p.add_argument("--budget", type=float, help="seconds for the whole run (env BENCH_BUDGET)")
    p.add_argument("--out", help="results folder (env BENCH_OUT; default bench/results)")
    a = p.parse_args(argv)
    cfg = Config.preset(a.quick)
    env = os.environ.get
    only = a.only or env("BENCH_ONLY")
    if only:
        cfg.only = tuple(s.strip() for s in only.split(",") if s.strip())
    skip = a.skip or env("BENCH_SKIP")
    if skip:
        cfg.only = tuple(s for s in cfg.only if s not in {x.strip() for x in skip.split(",")})
    unknown = set(cfg.only) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections {sorted(unknown)}; choose among {SECTIONS}")
    if w := a.workers or env("BENCH_WORKERS"):
        cfg.workers = _ints(w)
    if n := a.events or env("BENCH_EVENTS"):
        cfg.saturation_events = int(n)
    if s := a.seconds or env("BENCH_SECONDS"):
        cfg.saturation_seconds = float(s)
    if (b := a.baseline or env("BENCH_BASELINE")) is not None:
        cfg.baseline = None if b.lower() in ("", "none") else b
    if g := a.growth or env("BENCH_GROWTH"):
        cfg.growth_sizes = _ints(g)
    if tk := a.table_keys or env("BENCH_TABLE_KEYS"):
        cfg.table_recovery_keys = int(tk)
    if ts := a.table_store or env("BENCH_TABLE_STORE"):
        cfg.table_store = ts
    if pt := a.partitions or env("BENCH_PARTITIONS"):
        cfg.partitions = int(pt)
    if bd := a.budget or env("BENCH_BUDGET"):
        cfg.budget_s = float(bd)
    if o := a.out or env("BENCH_OUT"):
        cfg.out = Path(o)
    return cfg


__all__ = ["Config", "parse", "SECTIONS", "RESULTS", "fields"]
