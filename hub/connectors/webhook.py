"""(c) HTTP callback integration: the agency POSTs each status update to the connector.

    POST /v1/agencies/{agency}/status-updates     body: a NativeUpdate as JSON (``update_id`` may be
                                                   left out: the ``webhook-id`` header is used)

Signed per Standard Webhooks (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``: HMAC-SHA256
over ``id.timestamp.body`` with the agency's ``whsec_`` secret; timestamps older or newer than 5
minutes are refused), verified with the ``standardwebhooks`` package. Answers 202 once the event is
committed to the connector's durable outbox; 401 bad signature, 400 not JSON, 404 unknown agency,
422 bad field (``{"errors": [{"field", "reason"}]}``). A retried delivery (same webhook id) yields the
same event id: harmless.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime

from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from hub.connectors.agency import AgencyConnector, NativeUpdate
from hub.connectors.village_desk import parse
from hub.core.errors import ValidationError, ValidationErrors

AGENCIES = web.AppKey("agencies", dict)


def generate_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, body: bytes, *, msg_id: str | None = None, at: datetime | None = None) -> dict[str, str]:
    """The Standard Webhooks headers for ``body`` (what an agency's client sends)."""
    msg_id = msg_id or f"msg_{secrets.token_hex(12)}"
    at = (at or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.replace(tzinfo=UTC).timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
            "content-type": "application/json"}


def _errors(status: int, errors: list[dict[str, str]]) -> web.Response:
    return web.json_response({"errors": errors}, status=status)


async def status_update(request: web.Request) -> web.Response:
    agency = request.match_info["agency"]
    entry = request.app[AGENCIES].get(agency)
    if entry is None:
        return _errors(404, [{"field": "agency", "reason": f"no connector for agency {agency!r} here"}])
    connector, verifier = entry
    body = await request.read()
    try:
        verifier.verify(body, dict(request.headers), json_parse=False)
    except WebhookVerificationError as exc:
        return _errors(401, [{"field": "webhook-signature", "reason": str(exc)}])
    except Exception as exc:  # malformed signature header
        return _errors(401, [{"field": "webhook-signature", "reason": f"unreadable: {exc!r}"}])
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return _errors(400, [{"field": "(body)", "reason": f"not JSON: {exc}"}])
    if isinstance(data, dict):
        data.setdefault("update_id", request.headers["webhook-id"])
    try:
        update = parse(NativeUpdate, data)
        event = (await asyncio.to_thread(connector.accept, [update]))[0]
    except ValidationErrors as exc:
        return _errors(422, exc.as_dicts())
    except ValidationError as exc:
        return _errors(422, [exc.as_dict()])
    return web.json_response({"request_id": event.request_id, "event_id": event.event_id,
                              "status": event.status.value}, status=202)


def create_app(connectors: Mapping[str, tuple[AgencyConnector, str]]) -> web.Application:
    """``connectors``: agency code -> (its connector, its webhook secret)."""
    app = web.Application(client_max_size=64 * 1024)
    app[AGENCIES] = {agency: (connector, Webhook(secret)) for agency, (connector, secret) in connectors.items()}
    app.router.add_post("/v1/agencies/{agency}/status-updates", status_update)
    return app
