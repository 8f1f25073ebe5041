"""CPU seconds and peak memory per process over a measured window (psutil), plus the whole machine's
CPU so that other load on a shared box shows up as ``other_cpu_s``."""

from __future__ import annotations

import os
import threading
import time

import psutil


def _hwm_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


class ProcMon:
    def __init__(self, processes: dict[str, int], interval: float = 0.2):
        self.procs: dict[str, psutil.Process] = {}
        self.cpu0: dict[str, float] = {}
        self.peak: dict[str, int] = {}
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for name, pid in processes.items():
            self.add(name, pid)

    def add(self, name: str, pid: int) -> None:
        try:
            p = psutil.Process(pid)
            t = p.cpu_times()
            self.procs[name], self.cpu0[name], self.peak[name] = p, t.user + t.system, p.memory_info().rss
        except psutil.Error:
            pass

    def start(self) -> ProcMon:
        self.t0 = time.monotonic()
        self.sys0 = psutil.cpu_times()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        for name, p in list(self.procs.items()):
            try:
                rss = p.memory_info().rss
            except psutil.Error:
                continue
            if rss > self.peak[name]:
                self.peak[name] = rss

    def stop(self) -> dict:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.sample()
        wall = time.monotonic() - self.t0
        sys1 = psutil.cpu_times()
        busy = lambda t: t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)  # noqa: E731
        out: dict = {"processes": {}}
        ours = 0.0
        for name, p in self.procs.items():
            try:
                t = p.cpu_times()
                cpu = t.user + t.system - self.cpu0[name]
                rss = p.memory_info().rss
            except psutil.Error:
                continue
            ours += cpu
            out["processes"][name] = {"cpu_s": round(cpu, 2), "cpu_pct": round(100 * cpu / wall, 1),
                                      "rss_peak_mib": round(self.peak[name] / 2**20, 1),
                                      "rss_end_mib": round(rss / 2**20, 1), "hwm_mib": _hwm_mib(p.pid)}
        total = busy(sys1) - busy(self.sys0)
        out["wall_s"] = round(wall, 2)
        out["machine"] = {"cores": os.cpu_count(), "busy_cpu_s": round(total, 2),
                          "busy_pct_of_all_cores": round(100 * total / (wall * (os.cpu_count() or 1)), 1),
                          "measured_processes_cpu_s": round(ours, 2),
                          "other_cpu_s": round(max(total - ours, 0.0), 2)}
        return out
