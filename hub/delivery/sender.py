"""The HTTP side of push delivery: one httpx client, connections the SSRF policy checked, a POST per attempt.

Every connection is opened by :class:`GuardedBackend`: it resolves the host itself, refuses unless every
address is allowed (``hub.delivery.urlpolicy``), and connects to the address it checked, so a host that
resolves differently between the check and the connection (DNS rebinding) gets nowhere. TLS still
verifies the certificate against the URL's host name: httpcore passes ``server_hostname`` from the
request's origin to ``start_tls`` (``httpcore/_async/connection.py``, ``AsyncHTTPConnection._connect``),
whatever address ``connect_tcp`` was given.

httpx builds its httpcore pool inside ``AsyncHTTPTransport.__init__`` with no way to pass a network
backend; :func:`client` replaces that pool (``transport._pool``, httpx 0.28/0.29
``httpx/_transports/default.py``) by an identical one with the guarded backend, keeping httpx's SSL
context. Proxies from the environment are ignored (``trust_env=False``) and redirects are not followed.

Timeouts: ``HUB_DELIVERY_TIMEOUT_SECONDS`` for the whole request (15 s), connect
``HUB_DELIVERY_CONNECT_TIMEOUT_SECONDS`` (5 s).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx
from httpcore._backends.auto import AutoBackend
from httpcore._backends.base import SOCKET_OPTION, AsyncNetworkBackend, AsyncNetworkStream

from hub import __version__
from hub.delivery import signing, urlpolicy
from hub.delivery.outcome import Answer
from hub.delivery.payload import CONTENT_TYPE
from hub.errors import TargetRefused
from hub.settings import Settings

EXCERPT_BYTES = 1024
USER_AGENT = f"banyuwangi-hub-dispatcher/{__version__} (+Standard Webhooks)"
KEEPALIVE_SECONDS = 30.0


def policy(settings: Settings) -> urlpolicy.Policy:
    return urlpolicy.Policy(allow_http=settings.delivery_allow_http,
                            allow_private=settings.delivery_allow_private_networks)


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    literal = urlpolicy.address(host)
    if literal is not None:
        return [str(literal)]
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def check_target(url: str, rules: urlpolicy.Policy) -> None:
    """The URL's form and every address of its host; raises TargetRefused."""
    urlpolicy.check_url(url, rules)
    parts = httpx.URL(url)
    try:
        addresses = await resolve(parts.host, parts.port or (443 if parts.scheme == "https" else 80))
    except OSError as exc:
        raise TargetRefused(f"url: host {parts.host[:100]!r} does not resolve "
                            f"({exc.strerror or exc})") from None
    urlpolicy.check_addresses(addresses, rules)


class GuardedBackend(AsyncNetworkBackend):
    """httpcore's network backend with the SSRF check between resolving and connecting."""

    def __init__(self, rules: urlpolicy.Policy):
        self.rules = rules
        self._inner = AutoBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[SOCKET_OPTION] | None = None) -> AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(resolve(host, port), timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        urlpolicy.check_addresses(addresses, self.rules)  # TargetRefused passes through httpx unchanged
        return await self._inner.connect_tcp(addresses[0], port, timeout=timeout, local_address=local_address,
                                             socket_options=socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[SOCKET_OPTION] | None = None,
                                  ) -> AsyncNetworkStream:
        raise TargetRefused("unix sockets are not delivery targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def client(settings: Settings, *, connections: int = 1000) -> httpx.AsyncClient:
    """The dispatcher's HTTP client (one per process; close it with ``aclose``)."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections,
                          keepalive_expiry=KEEPALIVE_SECONDS)
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    old: Any = transport._pool
    context: ssl.SSLContext | None = getattr(old, "_ssl_context", None)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=context, max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
        http1=True, http2=False, network_backend=GuardedBackend(policy(settings)))
    timeout = httpx.Timeout(settings.delivery_timeout_seconds,
                            connect=settings.delivery_connect_timeout_seconds)
    return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False,
                             headers={"user-agent": USER_AGENT})


def error_class(exc: BaseException) -> str:
    """An exception as one of ``hub.delivery.outcome.ERROR_CLASSES``."""
    if isinstance(exc, TargetRefused):
        return "blocked"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        cause = exc.__cause__ or exc.__context__
        return "tls" if isinstance(cause, ssl.SSLError) or "SSL" in str(exc) else "connect"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.LocalProtocolError, httpx.ReadError,
                        httpx.WriteError)):
        return "protocol"
    return "error"


def _excerpt(data: bytes) -> str | None:
    return data[:EXCERPT_BYTES].decode("utf-8", "replace") if data else None


async def _read_excerpt(response: httpx.Response) -> bytes:
    """At most the first 1 KB of the body; the rest is not read (the connection is then not reused)."""
    chunks = bytearray()
    async for chunk in response.aiter_bytes():
        chunks += chunk
        if len(chunks) >= EXCERPT_BYTES:
            break
    return bytes(chunks)


class Sender:
    """Sends one signed POST and reports what happened as an :class:`~hub.delivery.outcome.Answer`."""

    def __init__(self, http: httpx.AsyncClient):
        self.http = http

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        started = time.monotonic()
        try:
            async with self.http.stream("POST", url, content=body,
                                        headers={**headers, "content-type": CONTENT_TYPE}) as response:
                data = await _read_excerpt(response)
                return Answer(response.status_code, time.monotonic() - started, None, _excerpt(data),
                              response.headers.get("retry-after"))
        except (httpx.HTTPError, TargetRefused, OSError) as exc:
            return Answer(None, time.monotonic() - started, error_class(exc),
                          f"{type(exc).__name__}: {exc}"[:300])

    async def deliver(self, url: str, signing_secrets: list[str], msg_id: str, body: bytes) -> Answer:
        return await self.post(url, body, signing.headers(signing_secrets, msg_id, time.time(), body))


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    reason: str


async def verify(http: httpx.AsyncClient, url: str, secret: str, endpoint_id: str, timeout: float,
                 rules: urlpolicy.Policy) -> Verification:
    """Send the signed challenge to a new endpoint; it must answer 2xx within ``timeout`` seconds with the
    ``webhook-challenge-response`` header (HMAC of the challenge, proving it holds the secret) or the
    challenge itself in its body (proving it controls the URL)."""
    try:
        await check_target(url, rules)
    except TargetRefused as exc:
        return Verification(False, str(exc))
    challenge = secrets.token_urlsafe(24)
    body = httpx.Request("POST", url, json={"type": "hub.endpoint.verification", "endpoint_id": endpoint_id,
                                            "challenge": challenge}).content
    headers = {**signing.headers([secret], f"verify_{secrets.token_hex(8)}", time.time(), body),
               "webhook-challenge": challenge, "content-type": "application/json"}
    try:
        response = await asyncio.wait_for(http.post(url, content=body, headers=headers), timeout)
    except asyncio.TimeoutError:
        return Verification(False, f"no answer to the verification challenge within {timeout:g} s")
    except (httpx.HTTPError, TargetRefused, OSError) as exc:
        return Verification(False, f"verification challenge failed: {error_class(exc)} "
                                   f"({type(exc).__name__}: {str(exc)[:120]})")
    if not 200 <= response.status_code < 300:
        return Verification(False, f"the endpoint answered the verification challenge with HTTP "
                                   f"{response.status_code}")
    if signing.challenge_answered(secret, challenge, response.headers.get("webhook-challenge-response")):
        return Verification(True, "challenge answered with the signed response")
    if challenge in response.text[:4096]:
        return Verification(True, "challenge echoed")
    return Verification(False, "the answer neither carries webhook-challenge-response nor echoes the "
                               "challenge")
