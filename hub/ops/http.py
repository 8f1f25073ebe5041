"""One small HTTP server per process, in a daemon thread: ``/metrics``, ``/healthz`` and ``/readyz``.

- ``/metrics``: the Prometheus text format of ``prometheus_client.REGISTRY`` (``prometheus_client``'s own
  WSGI app, so content negotiation and gzip behave as Prometheus expects).
- ``/healthz`` (liveness): 200 while the process runs and its checks pass; a failed check answers 503
  so that an orchestrator restarts the process.
- ``/readyz`` (readiness): 200 once the process is ready for work (a worker: partitions assigned),
  503 before, so that a load balancer or a rollout waits for it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app

Check = Callable[[], "str | None"]  # None = fine, else the problem in a few words
ALLOWED_METHODS = ("GET", "HEAD")  # anything else: 405 (docs/openapi-ops.json, held to it by schemathesis)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - scrapes are not news
        pass


class OpsApp:
    """The WSGI application: state for readiness and liveness, dispatch by path."""

    def __init__(self, role: str, registry: CollectorRegistry = REGISTRY):
        self.role = role
        self.ready = threading.Event()
        self.reason = "starting"
        self.liveness_checks: dict[str, Check] = {}
        self._metrics = make_wsgi_app(registry)

    def set_ready(self, ready: bool, reason: str = "") -> None:
        self.reason = reason or ("ready" if ready else "not ready")
        (self.ready.set if ready else self.ready.clear)()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/").rstrip("/") or "/"
        if environ.get("REQUEST_METHOD", "GET") not in ALLOWED_METHODS:  # probes and scrapes only read
            return _json(start_response, 405, {"error": "method not allowed"},
                         [("Allow", ", ".join(ALLOWED_METHODS))])
        if path == "/metrics":
            return self._metrics(environ, start_response)
        if path == "/healthz":
            problems = {}
            for name, check in self.liveness_checks.items():
                try:
                    problem = check()
                except Exception as exc:  # a broken check is a failed check
                    problem = f"check raised {type(exc).__name__}"
                if problem:
                    problems[name] = problem
            body = {"status": "fail" if problems else "ok", "role": self.role, "problems": problems}
            return _json(start_response, 503 if problems else 200, body)
        if path == "/readyz":
            ready = self.ready.is_set()
            return _json(start_response, 200 if ready else 503,
                         {"status": "ready" if ready else "not ready", "role": self.role,
                          "reason": self.reason})
        if path == "/":
            return _json(start_response, 200,
                         {"role": self.role, "endpoints": ["/metrics", "/healthz", "/readyz"]})
        return _json(start_response, 404, {"error": "not found"})


def _json(start_response: Callable[..., Any], status: int, body: dict[str, Any],
          extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    data = json.dumps(body).encode()
    reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}[status]
    start_response(f"{status} {reason}", [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(data))), ("Cache-Control", "no-store"),
                                          *(extra or [])])
    return [data]


class OpsServer:
    """``OpsServer(app, port).start()`` serves ``app`` on ``addr:port`` from a daemon thread."""

    def __init__(self, app: OpsApp, port: int, addr: str = "0.0.0.0"):
        self.app = app
        self.httpd = make_server(addr, port, app, server_class=_Server, handler_class=_QuietHandler)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="hub-ops-http", daemon=True)

    def start(self) -> OpsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
