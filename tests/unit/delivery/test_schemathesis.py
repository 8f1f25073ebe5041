"""Schemathesis over the push-delivery admin API (``hub.delivery.api``, ``docs/openapi-delivery.json``)
against the real server (uvicorn, a SQLite store holding one verified endpoint of a reference receiver and
a delivery to it): whatever it sends, as the admin, as an agency or with no token, no answer is a 5xx."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from hub.delivery import service
from hub.delivery.api import create_app, openapi
from hub.delivery.model import Delivery, State
from hub.delivery.receiver import PATH, Receiver
from hub.delivery.signing import generate_secret
from hub.delivery.store import open_store
from hub.delivery.tokens import ApiTokens
from hub.http.server import ApiServer
from hub.settings import Settings
from tests.support.threaded import ThreadedServer

TOKENS = {"admin": "admin-" + "a" * 30, "dukcapil": "dukcapil-" + "d" * 30}
schema = schemathesis.openapi.from_dict(openapi())


@pytest.fixture(scope="module")
def admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("delivery-api")
    config = Settings(delivery_store=f"sqlite:///{folder}/delivery.sqlite", worker_data_dir=folder,
                      delivery_allow_http=True, delivery_allow_private_networks=True,
                      delivery_verify_timeout_seconds=1.0, metrics_port=0)

    async def start() -> tuple[str, Callable[[], Awaitable[None]]]:
        store = open_store(config)
        await store.open()
        secret = generate_secret()
        receiver = await ApiServer(Receiver([secret]).app).start()
        endpoint = await service.create_endpoint(store, config, service.EndpointIn(
            agency="dukcapil", url=f"{receiver.url}{PATH}", secret=secret))
        now = time.time()
        async with store.unit() as unit:  # one exhausted delivery: something to list, show and resend
            await unit.insert([Delivery("delivery-1", endpoint.id, "dukcapil", "request-1", "/hub/worker",
                                        "event-1", "id.go.banyuwangikab.hub.request.lifecycle", 1,
                                        "agency.dukcapil.v1", 0, 0, State.EXHAUSTED, attempts=10,
                                        created_at=now, updated_at=now)])
        server = await ApiServer(create_app(store, config, ApiTokens(TOKENS))).start()

        async def stop() -> None:
            await server.stop()
            await receiver.stop()
            await store.close()

        return server.url, stop

    with ThreadedServer(start) as url:
        yield url


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_input_makes_a_server_error(case: Any, admin_url: str) -> None:
    for token in (TOKENS["admin"], TOKENS["dukcapil"], None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = case.call(base_url=admin_url, headers=headers, timeout=15)
        assert response.status_code < 500, (case.method, case.formatted_path, response.status_code,
                                            response.text[:300])
