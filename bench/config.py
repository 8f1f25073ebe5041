"""What a benchmark run does: a full preset (``make bench``, < 10 min on 2 cores), a quick one
(``--quick``, 1-2 min smoke run), and overrides from the command line or ``BENCH_*`` variables."""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from hub.settings import REPO_ROOT

RESULTS = REPO_ROOT / "bench" / "results"
SECTIONS = ("codec", "growth", "pipeline", "raw", "recovery", "experiments", "profile", "mall", "delivery")


@dataclass
class Config:
    quick: bool = False
    only: tuple[str, ...] = SECTIONS
    partitions: int = 6
    workers: tuple[int, ...] = (1, 2)           # hub worker processes per configuration
    warmup_events: int = 500                     # through the real VillageDeskConnector, before timing
    saturation_events: int = 60_000              # at most, offered as fast as the load generator can
    saturation_seconds: float = 20.0             # ... sized by a probe to last about this long
    probe_events: int = 3_000
    overload_seconds: float = 4.0                # a fixed load above capacity is offered only this long
    fixed_rates: tuple[int, ...] = (5000,)       # events/s offered; 0.5 x saturation is added
    half_saturation: bool = True
    fixed_seconds: float = 10.0
    drain_timeout: float = 60.0                  # after the last send, how long to wait for outputs
    passthrough_fanouts: tuple[int, ...] = (1, 2)
    codec_iterations: int = 20_000
    router_events: int = 5_000
    growth_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    growth_tracemalloc_max: int = 100_000        # above this size memory is taken from RSS (tracemalloc is slow)
    recovery_keys: int = 1_000_000              # pure changelog read, and the real requests table
    table_recovery_keys: int = 1_000_000        # real requests table restart (the 1M keys)
    recovery_timeout: float = 240.0
    recovered_latency_rate: int = 500
    experiment_events: int = 30_000              # at most, per variant (uvloop, producer linger/batch) ...
    experiment_seconds: float = 12.0             # ... sized from the 1-worker saturation rate to last this long
    profile_seconds: float = 12.0
    variant_rate: int = 1000                     # latency phase of each worker variant (at most 0.5 x saturation)
    variant_seconds: float = 5.0
    budget_s: float = 540.0                      # phases and sections past this are skipped (10-min make bench)
    table_store: str | None = None               # HUB_TABLE_STORE for the bench workers (e.g. rocksdb://)
    out: Path = RESULTS

    @classmethod
    def preset(cls, quick: bool) -> Config:
        if not quick:
            return cls()
        return cls(quick=True, warmup_events=200, saturation_events=6_000, saturation_seconds=5.0,
                   probe_events=1_500, overload_seconds=1.0, recovery_timeout=60.0, variant_seconds=3.0,
                   budget_s=150.0, fixed_seconds=3.0,
                   drain_timeout=30.0, passthrough_fanouts=(1,), codec_iterations=3_000, router_events=2_000,
                   growth_sizes=(10_000, 50_000), recovery_keys=50_000, table_recovery_keys=20_000,
                   experiment_events=6_000, experiment_seconds=4.0,
                   profile_seconds=4.0, only=tuple(s for s in SECTIONS if s != "experiments"))

    def as_dict(self) -> dict:
        d = asdict(self)
        d["out"] = str(self.out)
        return d


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(float(x)) for x in text.split(",") if x.strip())


def parse(argv: list[str] | None = None) -> Config:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1",
                   help="1-2 minute smoke run (small N, no experiments)")
    p.add_argument("--only", help=f"comma-separated sections among {','.join(SECTIONS)} (env BENCH_ONLY)")
    p.add_argument("--skip", help="comma-separated sections to leave out (env BENCH_SKIP)")
    p.add_argument("--workers", help="worker-process counts, e.g. 1,2 (env BENCH_WORKERS)")
    p.add_argument("--events", type=int, help="saturation events per run (env BENCH_EVENTS)")
    p.add_argument("--rates", help="fixed offered loads in events/s, e.g. 5000,2000 (env BENCH_RATES)")
    p.add_argument("--seconds", type=float, help="duration of each fixed-load phase (env BENCH_SECONDS)")
    p.add_argument("--growth", help="open-request counts, e.g. 10000,100000,1000000 (env BENCH_GROWTH)")
    p.add_argument("--recovery-keys", type=int, help="changelog keys to recover (env BENCH_RECOVERY_KEYS)")
    p.add_argument("--table-keys", type=int, help="keys of the real requests table restarted (env BENCH_TABLE_KEYS)")
    p.add_argument("--table-store", help="HUB_TABLE_STORE for the workers, e.g. rocksdb:// (env BENCH_TABLE_STORE)")
    p.add_argument("--partitions", type=int, help="partitions per topic (env BENCH_PARTITIONS)")
    p.add_argument("--budget", type=float, help="seconds after which remaining phases are skipped (env BENCH_BUDGET)")
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
    if r := a.rates or env("BENCH_RATES"):
        cfg.fixed_rates = _ints(r)
    if s := a.seconds or env("BENCH_SECONDS"):
        cfg.fixed_seconds = float(s)
    if g := a.growth or env("BENCH_GROWTH"):
        cfg.growth_sizes = _ints(g)
    if k := a.recovery_keys or env("BENCH_RECOVERY_KEYS"):
        cfg.recovery_keys = int(k)
    if tk := a.table_keys or env("BENCH_TABLE_KEYS"):
        cfg.table_recovery_keys = int(tk)
    if ts := a.table_store or env("BENCH_TABLE_STORE"):
        cfg.table_store = ts
    if pt := a.partitions or env("BENCH_PARTITIONS"):
        cfg.partitions = int(pt)
    if b := a.budget or env("BENCH_BUDGET"):
        cfg.budget_s = float(b)
    if o := a.out or env("BENCH_OUT"):
        cfg.out = Path(o)
    return cfg


__all__ = ["Config", "parse", "SECTIONS", "RESULTS", "fields"]
