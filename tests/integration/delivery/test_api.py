"""The admin API over real HTTP and the CLI as a real process, both with a real receiver answering the
verification challenge: scopes (admin, one agency), the one error shape, SSRF refusals, endpoint life
(pause, resume, rotate, patch, remove), deliveries (list, show with the attempt log, resend, recover)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from hub.delivery.api import create_app
from hub.delivery.model import Attempt, Delivery, State
from hub.delivery.receiver import Receiver
from hub.delivery.signing import generate_secret
from hub.delivery.tokens import ApiTokens
from hub.http.server import ApiServer
from hub.settings import Settings
from tests.integration.delivery.tools import AGENCY, opened

TOKENS = {"admin": "admin-" + "a" * 30, AGENCY: "dukcapil-" + "d" * 30, "pln": "pln-" + "p" * 30}


def auth(scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[scope]}"}


@pytest.fixture
async def api(delivery_settings) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    settings = delivery_settings()
    store = await opened(settings)
    server = await ApiServer(create_app(store, settings, ApiTokens(TOKENS))).start()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield client, settings
    await server.stop()
    await store.close()


def errors(response: httpx.Response) -> list[tuple[str, str]]:
    return [(e["field"], e["reason"]) for e in response.json()["errors"]]


async def test_tokens_scope_what_a_caller_sees_and_does(api, receivers):
    client, _ = api
    secret = generate_secret()
    endpoint = await receivers(Receiver([secret]))
    spec = {"agency": AGENCY, "url": endpoint.url, "secret": secret, "mode": "fifo",
            "filters": {"statuses": ["submitted", "COMPLETED"]}}
    assert (await client.post("/v1/endpoints", json=spec)).status_code == 401
    assert (await client.get("/v1/endpoints", headers={"Authorization": "Bearer nope"})).status_code == 401
    refused = await client.post("/v1/endpoints", json=spec, headers=auth("pln"))
    assert refused.status_code == 403 and errors(refused)[0][0] == "agency"
    created = await client.post("/v1/endpoints", json=spec, headers=auth(AGENCY))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"] == secret and body["mode"] == "fifo" and endpoint.receiver.challenges == 1
    assert body["filters"]["statuses"] == ["COMPLETED", "SUBMITTED"]
    ep = body["id"]
    assert (await client.get(f"/v1/endpoints/{ep}", headers=auth("pln"))).status_code == 404
    assert (await client.get("/v1/endpoints", headers=auth("pln"))).json() == []
    assert [e["id"] for e in (await client.get("/v1/endpoints", headers=auth("admin"))).json()] == [ep]
    shown = (await client.get(f"/v1/endpoints/{ep}", headers=auth(AGENCY))).json()
    assert "secret" not in shown and shown["status"] == "active"
    for path, status in (("pause", "paused"), ("resume", "active")):
        answer = await client.post(f"/v1/endpoints/{ep}/{path}", headers=auth(AGENCY))
        assert answer.json()["status"] == status
    rotated = (await client.post(f"/v1/endpoints/{ep}/rotate-secret", headers=auth(AGENCY))).json()
    assert rotated["secret"] != secret and rotated["previous_valid_until"]
    assert (await client.get(f"/v1/endpoints/{ep}/secret", headers=auth("admin"))).json() == rotated
    patched = await client.patch(f"/v1/endpoints/{ep}", headers=auth(AGENCY),
                                 json={"filters": {"regions": ["35.10.21"]}, "rate_limit": 5})
    assert patched.json()["filters"]["regions"] == ["35.10.21"] and patched.json()["rate_limit"] == 5
    assert (await client.delete(f"/v1/endpoints/{ep}", headers=auth("pln"))).status_code == 404
    assert (await client.delete(f"/v1/endpoints/{ep}", headers=auth(AGENCY))).status_code == 204
    assert (await client.get(f"/v1/endpoints/{ep}", headers=auth("admin"))).status_code == 404


async def test_bad_input_is_a_4xx_naming_the_field(api, receivers):
    client, settings = api
    down = await receivers(Receiver(), up=False)
    spec = {"agency": AGENCY, "url": down.url}
    unreachable = await client.post("/v1/endpoints", json=spec, headers=auth("admin"))
    assert unreachable.status_code == 422 and errors(unreachable)[0][0] == "url"
    assert "verification" in errors(unreachable)[0][1]
    cases = [({**spec, "filters": {"service_codes": ["PLN_PASANG_BARU_TANPA_PERLUASAN"]}},
              "filters.service_codes"),
             ({**spec, "mode": "weird"}, "mode"), ({**spec, "agency": "x" * 500}, "agency"),
             ({**spec, "agency": "nope"}, "agency"), ({**spec, "secret": "whsec_short"}, "secret"),
             ({**spec, "url": "ftp://" + "z" * 5000}, "url"), ({**spec, "surprise": 1}, "surprise")]
    for bad, field in cases:
        answer = await client.post("/v1/endpoints", json=bad, headers=auth("admin"))
        assert answer.status_code == 422 and errors(answer)[0][0] == field, (field, answer.text)
        assert len(answer.text) < 1200 and "z" * 300 not in answer.text
    assert (await client.get("/v1/deliveries?cursor=garbage", headers=auth("admin"))).status_code == 422
    # The default policy (no HUB_DELIVERY_ALLOW_*) refuses loopback and http before any request is made.
    strict = settings.model_copy(update={"delivery_allow_http": False,
                                         "delivery_allow_private_networks": False})
    server = await ApiServer(create_app(await opened(strict), strict, ApiTokens(TOKENS))).start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as other:
            for url, why in ((down.url, "scheme"), ("https://127.0.0.1/h", "127.0.0.1"),
                             ("https://169.254.169.254/latest", "169.254.169.254"),
                             ("https://localhost/h", "127")):
                answer = await other.post("/v1/endpoints", json={**spec, "url": url}, headers=auth("admin"))
                assert answer.status_code == 422 and errors(answer)[0][0] == "url" and why in answer.text, url
    finally:
        await server.stop()


def delivery(n: int, state: State, created: float, agency: str = AGENCY, ep: str = "ep_x") -> Delivery:
    return Delivery(id=f"dl_{n:03d}", endpoint_id=ep, agency=agency, request_id=f"R{n}", ce_source="/s",
                    ce_id=f"evt-{n}", ce_type="t", seq=1, topic="t", partition=0, offset=n, state=state,
                    attempts=10 if state is State.EXHAUSTED else 1, created_at=created, updated_at=created,
                    payload="{}" if state is State.EXHAUSTED else None)


async def test_deliveries_list_show_resend_and_recover(api):
    client, settings = api
    store = await opened(settings)
    t0 = time.time() - 600
    async with store.unit() as unit:
        await unit.insert([delivery(n, State.EXHAUSTED if n % 3 == 0 else State.DELIVERED, t0 + n)
                           for n in range(1, 13)]
                          + [delivery(99, State.EXHAUSTED, t0, agency="pln", ep="ep_p")])
        await unit.log([Attempt("dl_003", "ep_x", "evt-3", 10, t0 + 5, 30, "exhausted", 500, None, "busy")])
    await store.close()
    page = (await client.get("/v1/deliveries?limit=5", headers=auth(AGENCY))).json()
    assert len(page["deliveries"]) == 5 and page["next_cursor"]
    rest = (await client.get(f"/v1/deliveries?limit=50&cursor={page['next_cursor']}",
                             headers=auth(AGENCY))).json()
    assert len(rest["deliveries"]) == 7 and rest["next_cursor"] is None  # not the pln one
    exhausted = (await client.get("/v1/deliveries?state=exhausted", headers=auth("admin"))).json()
    assert len(exhausted["deliveries"]) == 5
    shown = (await client.get("/v1/deliveries/dl_003", headers=auth(AGENCY))).json()
    assert shown["state"] == "exhausted" and shown["attempt_log"][0]["response"] == "busy"
    assert "payload" not in shown
    assert (await client.get("/v1/deliveries/dl_099", headers=auth(AGENCY))).status_code == 404
    resent = await client.post("/v1/deliveries/dl_003/resend", headers=auth(AGENCY))
    assert resent.status_code == 202 and resent.json()["state"] == "scheduled"
    window = {"since": _iso(t0), "until": _iso(t0 + 10)}
    dry = await client.post("/v1/deliveries/recover", json={**window, "dry_run": True}, headers=auth(AGENCY))
    assert dry.json() == {"deliveries": 2, "dry_run": True}  # dl_006 and dl_009 (dl_003 is due already)
    done = (await client.post("/v1/deliveries/recover", json=window, headers=auth("admin"))).json()
    assert done == {"deliveries": 3, "dry_run": False}  # the admin's window also holds pln's dl_099
    assert (await client.get("/v1/notices", headers=auth(AGENCY))).json() == []


def _iso(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).isoformat()


async def hub(settings: Settings, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub", *args, env={**settings.to_env(), "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode()


async def test_the_cli_manages_endpoints_and_deliveries(delivery_settings, receivers):
    settings = delivery_settings()
    secret = generate_secret()
    endpoint = await receivers(Receiver([secret]))
    code, out = await hub(settings, "subscriptions", "add", "--agency", AGENCY, "--url", endpoint.url,
                          "--status", "SUBMITTED", "--region", "35.10.21", "--mode", "fifo",
                          "--secret", secret)
    assert code == 0, out
    created = json.loads(out)
    ep = created["id"]
    assert created["secret"] == secret and endpoint.receiver.challenges == 1
    code, out = await hub(settings, "subscriptions", "add", "--agency", AGENCY, "--url", "ftp://x.example/h")
    assert code != 0 and "url" in out
    code, out = await hub(settings, "subscriptions", "list")
    assert ep in out and "fifo" in out and "1 endpoints" in out
    assert "paused" in (await hub(settings, "subscriptions", "pause", ep))[1]
    assert "active" in (await hub(settings, "subscriptions", "resume", ep))[1]
    rotated = json.loads((await hub(settings, "subscriptions", "rotate-secret", ep))[1])
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != secret
    store = await opened(settings)
    async with store.unit() as unit:
        await unit.insert([replace(delivery(1, State.EXHAUSTED, time.time() - 60), endpoint_id=ep)])
    await store.close()
    assert "dl_001" in (await hub(settings, "deliveries", "list", "--state", "exhausted"))[1]
    assert json.loads((await hub(settings, "deliveries", "show", "dl_001"))[1])["state"] == "exhausted"
    assert "1 deliveries would be sent again" in (await hub(settings, "deliveries", "recover", "--since",
                                                            _iso(time.time() - 3600), "--dry-run"))[1]
    assert "due now" in (await hub(settings, "deliveries", "resend", "dl_001"))[1]
    assert "removed" in (await hub(settings, "subscriptions", "remove", ep, "--yes"))[1]
    assert "0 endpoints" in (await hub(settings, "subscriptions", "list"))[1]
