"""Every village desk and agency at once, each on its own intake topic as its own principal (dev tooling).

The simulator, the demo and the benchmarks play all the hub's sources from one process. In production each
source is its own process with its own credentials; here :class:`SourcePublishers` keeps one
:class:`hub.connectors.publisher.Publisher` per intake topic and, given a credential store (the local
stack's), gives each the principal that owns the topic (``desk-<node>``, ``agency-<code>``), so the broker's
ACLs see what they would see in production. Without a store every publisher uses the process's own
credentials (which then must be allowed to write every intake topic: the hub admin).

An item's topic follows from its CloudEvents source: ``/smart-kampung/<region>`` is the desk node serving
that village (``Settings.desk_node_for``), ``/agency/<code>/...`` that agency's intake topic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from hub.access.catalogue import agency_principal, desk_principal
from hub.access.credentials import CredentialStore
from hub.connectors.publisher import Item, Publisher, all_acknowledged
from hub.core.models import RequestLifecycleEvent
from hub.settings import Settings
from hub.streams.identity import DESK_SYSTEM


def source_of(event: RequestLifecycleEvent) -> str:
    """The CloudEvents source a record of ``event`` has when its own system sends it."""
    if event.source_system == DESK_SYSTEM:
        return f"/{DESK_SYSTEM}/{event.region_code}"
    return f"/agency/{event.agency}/{event.source_system}"


def route(settings: Settings, event: RequestLifecycleEvent, source: str | None) -> tuple[str, str, str]:
    """(intake topic, principal, CloudEvents source) of a source's event (see the module doc); ``source``
    None: the event's own system's (:func:`source_of`)."""
    source = source or source_of(event)
    parts = source.strip("/").split("/")
    if parts[0] == "agency" and len(parts) > 1:
        return settings.agency_intake_topic(parts[1]), agency_principal(parts[1]), source
    node = settings.desk_node_for(event.region_code)
    return settings.desk_intake_topic(node), desk_principal(node), source


class SourcePublishers:
    """``async with SourcePublishers(settings, store) as p: await p.send_batch(items)``
    (``Publisher``-like)."""

    def __init__(self, settings: Settings, credentials: CredentialStore | None = None, *,
                 connector: str = "simulator"):
        self.settings = settings
        self.credentials = credentials
        self.connector = connector
        self._publishers: dict[str, Publisher] = {}

    async def _publisher(self, topic: str, principal: str) -> Publisher:
        publisher = self._publishers.get(topic)
        if publisher is None:
            settings = (self.credentials.settings_for(self.settings, principal) if self.credentials
                        else self.settings)
            publisher = Publisher(settings, self.connector, f"/{self.connector}", topic=topic)
            await publisher.start()
            self._publishers[topic] = publisher
        return publisher

    async def open_all(self) -> None:
        """Start a publisher on every intake topic now (each schema id looked up, each producer connected),
        not at the first event of each source."""
        from hub.core import catalogue
        from hub.wire.topics import DESK_AGENCY

        for node in self.settings.desk_node_prefixes:
            await self._publisher(self.settings.desk_intake_topic(node), desk_principal(node))
        for code in catalogue.agencies():
            if code != DESK_AGENCY:
                await self._publisher(self.settings.agency_intake_topic(code), agency_principal(code))

    async def send_batch(self, items: Sequence[Item]) -> list[BaseException | None]:
        """``Publisher.send_batch`` over the sources' topics (one outcome per item, in order)."""
        groups: dict[tuple[str, str], list[tuple[int, Item]]] = {}
        for i, (event, source, traceparent) in enumerate(items):
            topic, principal, source = route(self.settings, event, source)
            groups.setdefault((topic, principal), []).append((i, (event, source, traceparent)))
        outcomes: list[BaseException | None] = [None] * len(items)

        async def one(topic: str, principal: str, batch: list[tuple[int, Item]]) -> None:
            publisher = await self._publisher(topic, principal)
            sent = await publisher.send_batch([item for _, item in batch])
            for (i, _), outcome in zip(batch, sent, strict=True):
                outcomes[i] = outcome

        await asyncio.gather(*(one(topic, principal, where) for (topic, principal), where in groups.items()))
        return outcomes

    async def publish(self, event: RequestLifecycleEvent, *, source: str | None = None) -> None:
        await self.publish_many([(event, source)])

    async def publish_many(self, events: Iterable[tuple[RequestLifecycleEvent, str | None]]) -> int:
        return all_acknowledged(await self.send_batch([(e, s, None) for e, s in events]))

    async def stop(self) -> None:
        for publisher in self._publishers.values():
            await publisher.stop()
        self._publishers.clear()

    async def abort(self) -> None:
        """Close every producer without flushing (the broker is away: ``Publisher.abort``); the next send
        starts fresh ones. The caller still has what was not acknowledged and sends it again."""
        for publisher in self._publishers.values():
            await publisher.abort()
        self._publishers.clear()

    async def __aenter__(self) -> SourcePublishers:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
