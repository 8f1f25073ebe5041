"""The push-delivery admin API (FastAPI via ``hub.http``): endpoints, deliveries, the attempt log, notices.

    POST   /v1/endpoints                      register (verified by a signed challenge); 201 with its secret
    GET    /v1/endpoints                      list (an agency's token: its own only)
    GET    /v1/endpoints/{id}                 one endpoint (no secret)
    PATCH  /v1/endpoints/{id}                 url (verified again), filters, mode, rate limit, description
    DELETE /v1/endpoints/{id}                 with its deliveries and their payloads
    POST   /v1/endpoints/{id}/pause|resume
    POST   /v1/endpoints/{id}/rotate-secret   new secret; the previous one signs for 24 h more
    GET    /v1/endpoints/{id}/secret
    GET    /v1/deliveries                     filter by endpoint, state, time window; cursor paging
    GET    /v1/deliveries/{id}                with its attempts (no payload)
    POST   /v1/deliveries/{id}/resend
    POST   /v1/deliveries/recover             exhausted and skipped deliveries of a window; dry_run counts
    GET    /v1/notices                        what the agency's admins were told (failing, disabled)

``Authorization: Bearer <token>`` (``hub.delivery.tokens``): the ``admin`` token may do everything, an
agency's token only with its own endpoints (another agency's endpoint is a 404, creating one for
another agency a 403). Errors have the hub's one shape, ``{"errors": [{"field", "reason"}]}``. The
OpenAPI document is generated (:func:`openapi`) into ``docs/openapi-delivery.json``; a test keeps it
current.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import aiohttp
from fastapi import Depends, FastAPI, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from hub import __version__
from hub.delivery import service
from hub.delivery.model import State
from hub.delivery.store import SubscriptionStore
from hub.delivery.tokens import ADMIN, ApiTokens
from hub.http.errors import ApiError, install
from hub.settings import Settings

MAX_PAGE = 500


class EndpointOut(BaseModel):
    id: str
    agency: str
    url: str
    filters: dict[str, list[str]]
    mode: Literal["standard", "fifo"]
    rate_limit: float | None
    description: str
    status: Literal["active", "paused", "disabled"]
    disabled_reason: str | None
    rotating_until: str | None = Field(description="until when the previous secret still signs")
    failing_since: str | None
    created_at: str | None
    updated_at: str | None


class EndpointWithSecret(EndpointOut):
    secret: str = Field(description="whsec_...: verify every request's webhook-signature with it")


class SecretOut(BaseModel):
    secret: str
    previous_valid_until: str | None


class Origin(BaseModel):
    topic: str
    partition: int
    offset: int


class DeliveryOut(BaseModel):
    id: str
    endpoint_id: str
    agency: str
    request_id: str
    event_id: str
    event_source: str
    event_type: str
    sequence: int
    state: Literal["sending", "scheduled", "held", "delivered", "exhausted", "skipped"]
    attempts: int
    next_attempt_at: str | None
    last_status: int | None
    last_error: str | None
    personal_fields: list[str]
    origin: Origin
    created_at: str | None
    updated_at: str | None


class AttemptOut(BaseModel):
    attempt: int
    at: str | None
    status_code: int | None
    duration_ms: int
    outcome: str
    error_class: str | None
    response: str | None = Field(description="the first 1 KB of the endpoint's answer")
    next_attempt_at: str | None


class DeliveryDetail(DeliveryOut):
    attempt_log: list[AttemptOut]


class DeliveryPage(BaseModel):
    deliveries: list[DeliveryOut]
    next_cursor: str | None


class RecoverIn(BaseModel):
    since: datetime
    until: datetime | None = None
    endpoint_id: str | None = None
    dry_run: bool = False


class RecoverOut(BaseModel):
    deliveries: int
    dry_run: bool


class NoticeOut(BaseModel):
    agency: str
    endpoint_id: str
    kind: str
    message: str
    at: str | None


_bearer = HTTPBearer(auto_error=False, description="the admin token, or an agency's token")


def _caller(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
            ) -> str:
    scope = request.app.state.tokens.scope(f"Bearer {credentials.credentials}" if credentials else None)
    if scope is None:
        raise ApiError(401, "Authorization", "missing or unknown bearer token",
                       headers={"WWW-Authenticate": "Bearer"})
    return str(scope)


#: The caller's scope: ``admin`` or an agency code.
Caller = Annotated[str, Depends(_caller)]


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def create_app(store: SubscriptionStore, settings: Settings, tokens: ApiTokens, *,
               http: aiohttp.ClientSession | None = None) -> FastAPI:
    app = FastAPI(title="Banyuwangi hub: push delivery admin API", version=__version__,
                  description="Agency HTTPS endpoints that receive the hub's events, signed per Standard "
                              "Webhooks; their deliveries and attempt log.")
    install(app)
    app.state.tokens = tokens

    def own(scope: str) -> str | None:
        return None if scope == ADMIN else scope

    async def found(coro: Any) -> Any:
        try:
            return await coro
        except service.NotFound as exc:
            raise ApiError(404, "id", str(exc)) from None

    @app.post("/v1/endpoints", status_code=201, response_model=EndpointWithSecret, tags=["endpoints"])
    async def create(spec: service.EndpointIn, scope: Caller) -> dict[str, Any]:
        if scope != ADMIN and spec.agency != scope:
            raise ApiError(403, "agency", "an agency's token registers endpoints of that agency only")
        return service.with_secret(await service.create_endpoint(store, settings, spec, http=http))

    @app.get("/v1/endpoints", response_model=list[EndpointOut], tags=["endpoints"])
    async def list_endpoints(scope: Caller, agency: str | None = None) -> list[dict[str, Any]]:
        wanted = own(scope) or agency
        if own(scope) and agency and agency != scope:
            raise ApiError(403, "agency", "an agency's token sees its own endpoints only")
        return [e.public() for e in await store.list_endpoints(wanted)]

    @app.get("/v1/endpoints/{endpoint_id}", response_model=EndpointOut, tags=["endpoints"])
    async def get_endpoint(endpoint_id: str, scope: Caller) -> dict[str, Any]:
        return (await found(service.get_endpoint(store, endpoint_id, own(scope)))).public()

    @app.patch("/v1/endpoints/{endpoint_id}", response_model=EndpointOut, tags=["endpoints"])
    async def patch(endpoint_id: str, changes: service.EndpointPatch, scope: Caller) -> dict[str, Any]:
        return (await found(service.update_endpoint(store, settings, endpoint_id, changes, agency=own(scope),
                                                    http=http))).public()

    @app.delete("/v1/endpoints/{endpoint_id}", status_code=204, tags=["endpoints"])
    async def delete(endpoint_id: str, scope: Caller) -> None:
        await found(service.remove(store, endpoint_id, own(scope)))

    @app.post("/v1/endpoints/{endpoint_id}/pause", response_model=EndpointOut, tags=["endpoints"])
    async def pause(endpoint_id: str, scope: Caller) -> dict[str, Any]:
        return (await found(service.pause(store, endpoint_id, own(scope)))).public()

    @app.post("/v1/endpoints/{endpoint_id}/resume", response_model=EndpointOut, tags=["endpoints"])
    async def resume(endpoint_id: str, scope: Caller) -> dict[str, Any]:
        return (await found(service.resume(store, endpoint_id, own(scope)))).public()

    @app.post("/v1/endpoints/{endpoint_id}/rotate-secret", response_model=SecretOut, tags=["endpoints"])
    async def rotate(endpoint_id: str, scope: Caller) -> dict[str, Any]:
        e = await found(service.rotate_secret(store, settings, endpoint_id, own(scope)))
        return {"secret": e.secret, "previous_valid_until": e.public()["rotating_until"]}

    @app.get("/v1/endpoints/{endpoint_id}/secret", response_model=SecretOut, tags=["endpoints"])
    async def secret(endpoint_id: str, scope: Caller) -> dict[str, Any]:
        e = await found(service.get_endpoint(store, endpoint_id, own(scope)))
        return {"secret": e.secret, "previous_valid_until": e.public()["rotating_until"]}

    @app.get("/v1/deliveries", response_model=DeliveryPage, tags=["deliveries"])
    async def deliveries(scope: Caller, endpoint_id: str | None = None,
                         state: Annotated[list[State] | None, Query()] = None, since: datetime | None = None,
                         until: datetime | None = None, limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
                         cursor: str | None = None) -> dict[str, Any]:
        if endpoint_id is not None:
            await found(service.get_endpoint(store, endpoint_id, own(scope)))
        try:
            page = await store.list_deliveries(endpoint_id=endpoint_id, agency=own(scope), states=state or (),
                                               since=_epoch(since), until=_epoch(until), limit=limit,
                                               cursor=cursor)
        except ValueError as exc:
            raise ApiError(422, "cursor", str(exc).removeprefix("cursor: ")) from None
        return {"deliveries": [d.public() for d in page.deliveries], "next_cursor": page.next_cursor}

    @app.get("/v1/deliveries/{delivery_id}", response_model=DeliveryDetail, tags=["deliveries"])
    async def delivery(delivery_id: str, scope: Caller) -> dict[str, Any]:
        d = await found(service.get_delivery(store, delivery_id, own(scope)))
        return {**d.public(), "attempt_log": [a.public() for a in await store.attempts(d.id)]}

    @app.post("/v1/deliveries/{delivery_id}/resend", status_code=202, response_model=DeliveryOut,
              tags=["deliveries"])
    async def resend(delivery_id: str, scope: Caller) -> dict[str, Any]:
        return (await found(service.resend(store, delivery_id, own(scope)))).public()

    @app.post("/v1/deliveries/recover", response_model=RecoverOut, tags=["deliveries"])
    async def recover(body: RecoverIn, scope: Caller) -> dict[str, Any]:
        count = await found(service.recover(store, since=_epoch(body.since) or 0.0, until=_epoch(body.until),
                                            endpoint_id=body.endpoint_id, agency=own(scope),
                                            dry_run=body.dry_run))
        return {"deliveries": count, "dry_run": body.dry_run}

    @app.get("/v1/notices", response_model=list[NoticeOut], tags=["notices"])
    async def notices(scope: Caller, limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
                      ) -> list[dict[str, Any]]:
        return [n.public() for n in await store.notices(own(scope), limit)]

    return app


def openapi() -> dict[str, Any]:
    """The API's OpenAPI document, as generated from the code."""
    from hub.delivery.db import SqliteDatabase
    from hub.delivery.sqlstore import SqlStore

    store = SqlStore(SqliteDatabase("/nonexistent/openapi.sqlite"))  # never opened
    return create_app(store, Settings.model_construct(), ApiTokens({})).openapi()
