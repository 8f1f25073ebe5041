"""Sampling profile of a running hub worker with py-spy (``py-spy record -f raw``), summarised by
function (self and inclusive share of samples) and by package. Falls back to nothing if py-spy is
not installed or cannot attach (ptrace)."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import sys
from collections import Counter
from pathlib import Path

GROUPS = [("hub/", "hub"), ("faust/", "faust"), ("mode/", "mode"), ("aiokafka/", "aiokafka"),
          ("kafka/", "aiokafka"), ("fastavro/", "fastavro"), ("pydantic", "pydantic"),
          ("asyncio/", "asyncio"), ("prometheus_client/", "prometheus_client"), ("stdnum/", "stdnum"),
          ("holidays/", "holidays")]
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def pyspy_path() -> str | None:
    return shutil.which("py-spy") or (str(Path(sys.executable).parent / "py-spy")
                                      if (Path(sys.executable).parent / "py-spy").exists() else None)


def _short(file: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def _group(file: str) -> str:
    for needle, name in GROUPS:
        if needle in file:
            return name
    return "other"


def summarise(raw: str, top: int = 25) -> dict:
    """Collapsed stacks (``a;b;c count`` lines) -> self and inclusive percentages."""
    self_c: Counter[str] = Counter()
    incl_c: Counter[str] = Counter()
    group_c: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = []
        for f in stack.split(";"):
            m = _FRAME.match(f.strip())
            frames.append(f"{m['func']} ({_short(m['file'])})" if m else f.strip())
        if not frames:
            continue
        self_c[frames[-1]] += n
        for f in set(frames):
            incl_c[f] += n
        leaf = _FRAME.match(stack.split(";")[-1].strip())
        group_c[_group(leaf["file"]) if leaf else "other"] += n
    pct = lambda c: round(100 * c / total, 1) if total else 0.0  # noqa: E731
    return {"samples": total,
            "self_by_package_pct": {g: pct(c) for g, c in group_c.most_common()},
            "top_self_pct": [[f, pct(c)] for f, c in self_c.most_common(top)],
            "top_inclusive_pct": [[f, pct(c)] for f, c in incl_c.most_common(top * 2)
                                  if "(" in f and ("hub/" in f or "faust/" in f or "aiokafka/" in f
                                                   or "mode/" in f)][:top]}


class PySpy:
    """``py-spy record --gil`` on a process from start() until stop() (SIGINT makes it write its output).
    ``--gil``: only the thread holding the GIL is sampled, i.e. where the process spends its CPU."""

    def __init__(self, pid: int, workdir: Path, rate: int = 100, max_seconds: float = 600):
        self.pid, self.rate, self.max_seconds = pid, rate, max_seconds
        self.out = Path(workdir) / f"pyspy-{pid}.txt"
        self.proc: asyncio.subprocess.Process | None = None
        self.error: str | None = None

    async def start(self) -> PySpy:
        exe = pyspy_path()
        if not exe:
            self.error = "py-spy not installed (.venv/bin/pip install py-spy)"
            return self
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.proc = await asyncio.create_subprocess_exec(
            exe, "record", "-p", str(self.pid), "-d", str(int(self.max_seconds)), "-r", str(self.rate),
            "--gil", "-f", "raw", "-o", str(self.out),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        return self

    async def stop(self) -> dict:
        if self.proc is None:
            return {"error": self.error}
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            text = (await asyncio.wait_for(self.proc.communicate(), 30))[0].decode(errors="replace")
        except asyncio.TimeoutError:
            self.proc.kill()
            return {"error": "py-spy did not stop"}
        if not self.out.exists():
            return {"error": f"py-spy wrote nothing ({self.proc.returncode}): {text[-500:]}"}
        result = summarise(self.out.read_text())
        result["raw_file"] = str(self.out)
        return result
