"""Managing endpoints and deliveries: the plain functions behind the admin API and the CLI.

* :func:`create_endpoint`: checks the filters against the agency's catalogue, the URL against the SSRF
  policy, then verifies the endpoint (a signed challenge it must answer within
  ``HUB_DELIVERY_VERIFY_TIMEOUT_SECONDS``), and only then stores it with its ``whsec_`` secret (given,
  or generated).
* :func:`update_endpoint` (a new URL is verified again), :func:`pause`, :func:`resume` (also re-enables
  a disabled endpoint), :func:`rotate_secret` (the previous secret keeps signing for 24 h),
  :func:`remove` (with its deliveries and their payloads).
* :func:`resend` one delivery, :func:`recover` the exhausted and skipped deliveries of a time window
  (``dry_run`` counts them).

Refusals raise ``hub.core.errors.ValidationError`` naming the field (the API answers 422), an unknown id
raises :class:`NotFound`.
"""

from __future__ import annotations

import secrets
import time
from typing import Literal

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

from hub.core import catalogue
from hub.core.errors import ValidationError
from hub.delivery import sender, signing, urlpolicy
from hub.delivery.filters import DIMENSIONS, Filters, check
from hub.delivery.model import RECOVERABLE, Delivery, Endpoint, EndpointStatus, Mode
from hub.delivery.store import SubscriptionStore
from hub.errors import TargetRefused
from hub.settings import Settings

RECOVER_PAGE = 500


class NotFound(LookupError):
    """No endpoint or delivery with that id (or not one the caller may see)."""


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_types: list[str] = Field(default_factory=lambda: ["*"], max_length=200)
    service_codes: list[str] = Field(default_factory=lambda: ["*"], max_length=200)
    statuses: list[str] = Field(default_factory=lambda: ["*"], max_length=200)
    regions: list[str] = Field(default_factory=lambda: ["*"], max_length=200,
                               description="village (35.10.21.2003), kecamatan (35.10.21) or regency (35.10)")

    def filters(self) -> Filters:
        return Filters.from_dict({name: getattr(self, name) for name in DIMENSIONS})


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    agency: str = Field(min_length=1, max_length=40, description="catalogue code of the agency")
    url: str = Field(min_length=8, max_length=urlpolicy.MAX_URL)
    filters: FiltersIn = Field(default_factory=FiltersIn)
    mode: Literal["standard", "fifo"] = "standard"
    rate_limit: float | None = Field(default=None, gt=0, le=10_000, description="requests per second at most")
    description: str = Field(default="", max_length=500)
    secret: str | None = Field(default=None, max_length=200,
                               description="whsec_... to use (generated if absent)")


class EndpointPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str | None = Field(default=None, min_length=8, max_length=urlpolicy.MAX_URL)
    filters: FiltersIn | None = None
    mode: Literal["standard", "fifo"] | None = None
    rate_limit: float | None = Field(default=None, gt=0, le=10_000)
    description: str | None = Field(default=None, max_length=500)


def _agency(code: str) -> str:
    if code not in catalogue.agencies():
        raise ValidationError("agency", f"{code[:40]!r} is not an agency of the catalogue")
    return code


def _url(url: str, settings: Settings) -> str:
    try:
        return urlpolicy.check_url(url, sender.policy(settings))
    except TargetRefused as exc:
        raise ValidationError("url", str(exc).removeprefix("url: ")) from None


async def _verify(settings: Settings, url: str, secret: str, endpoint_id: str,
                  http: aiohttp.ClientSession | None) -> None:
    own = http is None
    client = http or sender.client(settings, connections=4)
    try:
        answer = await sender.verify(client, url, secret, endpoint_id,
                                     settings.delivery_verify_timeout_seconds, sender.policy(settings))
    finally:
        if own:
            await client.close()
    if not answer.ok:
        raise ValidationError("url", f"endpoint verification failed: {answer.reason}")


async def create_endpoint(store: SubscriptionStore, settings: Settings, spec: EndpointIn, *,
                          http: aiohttp.ClientSession | None = None, verify: bool = True) -> Endpoint:
    agency = _agency(spec.agency)
    filters = check(spec.filters.filters(), agency)
    url = _url(spec.url, settings)
    secret = signing.check_secret(spec.secret) if spec.secret else signing.generate_secret()
    endpoint_id = "ep_" + secrets.token_hex(8)
    if verify:
        await _verify(settings, url, secret, endpoint_id, http)
    now = time.time()
    endpoint = Endpoint(id=endpoint_id, agency=agency, url=url, secret=secret, filters=filters,
                        mode=Mode(spec.mode), rate_limit=spec.rate_limit, description=spec.description,
                        created_at=now, updated_at=now)
    await store.add_endpoint(endpoint)
    return endpoint


async def get_endpoint(store: SubscriptionStore, endpoint_id: str, agency: str | None = None) -> Endpoint:
    """The endpoint; ``agency``: the caller may only see that agency's endpoints."""
    found = await store.get_endpoint(endpoint_id)
    if found is None or (agency is not None and found.agency != agency):
        raise NotFound(f"no endpoint {endpoint_id[:40]}")
    return found


async def update_endpoint(store: SubscriptionStore, settings: Settings, endpoint_id: str,
                          patch: EndpointPatch, *, agency: str | None = None,
                          http: aiohttp.ClientSession | None = None, verify: bool = True) -> Endpoint:
    current = await get_endpoint(store, endpoint_id, agency)
    changes: dict[str, object] = {}
    if patch.url is not None and patch.url != current.url:
        changes["url"] = _url(patch.url, settings)
        if verify:
            await _verify(settings, patch.url, current.secret, endpoint_id, http)
    if patch.filters is not None:
        changes["filters"] = check(patch.filters.filters(), current.agency)
    if patch.mode is not None:
        changes["mode"] = Mode(patch.mode)
    if "rate_limit" in patch.model_fields_set:
        changes["rate_limit"] = patch.rate_limit
    if patch.description is not None:
        changes["description"] = patch.description
    return await _set(store, endpoint_id, **changes)


async def _set(store: SubscriptionStore, endpoint_id: str, **changes: object) -> Endpoint:
    updated = await store.update_endpoint(endpoint_id, time.time(), **changes)
    if updated is None:
        raise NotFound(f"no endpoint {endpoint_id[:40]}")
    return updated


async def pause(store: SubscriptionStore, endpoint_id: str, agency: str | None = None) -> Endpoint:
    await get_endpoint(store, endpoint_id, agency)
    return await _set(store, endpoint_id, status=EndpointStatus.PAUSED)


async def resume(store: SubscriptionStore, endpoint_id: str, agency: str | None = None) -> Endpoint:
    """Active again (from paused or disabled); what waited goes out, the failing clock starts afresh."""
    await get_endpoint(store, endpoint_id, agency)
    return await _set(store, endpoint_id, status=EndpointStatus.ACTIVE, disabled_reason=None,
                      failing_since=None)


async def rotate_secret(store: SubscriptionStore, settings: Settings, endpoint_id: str,
                        agency: str | None = None, secret: str | None = None) -> Endpoint:
    current = await get_endpoint(store, endpoint_id, agency)
    now = time.time()
    new = signing.check_secret(secret) if secret else signing.generate_secret()
    return await _set(store, endpoint_id, secret=new, previous_secret=current.secret,
                      previous_until=signing.rotation_end(now, settings.delivery_time_compression))


async def remove(store: SubscriptionStore, endpoint_id: str, agency: str | None = None) -> None:
    await get_endpoint(store, endpoint_id, agency)
    await store.remove_endpoint(endpoint_id)


async def get_delivery(store: SubscriptionStore, delivery_id: str, agency: str | None = None) -> Delivery:
    found = await store.get_delivery(delivery_id)
    if found is None or (agency is not None and found.agency != agency):
        raise NotFound(f"no delivery {delivery_id[:40]}")
    return found


async def resend(store: SubscriptionStore, delivery_id: str, agency: str | None = None) -> Delivery:
    """Due now, in a new round of the schedule (a delivery still under way is left as it is)."""
    await get_delivery(store, delivery_id, agency)
    await store.resend([delivery_id], time.time())
    return await get_delivery(store, delivery_id, agency)


async def recover(store: SubscriptionStore, *, since: float, until: float | None = None,
                  endpoint_id: str | None = None, agency: str | None = None, dry_run: bool = False) -> int:
    """Send again every exhausted or skipped delivery created in [since, until); returns how many."""
    if until is not None and until <= since:
        raise ValidationError("until", "must be after since")
    if endpoint_id is not None:
        await get_endpoint(store, endpoint_id, agency)
    ids: list[str] = []
    cursor = None
    while True:
        page = await store.list_deliveries(endpoint_id=endpoint_id, agency=agency, states=RECOVERABLE,
                                           since=since, until=until, limit=RECOVER_PAGE, cursor=cursor)
        ids += [d.id for d in page.deliveries]
        cursor = page.next_cursor
        if cursor is None:
            break
    if dry_run or not ids:
        return len(ids)
    return await store.resend(ids, time.time())


def with_secret(endpoint: Endpoint) -> dict[str, object]:
    """The endpoint as the API shows its owner once: with its secret."""
    shown = endpoint.public()
    shown["secret"] = endpoint.secret
    return shown

