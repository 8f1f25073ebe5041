"""The fleet of lanes, one per endpoint, kept in step with the store (the API and the CLI change endpoints
from other processes), with the per-endpoint gauges and the retention purge.

Every ``HUB_DELIVERY_REFRESH_SECONDS``: new endpoints get a lane (and their metric series, created at 0 so
that ``increase`` sees a first exhausted delivery), removed ones lose it (and their series: only live
endpoints have any), changed ones are updated in place (a resumed endpoint wakes the scheduler). The
backlog and oldest-pending gauges come from the store; rows older than ``HUB_DELIVERY_RETENTION_DAYS`` are
purged once an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from hub import metrics
from hub.delivery.journal import OUTCOMES
from hub.delivery.lanes import Host, Lane
from hub.delivery.model import Endpoint, EndpointStatus
from hub.delivery.outcome import RESULTS
from hub.delivery.sender import Sender
from hub.delivery.store import SubscriptionStore
from hub.settings import Settings

log = logging.getLogger("hub.delivery")
PURGE_EVERY = 3600.0


class Fleet:
    def __init__(self, settings: Settings, store: SubscriptionStore, agencies: set[str], *,
                 last_notice: dict[str, float | None], wake: Callable[[float], None]):
        self.settings = settings
        self.store = store
        self.agencies = agencies
        self.last_notice = last_notice  # the journal's, preloaded here (no read inside its transactions)
        self.wake = wake
        self.lanes: dict[str, Lane] = {}
        self._purged = 0.0

    def of_topic(self, topic: str) -> list[Lane]:
        return [lane for lane in self.lanes.values() if lane.topic == topic]

    async def refresh(self, host: Host, sender: Sender) -> None:
        endpoints = {e.id: e for e in await self.store.list_endpoints() if e.agency in self.agencies}
        s = self.settings
        for endpoint_id in set(self.lanes) - set(endpoints):
            lane = self.lanes.pop(endpoint_id)
            await lane.close()
            series(lane.endpoint.agency, endpoint_id, keep=False)
        for endpoint in endpoints.values():
            found = self.lanes.get(endpoint.id)
            if found is None:
                self.lanes[endpoint.id] = Lane(endpoint, s.agency_topic(endpoint.agency), host, sender,
                                               max_in_flight=s.delivery_max_in_flight,
                                               queue_limit=s.delivery_queue_limit,
                                               compression=s.delivery_time_compression)
                series(endpoint.agency, endpoint.id, keep=True)
                if endpoint.agency not in self.last_notice:
                    self.last_notice[endpoint.agency] = await self.store.last_notice(endpoint.agency)
            else:
                woke = endpoint.status is EndpointStatus.ACTIVE and not found.sendable()
                found.update(_keep_failing(endpoint, found))
                if woke:
                    self.wake(time.time())
            metrics.DELIVERY_DISABLED.labels(endpoint.agency, endpoint.id).set(
                int(endpoint.status is EndpointStatus.DISABLED))
        await self.gauges()

    async def gauges(self) -> None:
        now = time.time()
        backlog = {b.endpoint_id: b for b in await self.store.backlog()}
        for lane in self.lanes.values():
            found = backlog.get(lane.id)
            labels = (lane.endpoint.agency, lane.id)
            metrics.DELIVERY_BACKLOG.labels(*labels).set(found.unresolved if found else 0)
            oldest = found.oldest_created_at if found else None
            metrics.DELIVERY_OLDEST.labels(*labels).set(max(0.0, now - oldest) if oldest else 0.0)
        if now - self._purged > PURGE_EVERY:
            self._purged = now
            purged = await self.store.purge(now - self.settings.delivery_retention_days * 86400)
            if any(purged.values()):
                log.info("purged %s", purged)

    async def run(self, stopping: asyncio.Event, host: Host, sender: Sender) -> None:
        while not stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.settings.delivery_refresh_seconds)
            if not stopping.is_set():
                await self.refresh(host, sender)

    async def close(self) -> None:
        for lane in self.lanes.values():
            await lane.close()


def _keep_failing(endpoint: Endpoint, lane: Lane) -> Endpoint:
    """The store's endpoint, with the lane's own view of since when it fails (the journal writes it)."""
    return replace(endpoint, failing_since=lane.failing_since)


def series(agency: str, endpoint_id: str, *, keep: bool) -> None:
    """Create an endpoint's series at 0 (so that ``increase`` sees its first exhausted delivery), or remove
    them with the endpoint (bounded labels: only live endpoints have series)."""
    plain = (metrics.DELIVERY_BACKLOG, metrics.DELIVERY_OLDEST, metrics.DELIVERY_BREAKER,
             metrics.DELIVERY_DISABLED, metrics.DELIVERY_REQUEST, metrics.DELIVERY_LATENCY)
    per_endpoint: list[tuple[Any, tuple[str, ...]]] = [
        *((m, ()) for m in plain), *((metrics.DELIVERY_OUTCOMES, (o,)) for o in OUTCOMES),
        *((metrics.DELIVERY_ATTEMPTS, (r,)) for r in RESULTS)]
    for metric, extra in per_endpoint:
        if keep:
            metric.labels(agency, endpoint_id, *extra)
        else:
            with contextlib.suppress(KeyError):
                metric.remove(agency, endpoint_id, *extra)
