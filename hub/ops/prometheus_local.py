"""A real Prometheus (and promtool) for tests and local use, obtained without root.

``/usr/bin/prometheus`` when installed; otherwise the Debian package is fetched with ``apt-get download``
(no root needed) into ``$HUB_STACK_HOME/prometheus`` (default ``~/.cache/hub-stack/prometheus``) and
unpacked there with ``dpkg -x``. ``LocalPrometheus`` runs it on loopback on a free port with its own
config and a temporary TSDB, and answers PromQL queries over the HTTP API.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from hub.dev.stack import StackError, free_port, stack_home

PACKAGE = "prometheus"  # Debian bookworm: prometheus 2.42, promtool in the same package


class PrometheusUnavailable(StackError):
    """Prometheus could not be found or fetched; the message says why and what to do."""


@dataclass(frozen=True)
class Binaries:
    prometheus: Path
    promtool: Path


def _usable(prometheus: Path, promtool: Path) -> bool:
    return prometheus.is_file() and promtool.is_file() and os.access(prometheus, os.X_OK)


def binaries(home: Path | None = None) -> Binaries:
    """Prometheus and promtool: installed ones first, else the cached (fetched on first use) package."""
    system = Binaries(Path("/usr/bin/prometheus"), Path("/usr/bin/promtool"))
    if _usable(system.prometheus, system.promtool):
        return system
    home = home or stack_home() / "prometheus"
    cached = Binaries(home / "root" / "usr" / "bin" / "prometheus",
                      home / "root" / "usr" / "bin" / "promtool")
    if _usable(cached.prometheus, cached.promtool):
        return cached
    for tool in ("apt-get", "dpkg"):
        if not shutil.which(tool):
            raise PrometheusUnavailable(
                f"Prometheus is not installed and `{tool}` is missing to fetch the Debian package "
                f"'{PACKAGE}' without root. Install Prometheus (apt-get install prometheus) or put "
                f"prometheus and promtool under {cached.prometheus.parent}.")
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=home) as tmp:
        got = subprocess.run(["apt-get", "download", PACKAGE], cwd=tmp, capture_output=True, text=True,
                             timeout=600)
        debs = sorted(Path(tmp).glob(f"{PACKAGE}_*.deb"))
        if got.returncode != 0 or not debs:
            raise PrometheusUnavailable(
                f"`apt-get download {PACKAGE}` failed (exit {got.returncode}): {got.stderr.strip()[-1500:]}\n"
                f"Is the package index present (apt-cache policy {PACKAGE}; `apt-get update` as root)?")
        staging = Path(tmp) / "root"
        unpacked = subprocess.run(["dpkg", "-x", str(debs[-1]), str(staging)], capture_output=True, text=True,
                                  timeout=300)
        if unpacked.returncode != 0:
            raise PrometheusUnavailable(f"dpkg -x {debs[-1].name} failed: {unpacked.stderr.strip()}")
        if (home / "root").exists():
            shutil.rmtree(home / "root")
        staging.rename(home / "root")  # atomic: a half-unpacked package is never taken for a good one
    if not _usable(cached.prometheus, cached.promtool):
        raise PrometheusUnavailable(f"the {PACKAGE} package did not contain {cached.prometheus} and promtool")
    return cached


def promtool(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run promtool (``promtool("check", "rules", path)``); the caller judges the exit code."""
    return subprocess.run([str(binaries().promtool), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


class LocalPrometheus:
    """``with LocalPrometheus(tmp, targets={"hub-worker": ["127.0.0.1:9464"]}) as prom: prom.query(...)``"""

    def __init__(self, workdir: Path, targets: dict[str, list[str]], *, scrape_interval: str = "1s",
                 rule_files: list[Path] | None = None, port: int | None = None):
        self.workdir = Path(workdir)
        self.targets = targets
        self.scrape_interval = scrape_interval
        self.rule_files = rule_files or []
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "prometheus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> dict[str, Any]:
        return {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": self.scrape_interval},
            "rule_files": [str(p) for p in self.rule_files],
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": list(hosts)}]}
                               for job, hosts in self.targets.items()],
        }

    def start(self, timeout: float = 60.0) -> LocalPrometheus:
        bins = binaries()
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(bins.prometheus), f"--config.file={config}", f"--storage.tsdb.path={self.workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise PrometheusUnavailable(f"prometheus exited with {self.proc.returncode}: "
                                            f"{self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise PrometheusUnavailable(f"prometheus not ready after {timeout}s; see {self.log_path}")

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query; returns the ``data.result`` vector."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        response.raise_for_status()
        body = response.json()
        if body.get("status") != "success":
            raise RuntimeError(f"PromQL {promql!r} failed: {body}")
        return body["data"]["result"]

    def targets_health(self) -> dict[str, str]:
        body = httpx.get(f"{self.url}/api/v1/targets", timeout=10).json()
        return {t["scrapeUrl"]: t["health"] for t in body["data"]["activeTargets"]}

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def __enter__(self) -> LocalPrometheus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
