"""The HTTP side of push delivery: one aiohttp client session, connections the SSRF policy checked, a POST per
attempt.

Why aiohttp and not httpx: measured on the 2-core machine of ``make bench`` against the same raw local
receiver, 16 requests in flight, httpx 0.29 (httpcore 1.0, anyio 4) costs 1.3-1.7 ms of CPU per request
(480-700 requests/s at most), aiohttp 3.14 about 85 µs (9,000-10,000 requests/s): the dispatcher's goal of
2,000 deliveries/s from one process is out of reach with httpx. aiohttp is already a dependency of the hub.

SSRF (``hub.delivery.urlpolicy``): the session's connector resolves host names through
:class:`GuardedResolver`, which refuses unless every address is allowed; aiohttp then connects to exactly
the addresses the resolver returned (``aiohttp/connector.py``, ``TCPConnector._create_direct_connection``),
so a host that resolves differently between a check and the connection (DNS rebinding) gets nowhere. An
IP literal in the URL skips resolvers in aiohttp (``TCPConnector._resolve_host``), so every URL is checked
(:func:`hub.delivery.urlpolicy.check_url`, which checks literals) before its request. TLS verifies the
certificate against the URL's host name. Proxies from the environment are ignored (``trust_env`` off), and
redirects are not followed (a 3xx is a failed attempt).

Timeouts: ``HUB_DELIVERY_TIMEOUT_SECONDS`` for the whole request (15 s),
``HUB_DELIVERY_CONNECT_TIMEOUT_SECONDS`` (5 s) to open the connection.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import ssl
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from hub import __version__
from hub.delivery import signing, urlpolicy
from hub.delivery.outcome import Answer
from hub.delivery.payload import CONTENT_TYPE
from hub.errors import TargetRefused
from hub.settings import Settings

EXCERPT_BYTES = 1024
USER_AGENT = f"banyuwangi-hub-dispatcher/{__version__} (+Standard Webhooks)"
KEEPALIVE_SECONDS = 30.0
DNS_CACHE_SECONDS = 10


def policy(settings: Settings) -> urlpolicy.Policy:
    return urlpolicy.Policy(allow_http=settings.delivery_allow_http,
                            allow_private=settings.delivery_allow_private_networks)


@lru_cache(maxsize=4096)
def checked(url: str, rules: urlpolicy.Policy) -> str:
    """``urlpolicy.check_url`` once per URL and policy (a URL's form does not change)."""
    return urlpolicy.check_url(url, rules)


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver with the SSRF check: every address of the host, or none."""

    def __init__(self, rules: urlpolicy.Policy):
        self.rules = rules
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        urlpolicy.check_addresses([r["host"] for r in found], self.rules)  # raises TargetRefused
        return found

    async def close(self) -> None:
        await self._inner.close()


def client(settings: Settings, *, connections: int = 1000) -> aiohttp.ClientSession:
    """The dispatcher's HTTP session (one per process; ``await session.close()``). Must be created inside
    the event loop that uses it."""
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=0,
                                     keepalive_timeout=KEEPALIVE_SECONDS, ttl_dns_cache=DNS_CACHE_SECONDS,
                                     resolver=GuardedResolver(policy(settings)))
    timeout = aiohttp.ClientTimeout(total=settings.delivery_timeout_seconds,
                                    sock_connect=settings.delivery_connect_timeout_seconds)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False,
                                 headers={"user-agent": USER_AGENT}, auto_decompress=False)


def error_class(exc: BaseException) -> str:
    """An exception as one of ``hub.delivery.outcome.ERROR_CLASSES``."""
    if isinstance(exc, TargetRefused):
        return "blocked"
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return "timeout"
    if isinstance(exc, (aiohttp.ClientSSLError, ssl.SSLError)):
        return "tls"
    if isinstance(exc, (aiohttp.ClientConnectorError, ConnectionError)):
        return "connect"
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError,
                        aiohttp.ClientResponseError)):
        return "protocol"
    return "error"


class Sender:
    """Sends one signed POST and reports what happened as an :class:`~hub.delivery.outcome.Answer`."""

    def __init__(self, http: aiohttp.ClientSession, rules: urlpolicy.Policy):
        self.http = http
        self.rules = rules

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        started = time.monotonic()
        try:
            checked(url, self.rules)
            async with self.http.post(url, data=body, allow_redirects=False,
                                      headers={**headers, "content-type": CONTENT_TYPE}) as response:
                excerpt = await response.content.read(EXCERPT_BYTES)
                return Answer(response.status, time.monotonic() - started, None,
                              excerpt.decode("utf-8", "replace") if excerpt else None,
                              response.headers.get("retry-after"))
        except (aiohttp.ClientError, TargetRefused, OSError, asyncio.TimeoutError) as exc:
            return Answer(None, time.monotonic() - started, error_class(exc),
                          f"{type(exc).__name__}: {exc}"[:300])

    async def deliver(self, url: str, signing_secrets: list[str], msg_id: str, body: bytes) -> Answer:
        return await self.post(url, body, signing.headers(signing_secrets, msg_id, time.time(), body))


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    reason: str


async def _challenge(http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str],
                     ) -> tuple[int, str | None, str]:
    async with http.post(url, data=body, headers=headers, allow_redirects=False) as response:
        text = (await response.content.read(4096)).decode("utf-8", "replace")
        return response.status, response.headers.get("webhook-challenge-response"), text


async def verify(http: aiohttp.ClientSession, url: str, secret: str, endpoint_id: str, timeout: float,
                 rules: urlpolicy.Policy) -> Verification:
    """Send the signed challenge to a new endpoint; it must answer 2xx within ``timeout`` seconds with the
    ``webhook-challenge-response`` header (HMAC of the challenge, proving it holds the secret) or the
    challenge itself in its body (proving it controls the URL)."""
    try:
        checked(url, rules)
    except TargetRefused as exc:
        return Verification(False, str(exc))
    challenge = secrets.token_urlsafe(24)
    body = json.dumps({"type": "hub.endpoint.verification", "endpoint_id": endpoint_id,
                       "challenge": challenge}).encode()
    signed = signing.headers([secret], f"verify_{secrets.token_hex(8)}", time.time(), body)
    headers: dict[str, Any] = {**signed, "webhook-challenge": challenge, "content-type": "application/json"}
    try:
        status, answer, text = await asyncio.wait_for(_challenge(http, url, body, headers), timeout)
    except asyncio.TimeoutError:
        return Verification(False, f"no answer to the verification challenge within {timeout:g} s")
    except (aiohttp.ClientError, TargetRefused, OSError) as exc:
        return Verification(False, f"verification challenge failed: {error_class(exc)} "
                                   f"({type(exc).__name__}: {str(exc)[:120]})")
    if not 200 <= status < 300:
        return Verification(False, f"the endpoint answered the verification challenge with HTTP {status}")
    if signing.challenge_answered(secret, challenge, answer):
        return Verification(True, "challenge answered with the signed response")
    if challenge in text:
        return Verification(True, "challenge echoed")
    return Verification(False, "the answer neither carries webhook-challenge-response nor echoes the "
                               "challenge")
