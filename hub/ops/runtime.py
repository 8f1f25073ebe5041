"""Start-up of the operational services every hub process runs, and its readiness switch.

``start_process_services(settings, role)`` once at start-up:
- JSON logs on stderr (``hub.ops.logs``),
- one HTTP server on ``settings.metrics_port`` with ``/metrics``, ``/healthz`` and ``/readyz``
  (port 0 = no server: logs and lag poller only),
- for role ``"worker"``: the consumer-lag poller of group ``settings.app_id`` on the intake topics.

``mark_ready(True)`` when the process can do its work (a worker: partitions assigned), ``mark_ready(False)``
when it cannot (revoked, shutting down). A worker and a dispatcher start not ready; other roles start ready.

Calling ``start_process_services`` again in the same process changes nothing (the first call wins).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from hub import metrics
from hub.ops import logs
from hub.ops.http import Check, OpsApp, OpsServer
from hub.ops.lag import LagPoller
from hub.settings import Settings
from hub.wire.clients import kafka_options
from hub.wire.topics import intake_topics

log = logging.getLogger("hub.ops")

ROLES = ("worker", "connector", "cli", "mall", "dispatcher")
WAIT_FOR_PARTITIONS = ("worker", "dispatcher")  # start not ready: ready once partitions are assigned
LAG_INTERVAL = 10.0


@dataclass
class Services:
    role: str
    app: OpsApp
    server: OpsServer | None
    poller: LagPoller | None

    @property
    def port(self) -> int:
        return self.server.port if self.server else 0

    def stop(self) -> None:
        if self.poller:
            self.poller.stop()
        if self.server:
            self.server.stop()


_lock = threading.Lock()
_services: Services | None = None


def start_process_services(settings: Settings, role: str, *, log_level: str | int = "info",
                           json_logs: bool = True, lag_interval: float = LAG_INTERVAL) -> None:
    """Start JSON logging, /metrics + /healthz + /readyz on ``settings.metrics_port`` and, for a worker,
    the consumer-lag poller. Idempotent."""
    start_services(settings, role, log_level=log_level, json_logs=json_logs, lag_interval=lag_interval)


def start_services(settings: Settings, role: str, *, log_level: str | int = "info", json_logs: bool = True,
                   lag_interval: float = LAG_INTERVAL) -> Services:
    """``start_process_services`` that returns what it started (tests use the handle to stop it)."""
    global _services
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    with _lock:
        if _services is not None:
            return _services
        if json_logs:
            logs.configure(role, log_level)
        from hub import __version__

        metrics.BUILD.info({"version": __version__, "role": role})
        app = OpsApp(role)
        waits = role in WAIT_FOR_PARTITIONS
        app.set_ready(not waits, "waiting for partitions" if waits else "started")
        metrics.READY.labels(role).set(0 if waits else 1)
        server = OpsServer(app, settings.metrics_port).start() if settings.metrics_port else None
        poller = None
        if role == "worker":
            poller = LagPoller(kafka_options(settings), settings.app_id, intake_topics(settings),
                               interval=lag_interval,
                               request_timeout_ms=settings.admin_request_timeout_ms).start()
        _services = Services(role, app, server, poller)
        log.info("ops services up: role=%s metrics/healthz/readyz port=%s lag poller=%s", role,
                 _services.port or "off", "on" if poller else "off")
        return _services


def mark_ready(ready: bool, reason: str = "") -> None:
    """Flip ``/readyz`` (and ``hub_ready``). Safe to call before ``start_process_services`` (no-op)."""
    services = _services
    if services is None:
        return
    services.app.set_ready(ready, reason)
    metrics.READY.labels(services.role).set(1 if ready else 0)
    log.info("readiness: %s%s", "ready" if ready else "not ready", f" ({reason})" if reason else "")


def add_liveness_check(name: str, check: Check) -> None:
    """Register ``check() -> None | problem`` for ``/healthz`` (e.g. an event-loop heartbeat)."""
    if _services is not None:
        _services.app.liveness_checks[name] = check


def current() -> Services | None:
    return _services


def stop_process_services() -> None:
    """Stop the server and the poller (tests; a process simply exits)."""
    global _services
    with _lock:
        if _services is not None:
            _services.stop()
            _services = None
