"""The agency connector skeleton: an agency's own status updates become lifecycle events on intake.

Each agency module (``dukcapil``, ``pln``, ``pudam``, ``bpjs``) is an ``AgencyProfile``: the agency's
catalogue code, its system's name, and the codes that system uses for statuses. Everything else is here:

* pure: ``translate(profile, update, known)`` turns a ``NativeUpdate`` (the agency's words) into a
  ``RequestLifecycleEvent``: canonical status from ``hub.core.lifecycle.to_canonical``, the agency's own
  status kept in ``native_status``, a stable event id from the agency's own update id;
* shell: ``AgencyConnector`` follows the agency's topic (``settings.agency_topic(agency)``) to learn the
  requests it must answer (and hands each to ``on_request``), and publishes updates through a durable
  outbox (store and forward, as for village desks).

Three ways an agency integrates (pick per agency, they can be combined):

(a) **Kafka client**: the agency's code runs the connector in-process: requests arrive at
    ``on_request``; it calls ``await connector.report(NativeUpdate(...))``.
(b) **SQL outbox** (Debezium outbox style, ``hub.connectors.sql_outbox``): the agency writes its business
    row and a ``hub_outbox`` row in one transaction; the connector polls, publishes, marks the row.
(c) **HTTP callback** (``hub.connectors.webhook``): the agency POSTs each update, signed per
    Standard Webhooks, to the connector.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hub.access.catalogue import agency_group_prefix
from hub.connectors.follower import Follower, Seen
from hub.connectors.loops import Loops
from hub.connectors.outbox import Forwarder, Outbox
from hub.connectors.publisher import Publisher
from hub.core import catalogue, lifecycle
from hub.core.errors import ValidationError
from hub.core.models import RequestLifecycleEvent
from hub.settings import Settings

NAMESPACE = uuid.UUID("a9c1e6f2-3510-4c1b-8d7e-6167656e6379")  # uuid5 namespace of agency event ids


@dataclass(frozen=True)
class AgencyProfile:
    """What makes one agency's connector different from another's."""

    agency: str  # catalogue code, e.g. "dukcapil"
    source_system: str  # the agency's system, e.g. "siak-dukcapil"
    #: The system's own status codes -> the lifecycle's native vocabulary for this agency.
    codes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        codes = {lifecycle.normalise_native(k): v for k, v in self.codes.items()}
        for native in codes.values():  # a typo here would silently lose events: fail at import
            lifecycle.to_canonical(self.agency, native)
        object.__setattr__(self, "codes", MappingProxyType(codes))

    @property
    def source(self) -> str:
        """CloudEvents ``ce_source`` of this agency's events."""
        return f"/agency/{self.agency}/{self.source_system}"

    @property
    def connector(self) -> str:
        return f"agency_{self.agency}"

    def canonical(self, native: str) -> lifecycle.Status:
        """The canonical status of a native status or code; raises ValidationError (``native_status``)."""
        key = lifecycle.normalise_native(native)
        try:
            return lifecycle.to_canonical(self.agency, self.codes.get(key, key))
        except lifecycle.LifecycleError as exc:
            raise ValidationError("native_status", str(exc)) from None


class NativeUpdate(BaseModel):
    """A status change as the agency's system reports it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    request_id: str = Field(min_length=1, max_length=128)
    update_id: str = Field(min_length=1, max_length=128,
                           description="The agency's own id of this change (outbox row id, webhook id): "
                                       "the same update always yields the same event id")
    native_status: str = Field(min_length=1, max_length=60)
    occurred_at: AwareDatetime
    note: str | None = Field(None, max_length=500)
    #: Optional: taken from the request as seen on the agency topic when absent.
    service_code: str | None = None
    region_code: str | None = None


def event_id(profile: AgencyProfile, request_id: str, update_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{profile.source}/{request_id}/{update_id}"))


def translate(profile: AgencyProfile, update: NativeUpdate,
              known: Sequence[RequestLifecycleEvent] = ()) -> RequestLifecycleEvent:
    """The lifecycle event for an agency's update (pure). ``known``: the request's events seen on the
    agency topic (for its service and region when the update does not carry them).

    Raises ValidationError naming the field: unknown native status, unknown request, a service of
    another agency.
    """
    status = profile.canonical(update.native_status)
    first = known[0] if known else None
    service_code = update.service_code or (first.service_code if first else None)
    region_code = update.region_code or (first.region_code if first else None)
    if not service_code or not region_code:
        raise ValidationError("request_id", f"{update.request_id} was never seen on the {profile.agency} "
                                            f"topic; send service_code and region_code with the update")
    service = catalogue.service(service_code)
    if service.agency != profile.agency:
        raise ValidationError("service_code", f"{service_code} belongs to {service.agency}, "
                                              f"not {profile.agency}")
    return RequestLifecycleEvent(
        event_id=event_id(profile, update.request_id, update.update_id), request_id=update.request_id,
        parent_request_id=first.parent_request_id if first else None, status=status,
        native_status=update.native_status, occurred_at=update.occurred_at,
        source_system=profile.source_system, service_code=service_code, region_code=region_code,
        agency=profile.agency, note=update.note)


OnRequest = Callable[[RequestLifecycleEvent], Awaitable[None]]


class AgencyConnector:
    """One agency's connector process: follows its topic, publishes its updates via a durable outbox."""

    def __init__(self, settings: Settings, profile: AgencyProfile, state_dir: Path, *,
                 on_request: OnRequest | None = None, follow: bool = True):
        self.settings = settings
        self.profile = profile
        self.on_request = on_request
        self.outbox = Outbox(Path(state_dir) / f"{profile.connector}.sqlite")
        self.forwarder = Forwarder(self.outbox, Publisher(
            settings, profile.connector, source=profile.source,
            topic=settings.agency_intake_topic(profile.agency)))
        # Its consumer group lives under the agency's own prefix (the only groups its principal may use).
        self.follower = (Follower(settings, settings.agency_topic(profile.agency),
                                  f"{agency_group_prefix(profile.agency)}connector.{settings.app_id}",
                                  self._requests)
                         if follow else None)
        self._loops = Loops()

    async def _requests(self, items: Seen) -> None:
        # Keep only what is needed to answer (no personal data on the connector's disk).
        await asyncio.to_thread(self.outbox.record_seen,
                                [(e.model_copy(update={"citizen": None}), s) for e, s in items])
        if self.on_request is not None:
            for event, _ in items:
                await self.on_request(event)

    def known(self, request_id: str) -> list[RequestLifecycleEvent]:
        return [e for e, src, _ in self.outbox.events_of(request_id) if src != self.profile.source]

    def accept(self, updates: Sequence[NativeUpdate]) -> list[RequestLifecycleEvent]:
        """Translate and commit updates to the outbox (all or, on the first bad one, none)."""
        events = [translate(self.profile, u, self.known(u.request_id)) for u in updates]
        self.outbox.enqueue((e, self.profile.source) for e in events)
        self.forwarder.wake()
        return events

    async def report(self, update: NativeUpdate) -> RequestLifecycleEvent:
        """(a) Kafka-client style: the agency's code reports one update."""
        return (await asyncio.to_thread(self.accept, [update]))[0]

    async def start(self) -> AgencyConnector:
        self._loops.start(self.forwarder, self.follower)
        return self

    async def stop(self) -> None:
        await self._loops.stop()
        self.outbox.close()

    async def __aenter__(self) -> AgencyConnector:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def occurred(value: datetime) -> datetime:
    """Helper for agency code: a naive timestamp from an agency database is WIB (UTC+7)."""
    from hub.core.validation import WIB

    return value if value.tzinfo else value.replace(tzinfo=WIB)
