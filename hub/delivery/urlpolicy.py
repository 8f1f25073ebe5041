"""Where the dispatcher may send (SSRF policy; pure: resolving the host is the caller's job).

An endpoint URL must be ``https://`` with a host name or a public address, no user name or password in
it, no fragment, at most 2,000 characters. Every address its host resolves to must be public: not
loopback, private (RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10: cloud metadata services),
shared (100.64/10), multicast, reserved, unspecified, or an IPv4-mapped/6to4/Teredo form of one of them.
The check runs when an endpoint is created *and* on every connection (``hub.delivery.sender``
resolves, checks and connects to the address it checked), so DNS rebinding does not get around it.

Two settings relax it for tests, demos and an agency on the same LAN:
``HUB_DELIVERY_ALLOW_HTTP`` (``http://``) and ``HUB_DELIVERY_ALLOW_PRIVATE_NETWORKS`` (any address).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from hub.errors import TargetRefused

MAX_URL = 2000

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Policy:
    allow_http: bool = False
    allow_private: bool = False


def check_url(url: str, policy: Policy) -> str:
    """``url`` if its form is allowed; raises TargetRefused saying why (no resolving here)."""
    if len(url) > MAX_URL:
        raise TargetRefused(f"url: longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"url: not a URL ({exc})") from None
    schemes = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in schemes:
        raise TargetRefused(f"url: scheme must be {' or '.join(schemes)}, not {parts.scheme[:20]!r}")
    if not parts.hostname:
        raise TargetRefused("url: no host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("url: credentials in the URL are not allowed (the signature authenticates)")
    if parts.fragment:
        raise TargetRefused("url: no fragment allowed")
    if port == 0:
        raise TargetRefused("url: port 0")
    literal = address(parts.hostname)
    if literal is not None:
        check_addresses([literal], policy)
    return url


def address(host: str) -> IPAddress | None:
    """``host`` as an IP address, if it is one."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _embedded(ip: IPAddress) -> IPAddress | None:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
    return None


def is_public(ip: IPAddress) -> bool:
    inner = _embedded(ip)
    if inner is not None and not is_public(inner):
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_loopback
                                 or ip.is_link_local or ip.is_private)


def check_addresses(addresses: Iterable[IPAddress | str], policy: Policy) -> None:
    """Raises TargetRefused unless every address is allowed (and there is at least one)."""
    found = [a if not isinstance(a, str) else ipaddress.ip_address(a.split("%")[0]) for a in addresses]
    if not found:
        raise TargetRefused("url: the host resolves to no address")
    if policy.allow_private:
        return
    for ip in found:
        if not is_public(ip):
            raise TargetRefused(f"url: resolves to {ip}, which is not a public address (loopback, private, "
                                f"link-local or reserved ranges are refused)")


def redact(url: str) -> str:
    """The URL without query and fragment (they may hold tokens): for audit entries and logs."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
