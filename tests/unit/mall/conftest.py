"""Shared mall traffic: simulated requests run through the hub's real lifecycle engine offline
(``hub.dev.feed``), decoded into the view's items as the follower would."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.dev.feed import traffic
from hub.mall.consumer import Decoder
from hub.mall.view import Item
from hub.settings import Settings

SETTINGS = Settings(citizen_ref_key="mall-unit-test-key", topic_partitions=3)
NOW = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)  # Wednesday 10:00 WIB


def decode(hub) -> list[Item]:  # type: ignore[no-untyped-def]
    decoder = Decoder(SETTINGS, hub.codec)
    return [decoder.item(w.topic, w.partition, w.offset, w.value, w.headers) for w in hub.written
            if w.topic in decoder.topics]


@pytest.fixture(scope="session")
def offline_hub():  # type: ignore[no-untyped-def]
    return traffic(SETTINGS, seed=11, rate=12.0, duration=20.0, backlog=16, journeys=4, now=NOW)


@pytest.fixture(scope="session")
def items(offline_hub) -> list[Item]:  # type: ignore[no-untyped-def]
    return decode(offline_hub)
