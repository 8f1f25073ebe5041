"""Run a hub worker (or another long-running ``hub`` command, e.g. ``deliver``) as its own process (the
demo, the tests and the benchmarks use this)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


class WorkerProcess:
    """``python -m hub worker`` (or ``python -m hub <command...>``, e.g. ``mall serve``) with the given
    environment, logging to ``log_path``."""

    def __init__(self, env: dict[str, str], log_path: Path, *, name: str = "worker",
                 command: tuple[str, ...] = ("worker",)):
        self.env = {**os.environ, **env}
        self.log_path = Path(log_path)
        self.name = name
        self.command = command
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "hub", *self.command], env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        return self

    def wait_ready(self, timeout: float = 90.0, marker: str = "readiness: ready") -> None:
        """Wait until the worker owns recovered partitions (hub.ops.runtime.mark_ready logs the marker)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            if self.log_path.exists() and marker in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout}s; see {self.log_path}")

    def stop(self, timeout: float = 30.0, sig: int = signal.SIGTERM) -> int | None:
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        os.killpg(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(10)

    def kill(self) -> None:
        self.stop(sig=signal.SIGKILL)

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
