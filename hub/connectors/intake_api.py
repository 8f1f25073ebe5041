"""The Smart Kampung desk intake API (aiohttp): submit a request, post a status update, read a status.

    POST /v1/requests                          submit (202; idempotent by region + desk_number)
    POST /v1/requests/{request_id}/status      a desk status update (202; idempotent by update_id)
    GET  /v1/requests/{request_id}             the request's status, as this desk knows it
    GET  /openapi.json   GET /healthz

Authentication: ``Authorization: Bearer <token>``, one token per village (``DeskTokens``); a token
may only act for its own region code (403 otherwise). Bad input: 422 with
``{"errors": [{"field": ..., "reason": ...}]}``; malformed JSON 400.

Everything accepted is committed to the desk's durable outbox before the answer (store and forward:
the API works while the broker is away). Status look-ups answer from the desk's own ledger: what it
submitted plus what it has seen on the MPP feed (``settings.topic_feed``, no personal data) for the
villages it serves, so they work offline too and never copy a citizen's data back.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from hub.access.catalogue import desk_group_prefix
from hub.connectors.follower import Follower, Seen
from hub.connectors.loops import Loops
from hub.connectors.publisher import Publisher
from hub.connectors.outbox import Forwarder, Outbox
from hub.connectors.village_desk import (SOURCE_SYSTEM, StatusIn, SubmitIn, build_status_update,
                                         build_submission, current_state, parse, source_of)
from hub.core import regions
from hub.core.errors import ValidationError, ValidationErrors
from hub.core.lifecycle import LifecycleError
from hub.core.models import RequestLifecycleEvent
from hub.settings import Settings

CONNECTOR = "village_desk"


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

    def region_for(self, authorization: str | None) -> str | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        return self._by_digest.get(self._digest(authorization[7:].strip()))

    @property
    def regions(self) -> frozenset[str]:
        return frozenset(self._by_digest.values())


class DeskService:
    """The desk node: outbox + forwarder to intake + feed follower into the ledger."""

    def __init__(self, settings: Settings, outbox: Outbox, *, regions_served: Iterable[str] = (),
                 follow_feed: bool = True, node: str | None = None):
        node = node or next(iter(settings.desk_node_prefixes))
        self.settings = settings
        self.outbox = outbox
        self.regions_served = frozenset(regions_served)
        self.forwarder = Forwarder(outbox, Publisher(settings, CONNECTOR, source=f"/{SOURCE_SYSTEM}",
                                                     topic=settings.desk_intake_topic(node),
                                                     request_timeout_ms=15_000))
        # The node's principal may only use consumer groups under its own prefix.
        self.follower = (Follower(settings, settings.topic_feed, f"{desk_group_prefix(node)}feed.{settings.app_id}",
                                  self._seen) if follow_feed else None)
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

    def known(self, request_id: str) -> list[RequestLifecycleEvent]:
        return [e for e, _, _ in self.outbox.events_of(request_id)]

    def status(self, request_id: str) -> dict[str, Any] | None:
        events = self.outbox.events_of(request_id)
        if not events:
            return None
        state = current_state([e for e, _, _ in events])
        last = events[-1][0]
        return {
            "request_id": request_id, "region_code": last.region_code, "service_code": last.service_code,
            "agency": last.agency, "status": state.status.value if state else last.status.value,
            "updated_at": (state.updated_at if state else last.occurred_at).isoformat(),
            "history": [{"event_id": e.event_id, "source": src, "status": e.status.value,
                         "native_status": e.native_status, "occurred_at": e.occurred_at.isoformat(),
                         "source_system": e.source_system, "delivered": delivered, "note": e.note}
                        for e, src, delivered in events],
        }


# -- HTTP ----------------------------------------------------------------------------------------
def _errors(status: int, errors: list[dict[str, str]]) -> web.Response:
    return web.json_response({"errors": errors}, status=status)


def _field_error(status: int, message: str, default_field: str) -> web.Response:
    field, sep, reason = message.partition(": ")
    return _errors(status, [{"field": field, "reason": reason} if sep else
                            {"field": default_field, "reason": message}])


async def _json(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(text=json.dumps({"errors": [{"field": "(body)", "reason": f"not JSON: {exc}"}]}),
                                 content_type="application/json") from None


SERVICE = web.AppKey("service", DeskService)
TOKENS = web.AppKey("tokens", DeskTokens)


def _region(request: web.Request) -> str:
    region = request.app[TOKENS].region_for(request.headers.get("Authorization"))
    if region is None:
        raise web.HTTPUnauthorized(
            text=json.dumps({"errors": [{"field": "Authorization", "reason": "missing or unknown bearer token"}]}),
            content_type="application/json", headers={"WWW-Authenticate": "Bearer"})
    return region


def _own(request: web.Request, region: str, request_id: str) -> list[RequestLifecycleEvent]:
    known = request.app[SERVICE].known(request_id)
    if not known:
        raise web.HTTPNotFound(text=json.dumps({"errors": [
            {"field": "request_id", "reason": f"{request_id} is not known at this desk"}]}),
            content_type="application/json")
    if known[0].region_code != region:
        raise web.HTTPForbidden(text=json.dumps({"errors": [
            {"field": "request_id", "reason": f"{request_id} belongs to another village"}]}),
            content_type="application/json")
    return known


async def post_request(request: web.Request) -> web.Response:
    region = _region(request)
    try:
        data = parse(SubmitIn, await _json(request))
        event = build_submission(data, token_region=region)  # type: ignore[arg-type]
    except PermissionError as exc:
        return _field_error(403, str(exc), "region_code")
    except ValidationErrors as exc:
        return _errors(422, exc.as_dicts())
    new = await asyncio.to_thread(request.app[SERVICE].submit, event)
    return web.json_response({"request_id": event.request_id, "event_id": event.event_id,
                              "status": event.status.value, "duplicate": not new}, status=202)


async def post_status(request: web.Request) -> web.Response:
    region = _region(request)
    request_id = request.match_info["request_id"]
    known = _own(request, region, request_id)
    try:
        data = parse(StatusIn, await _json(request))
        event = build_status_update(request_id, data, known)  # type: ignore[arg-type]
    except ValidationErrors as exc:
        return _errors(422, exc.as_dicts())
    except ValidationError as exc:
        return _errors(422, [exc.as_dict()])
    except LifecycleError as exc:
        return _field_error(409, str(exc), "native_status")
    new = await asyncio.to_thread(request.app[SERVICE].submit, event)
    return web.json_response({"request_id": request_id, "event_id": event.event_id,
                              "status": event.status.value, "duplicate": not new}, status=202)


async def get_request(request: web.Request) -> web.Response:
    region = _region(request)
    request_id = request.match_info["request_id"]
    _own(request, region, request_id)
    return web.json_response(request.app[SERVICE].status(request_id))


async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi())


async def healthz(request: web.Request) -> web.Response:
    depth, _ = request.app[SERVICE].outbox.depth()
    return web.json_response({"ok": True, "outbox_depth": depth})


def create_app(service: DeskService, tokens: DeskTokens) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    app[SERVICE] = service
    app[TOKENS] = tokens
    app.router.add_post("/v1/requests", post_request)
    app.router.add_post("/v1/requests/{request_id}/status", post_status)
    app.router.add_get("/v1/requests/{request_id}", get_request)
    app.router.add_get("/openapi.json", get_openapi)
    app.router.add_get("/healthz", healthz)
    return app


# -- OpenAPI, generated from the same pydantic models that validate the input -------------------------
def openapi() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in (SubmitIn, StatusIn):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    ref = lambda name: {"$ref": f"#/components/schemas/{name}"}  # noqa: E731
    err = {"description": "", "content": {"application/json": {"schema": ref("Errors")}}}

    def errors(*codes: tuple[str, str]) -> dict[str, Any]:
        return {code: {**err, "description": text} for code, text in codes}

    schemas["Errors"] = {"type": "object", "required": ["errors"], "properties": {"errors": {
        "type": "array", "items": {"type": "object", "required": ["field", "reason"], "properties": {
            "field": {"type": "string", "examples": ["citizen.nik"]},
            "reason": {"type": "string", "examples": ["must be 16 digits, got 15"]}}}}}}
    schemas["Accepted"] = {"type": "object", "required": ["request_id", "event_id", "status", "duplicate"],
                           "properties": {"request_id": {"type": "string"}, "event_id": {"type": "string"},
                                          "status": {"type": "string"}, "duplicate": {"type": "boolean"}}}
    schemas["RequestStatus"] = {"type": "object", "required": ["request_id", "status", "history"], "properties": {
        "request_id": {"type": "string"}, "region_code": {"type": "string"}, "service_code": {"type": "string"},
        "agency": {"type": "string"}, "status": {"type": "string"}, "updated_at": {"type": "string",
                                                                                   "format": "date-time"},
        "history": {"type": "array", "items": {"type": "object"}}}}
    auth = errors(("401", "missing or unknown token"))
    path_param = [{"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    accepted = {"202": {"description": "committed to the desk's outbox; forwarded when the hub is reachable",
                        "content": {"application/json": {"schema": ref("Accepted")}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Smart Kampung village desk intake API", "version": "1.0.0",
                 "description": __doc__.split("\n\n")[0]},
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "one token per village"}},
                       "schemas": schemas},
        "paths": {
            "/v1/requests": {"post": {
                "summary": "Submit a citizen request registered at this village's desk",
                "requestBody": {"required": True, "content": {"application/json": {"schema": ref("SubmitIn")}}},
                "responses": {**accepted, **auth, **errors(
                    ("400", "body is not JSON"), ("403", "region_code is not the token's village"),
                    ("422", "invalid field(s), each named with the reason"))}}},
            "/v1/requests/{request_id}/status": {"post": {
                "summary": "Record a status change of one of this village's requests",
                "parameters": path_param,
                "requestBody": {"required": True, "content": {"application/json": {"schema": ref("StatusIn")}}},
                "responses": {**accepted, **auth, **errors(
                    ("400", "body is not JSON"), ("403", "request of another village"),
                    ("404", "request not submitted at this desk"), ("409", "transition not allowed"),
                    ("422", "invalid field(s)"))}}},
            "/v1/requests/{request_id}": {"get": {
                "summary": "Status of a request, from this desk's ledger (own events + the MPP feed)",
                "parameters": path_param,
                "responses": {"200": {"description": "status and history (no personal data)",
                                      "content": {"application/json": {"schema": ref("RequestStatus")}}},
                              **auth, **errors(("403", "request of another village"), ("404", "unknown request"))}}},
        },
    }


async def serve(settings: Settings, *, outbox_path: Path, tokens: DeskTokens, host: str, port: int,
                stopping: asyncio.Event, node: str | None = None) -> None:
    """Run the desk node until ``stopping`` is set (graceful: finish, flush, close)."""
    with Outbox(outbox_path) as outbox:
        service = DeskService(settings, outbox, regions_served=tokens.regions, node=node)
        await service.start()
        runner = web.AppRunner(create_app(service, tokens))
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        try:
            await stopping.wait()
        finally:
            await runner.cleanup()
            await service.stop()
