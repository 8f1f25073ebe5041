"""Schemathesis over the mall's OpenAPI document against the real server (uvicorn, SQLite view filled with
engine-generated traffic): whatever it sends, signed in as a manager or not at all, no answer is a 5xx.
(The never-ending live stream is left out: tests/integration/mall/test_stream.py covers it.)"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from hub.dev.feed import traffic
from hub.mall.api import openapi
from hub.mall.auth import StaffDirectory, digest
from hub.mall.service import MallService
from hub.settings import Settings
from tests.support.threaded import ThreadedServer
from tests.unit.mall.conftest import NOW, SETTINGS, decode

TOKEN = "schemathesis-manager-token"
schema = schemathesis.openapi.from_dict(openapi()).exclude(path="/v1/stream")


@pytest.fixture(scope="module")
def mall_url(tmp_path_factory):
    items = decode(traffic(SETTINGS, seed=3, rate=8.0, duration=10.0, backlog=6, journeys=2, now=NOW))
    config = Settings(**{**SETTINGS.model_dump(), "mall_port": 0, "metrics_port": 0,
                         "mall_database": f"sqlite:{tmp_path_factory.mktemp('st') / 'mall.sqlite'}"})

    async def start():
        staff = StaffDirectory([{"name": "m", "role": "manager", "token_sha256": digest(TOKEN)}])
        service = MallService(config, staff=staff, follow=False)
        await service.start()
        await service.store.apply(items, {})
        return service.url, service.stop

    with ThreadedServer(start) as url:
        yield url


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(case, mall_url):
    for headers in ({"Authorization": f"Bearer {TOKEN}"}, {}):
        response = case.call(base_url=mall_url, headers=headers, timeout=10)
        assert response.status_code < 500, (case.method, case.formatted_path, response.status_code,
                                            response.text)
