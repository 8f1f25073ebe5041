"""Fixtures of the push-delivery integration tests (real broker and registry, real HTTP receivers on
loopback; helpers in ``tools``).

* ``delivery_settings(**overrides)``: an isolated hub (own topics, group, SQLite store) whose SSRF policy
  allows loopback and http (the receivers here), with time compressed so the three-day schedule fits.
* ``receivers(receiver=None, up=True)``: start a :class:`tools.Endpoint` on a loopback port; all are
  stopped after the test.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from hub.delivery.receiver import Receiver
from hub.settings import Settings
from tests.integration.delivery.tools import Endpoint


@pytest.fixture
def delivery_settings(make_settings: Callable[..., Settings], tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = dict(
            topic_partitions=3, delivery_allow_http=True, delivery_allow_private_networks=True,
            delivery_store=f"sqlite:///{tmp_path}/delivery-{time.monotonic_ns()}.sqlite",
            delivery_time_compression=1000.0, delivery_poll_seconds=0.2, delivery_refresh_seconds=0.3,
            delivery_verify_timeout_seconds=5.0)
        values.update(overrides)
        return make_settings(**values)

    return make


@pytest.fixture
async def receivers() -> AsyncIterator[Callable[..., Any]]:
    started: list[Endpoint] = []

    async def start(receiver: Receiver | None = None, *, up: bool = True) -> Endpoint:
        endpoint = Endpoint(receiver or Receiver())
        started.append(endpoint)
        return await endpoint.up() if up else endpoint

    yield start
    for endpoint in started:
        await endpoint.down()
