"""(c) HTTP callback integration: the agency POSTs each status update to the connector.

    POST /v1/agencies/{agency}/status-updates     body: a NativeUpdate as JSON (``update_id`` may be
                                                   left out: the ``webhook-id`` header is used)

Signed per Standard Webhooks (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``: HMAC-SHA256
over ``id.timestamp.body`` with the agency's ``whsec_`` secret; timestamps older or newer than 5
minutes are refused), verified with the ``standardwebhooks`` package over the raw bytes, before the body
is parsed. Answers 202 once the event is committed to the connector's durable outbox; 401 bad signature,
400 not JSON (or too deep, or a huge number), 404 unknown agency, 413 too large, 415 not JSON in UTF-8,
422 bad field (``{"errors": [{"field", "reason"}]}``). A retried delivery (same webhook id) yields the
same event id: harmless. FastAPI via :mod:`hub.http`, like every API of the hub.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi import Path as PathParam
from pydantic import BaseModel
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from hub.connectors.agency import AgencyConnector, NativeUpdate
from hub.connectors.village_desk import parse
from hub.errors import echo
from hub.http.body import check_media_type, parse_json, read_limited
from hub.http.errors import ApiError, error_responses, install


def generate_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, body: bytes, *, msg_id: str | None = None, at: datetime | None = None,
         ) -> dict[str, str]:
    """The Standard Webhooks headers for ``body`` (what an agency's client sends)."""
    msg_id = msg_id or f"msg_{secrets.token_hex(12)}"
    at = (at or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.replace(tzinfo=UTC).timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
            "content-type": "application/json"}


class Accepted(BaseModel):
    """Committed to the connector's outbox; forwarded to the hub when it is reachable."""

    request_id: str
    event_id: str
    status: str


class WebhookReceiver:
    """The agencies this connector process receives callbacks for: agency code -> (connector, verifier)."""

    def __init__(self, connectors: Mapping[str, tuple[AgencyConnector, str]]):
        self.agencies = {agency: (connector, Webhook(secret))
                         for agency, (connector, secret) in connectors.items()}

    async def status_update(self, agency: str, request: Request) -> Accepted:
        entry = self.agencies.get(agency)
        if entry is None:
            raise ApiError(404, "agency", f"no connector for agency {echo(agency)} here")
        connector, verifier = entry
        body = await read_limited(request)
        try:
            verifier.verify(body, dict(request.headers), json_parse=False)
        except WebhookVerificationError as exc:
            raise ApiError(401, "webhook-signature", str(exc)) from None
        except Exception as exc:  # malformed signature header
            raise ApiError(401, "webhook-signature", f"unreadable: {exc!r}") from None
        check_media_type(request.headers.get("content-type"))
        data = parse_json(body)
        if isinstance(data, dict):
            data.setdefault("update_id", request.headers["webhook-id"])
        update = parse(NativeUpdate, data)  # ValidationErrors: 422 naming each field
        assert isinstance(update, NativeUpdate)
        event = (await asyncio.to_thread(connector.accept, [update]))[0]
        return Accepted(request_id=event.request_id, event_id=event.event_id, status=event.status.value)


def _receiver(request: Request) -> WebhookReceiver:
    receiver: WebhookReceiver = request.app.state.webhooks
    return receiver


router = APIRouter()


@router.post("/v1/agencies/{agency}/status-updates", status_code=202,
             summary="A status update of a request, signed per Standard Webhooks",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": NativeUpdate.model_json_schema()}}}},
             responses=error_responses((400, "body is not JSON"), (401, "bad or missing signature"),
                                       (404, "no connector for this agency here"), (413, "body too large"),
                                       (415, "body is not JSON in UTF-8"), (422, "invalid field(s)")))
async def status_update(agency: Annotated[str, PathParam(max_length=64)], request: Request,
                        receiver: Annotated[WebhookReceiver, Depends(_receiver)]) -> Accepted:
    return await receiver.status_update(agency, request)


def create_app(connectors: Mapping[str, tuple[AgencyConnector, str]]) -> FastAPI:
    """``connectors``: agency code -> (its connector, its webhook secret); run it with ``ApiServer``."""
    app = FastAPI(title="Agency status-update callbacks", version="1.0.0", docs_url=None, redoc_url=None)
    app.state.webhooks = WebhookReceiver(connectors)
    install(app)
    app.include_router(router)
    return app


def openapi() -> dict[str, Any]:
    """The callback API's OpenAPI document, from its models (``docs/openapi-agency-webhook.json``)."""
    return create_app({}).openapi()
