"""The Smart Kampung desk intake API: submit a request, post a status update, read a status.

    POST /v1/requests                          submit (202; idempotent by region + desk_number)
    POST /v1/requests/{request_id}/status      a desk status update (202; idempotent by update_id)
    GET  /v1/requests/{request_id}             the request's status, as this desk knows it
    GET  /openapi.json   GET /healthz

FastAPI via :mod:`hub.http` (one error shape, ``{"errors": [{"field": ..., "reason": ...}]}``); the
request bodies are the pydantic models of :mod:`hub.connectors.village_desk`, and the OpenAPI document
is generated from them (``docs/openapi-village-desk.json``, kept in sync by a test).

Authentication: ``Authorization: Bearer <token>``, one token per village (``DeskTokens``); a token
may only act for its own region code (403 otherwise). Bad input is a 4xx naming the field, never a 500:
400 a body that is not JSON, nests too deep or holds a huge number, 413 a body over 64 KiB, 415 a body
that is not JSON in UTF-8 (:mod:`hub.http.body`), 422 a field refused by the models or by admission
(the worker's own rules, :mod:`hub.core.admission`), 409 an illegal transition or a desk number
submitted before with other content (each differing field named; the first submission stands).

Everything accepted is committed to the desk's durable outbox before the answer (store and forward:
the API works while the broker is away); nothing refused touches it. Status look-ups answer from the
desk's own ledger: what it submitted plus what it has seen on the MPP feed (``settings.topic_feed``, no
personal data) for the villages it serves, so they work offline too and never copy a citizen's data back.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from hub.access.catalogue import desk_group_prefix
from hub.connectors.follower import Follower, Seen
from hub.connectors.loops import Loops
from hub.connectors.outbox import Forwarder, Outbox
from hub.connectors.publisher import Publisher
from hub.connectors.village_desk import (
    SOURCE_SYSTEM,
    StatusIn,
    SubmitIn,
    build_status_update,
    build_submission,
    current_state,
    resubmission_conflicts,
    source_of,
)
from hub.core import limits, regions
from hub.core.lifecycle import LifecycleError
from hub.core.models import RequestLifecycleEvent
from hub.http.body import JsonBodyRoute
from hub.http.errors import ApiError, error_responses, install
from hub.http.server import ApiServer
from hub.settings import Settings

CONNECTOR = "village_desk"
TITLE = "Smart Kampung village desk intake API"
VERSION = "1.0.0"


class DeskTokens:
    """One bearer token per village; only SHA-256 digests are kept in memory."""

    def __init__(self, tokens: Mapping[str, str]):
        self._by_digest = {self._digest(token): region for region, token in tokens.items()}

    @staticmethod
    def _digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def load(cls, path: Path) -> DeskTokens:
        """A JSON file ``{"35.10.21.2003": "<token>", ...}``."""
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    @staticmethod
    def generate(region_codes: Iterable[str] | None = None) -> dict[str, str]:
        """Fresh random tokens, one per village (all 217 by default)."""
        codes = region_codes or [v.code for v in regions.villages()]
        return {code: secrets.token_urlsafe(24) for code in codes}

    def region_of(self, token: str) -> str | None:
        """The village a bearer token belongs to (None: no such token)."""
        return self._by_digest.get(self._digest(token.strip()))

    @property
    def regions(self) -> frozenset[str]:
        return frozenset(self._by_digest.values())


# -- answers (response models: part of the generated OpenAPI document) ---------------------------------------
class Accepted(BaseModel):
    """Committed to the desk's outbox; forwarded to the hub when it is reachable."""

    request_id: str
    event_id: str
    status: str
    duplicate: bool


class HistoryEntry(BaseModel):
    event_id: str
    source: str
    status: str
    native_status: str | None
    occurred_at: datetime
    source_system: str
    delivered: bool
    note: str | None


class RequestStatus(BaseModel):
    """A request's status and history as this desk knows it (no personal data)."""

    request_id: str
    region_code: str
    service_code: str
    agency: str
    status: str
    updated_at: datetime
    history: list[HistoryEntry]


class DeskService:
    """The desk node: outbox + forwarder to intake + feed follower into the ledger."""

    def __init__(self, settings: Settings, outbox: Outbox, *, regions_served: Iterable[str] = (),
                 follow_feed: bool = True, node: str | None = None):
        node = node or next(iter(settings.desk_node_prefixes))
        self.settings = settings
        self.outbox = outbox
        self.regions_served = frozenset(regions_served)
        self.forwarder = Forwarder(outbox, Publisher(settings, CONNECTOR, source=f"/{SOURCE_SYSTEM}",
                                                     topic=settings.desk_intake_topic(node)))
        # The node's principal may only use consumer groups under its own prefix.
        self.follower = (Follower(settings, settings.topic_feed,
                                  f"{desk_group_prefix(node)}feed.{settings.app_id}", self._seen)
                         if follow_feed else None)
        self._loops = Loops()

    async def _seen(self, items: Seen) -> None:
        mine = [(e, s) for e, s in items if not self.regions_served or e.region_code in self.regions_served]
        if mine:
            await asyncio.to_thread(self.outbox.record_seen, mine)

    async def start(self) -> None:
        self._loops.start(self.forwarder, self.follower)

    async def stop(self) -> None:
        """Stop following, send what can be sent, close (the rest stays in the outbox)."""
        await self._loops.stop()

    def submit(self, event: RequestLifecycleEvent) -> bool:
        """Commit to the outbox; False if it was already there."""
        new = self.outbox.enqueue([(event, source_of(event.region_code))]) == 1
        self.forwarder.wake()
        return new

    def first_submitted(self, event: RequestLifecycleEvent) -> RequestLifecycleEvent | None:
        """What this desk committed under ``event``'s id (None once purged from the outbox)."""
        return self.outbox.own_event(source_of(event.region_code), event.event_id)

    def known(self, request_id: str) -> list[RequestLifecycleEvent]:
        return [e for e, _, _ in self.outbox.events_of(request_id)]

    def status(self, request_id: str) -> RequestStatus | None:
        events = self.outbox.events_of(request_id)
        if not events:
            return None
        state = current_state([e for e, _, _ in events])
        last = events[-1][0]
        return RequestStatus(
            request_id=request_id, region_code=last.region_code, service_code=last.service_code,
            agency=last.agency, status=state.status.value if state else last.status.value,
            updated_at=state.updated_at if state else last.occurred_at,
            history=[HistoryEntry(event_id=e.event_id, source=src, status=e.status.value,
                                  native_status=e.native_status, occurred_at=e.occurred_at,
                                  source_system=e.source_system, delivered=delivered, note=e.note)
                     for e, src, delivered in events])


# -- HTTP ----------------------------------------------------------------------------------------------------
RequestId = Annotated[str, PathParam(max_length=limits.ID_MAX, pattern=limits.ID_PATTERN,
                                     description="The request id (as answered by the submission)")]
_BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", description="one token per village")
_UNAUTHORISED = (401, "missing or unknown bearer token")
_BAD_BODY = ((400, "body is not JSON, nests too deep or holds a number too large"),
             (413, "body larger than 64 KiB"), (415, "body is not JSON in UTF-8"))


def _field_error(status: int, message: str, default_field: str) -> ApiError:
    """An ApiError from a ``"field: reason"`` message (as the pure functions raise them)."""
    field, sep, reason = message.partition(": ")
    return ApiError(status, field, reason) if sep else ApiError(status, default_field, message)


class DeskApi:
    """The desk's HTTP work over a :class:`DeskService` (None: only to describe the API); held by the app
    (``app.state.desk``) and reached by the routes through :func:`_desk`."""

    def __init__(self, service: DeskService | None, tokens: DeskTokens):
        self._service = service
        self.tokens = tokens

    @property
    def service(self) -> DeskService:
        assert self._service is not None, "a DeskApi without a service only describes the API"
        return self._service

    def region(self, credentials: HTTPAuthorizationCredentials | None) -> str:
        """The village the caller's bearer token belongs to (401 if none)."""
        region = self.tokens.region_of(credentials.credentials) if credentials else None
        if region is None:
            raise ApiError(401, "Authorization", _UNAUTHORISED[1], headers={"WWW-Authenticate": "Bearer"})
        return region

    def own(self, region: str, request_id: str) -> list[RequestLifecycleEvent]:
        """The events this desk knows of a request of the caller's village (404 unknown, 403 another's)."""
        known = self.service.known(request_id)
        if not known:
            raise ApiError(404, "request_id", f"{request_id} is not known at this desk")
        if known[0].region_code != region:
            raise ApiError(403, "request_id", f"{request_id} belongs to another village")
        return known

    async def submit(self, data: SubmitIn, region: str) -> Accepted:
        try:
            event = build_submission(data, token_region=region)
        except PermissionError as exc:
            raise _field_error(403, str(exc), "region_code") from None
        new = await asyncio.to_thread(self.service.submit, event)
        if not new:
            first = await asyncio.to_thread(self.service.first_submitted, event)
            conflicts = resubmission_conflicts(first, event, data) if first is not None else []
            if conflicts:
                raise ApiError.of(409, conflicts)
        return Accepted(request_id=event.request_id, event_id=event.event_id, status=event.status.value,
                        duplicate=not new)

    async def update(self, request_id: str, data: StatusIn, region: str) -> Accepted:
        known = self.own(region, request_id)
        try:
            event = build_status_update(request_id, data, known)
        except PermissionError as exc:
            raise _field_error(403, str(exc), "request_id") from None
        except LifecycleError as exc:
            raise _field_error(409, str(exc), "native_status") from None
        new = await asyncio.to_thread(self.service.submit, event)
        return Accepted(request_id=request_id, event_id=event.event_id, status=event.status.value,
                        duplicate=not new)

    async def read(self, request_id: str, region: str) -> RequestStatus:
        self.own(region, request_id)
        status = await asyncio.to_thread(self.service.status, request_id)
        assert status is not None  # own() found events
        return status


def _desk(request: Request) -> DeskApi:
    desk: DeskApi = request.app.state.desk
    return desk


def _region(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
            ) -> str:
    return _desk(request).region(credentials)


Desk = Annotated[DeskApi, Depends(_desk)]
Region = Annotated[str, Depends(_region)]
router = APIRouter(route_class=JsonBodyRoute)
_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "committed to the desk's outbox; forwarded when the hub is reachable"}}


@router.post("/v1/requests", status_code=202,
             summary="Submit a citizen request registered at this village's desk",
             responses={**_ACCEPTED, **error_responses(
                 _UNAUTHORISED, *_BAD_BODY, (403, "region_code is not the token's village"),
                 (409, "this desk number was submitted before with other content (each field named)"),
                 (422, "invalid field(s), each named with the reason"))})
async def submit(data: SubmitIn, region: Region, desk: Desk) -> Accepted:
    return await desk.submit(data, region)


@router.post("/v1/requests/{request_id}/status", status_code=202,
             summary="Record a status change of one of this village's requests",
             responses={**_ACCEPTED, **error_responses(
                 _UNAUTHORISED, *_BAD_BODY,
                 (403, "request of another village, or one this desk knows only from the MPP feed"),
                 (404, "request not known at this desk"), (409, "transition not allowed"),
                 (422, "invalid field(s), each named with the reason"))})
async def update(request_id: RequestId, data: StatusIn, region: Region, desk: Desk) -> Accepted:
    return await desk.update(request_id, data, region)


@router.get("/v1/requests/{request_id}",
            summary="Status of a request, from this desk's ledger (own events + the MPP feed)",
            responses=error_responses(_UNAUTHORISED, (403, "request of another village"),
                                      (404, "unknown request"), (422, "invalid request id")))
async def read(request_id: RequestId, region: Region, desk: Desk) -> RequestStatus:
    return await desk.read(request_id, region)


@router.get("/healthz", include_in_schema=False)
async def healthz(desk: Desk) -> dict[str, Any]:
    depth, _ = await asyncio.to_thread(desk.service.outbox.depth)
    return {"ok": True, "outbox_depth": depth}


def create_app(service: DeskService | None, tokens: DeskTokens) -> FastAPI:
    """The desk's ASGI app (run it with :class:`hub.http.server.ApiServer`); no service: only its document."""
    app = FastAPI(title=TITLE, version=VERSION, description=__doc__.split("\n\n")[0], docs_url=None,
                  redoc_url=None)
    app.state.desk = DeskApi(service, tokens)
    install(app)
    app.include_router(router)
    return app


def openapi() -> dict[str, Any]:
    """The desk API's OpenAPI document, generated from the models (``docs/openapi-village-desk.json``)."""
    return create_app(None, DeskTokens({})).openapi()


async def serve(settings: Settings, *, outbox_path: Path, tokens: DeskTokens, host: str, port: int,
                stopping: asyncio.Event, node: str | None = None) -> None:
    """Run the desk node until ``stopping`` is set (graceful: finish, flush, close)."""
    with Outbox(outbox_path) as outbox:
        service = DeskService(settings, outbox, regions_served=tokens.regions, node=node)
        await service.start()
        try:
            async with ApiServer(create_app(service, tokens), host, port):
                await stopping.wait()
        finally:
            await service.stop()
