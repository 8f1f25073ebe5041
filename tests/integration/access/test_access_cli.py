"""`hub access` as an operator runs it, against the real broker and Keycloak: apply is idempotent, list shows
what the brokers hold, rotate changes the password in force, revoke takes everything away, and a suspended
principal stays revoked through the next apply."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from click.testing import CliRunner

from hub.access.apply import Access
from hub.access.catalogue import find
from hub.access.credentials import store_of
from hub.cli import main
from hub.settings import get_settings
from hub.wire.clients import kafka_options, registry


def _cli(settings, *args: str):  # type: ignore[no-untyped-def]
    get_settings.cache_clear()  # the command reads HUB_* from the environment given here
    try:
        return CliRunner().invoke(main, ["access", *args], env=settings.to_env(), catch_exceptions=False)
    finally:
        get_settings.cache_clear()


async def _connects(settings) -> bool:  # type: ignore[no-untyped-def]
    producer = AIOKafkaProducer(**kafka_options(settings), request_timeout_ms=5000)
    try:
        await asyncio.wait_for(producer.start(), 20)
        return True
    except (KafkaError, asyncio.TimeoutError):
        return False
    finally:
        await producer.stop()


async def test_apply_list_rotate_revoke_and_suspend(make_settings):
    settings = make_settings(topic_partitions=1)
    again = await asyncio.to_thread(_cli, settings, "apply")
    assert again.exit_code == 0 and "0 ACLs added" in again.output  # idempotent: provisioned already
    listed = await asyncio.to_thread(_cli, settings, "list")
    assert "agency-pln" in listed.output and "NOT APPLIED" not in listed.output
    assert f"READ topic {settings.agency_topic('pln')}" in listed.output

    store = store_of(settings)
    old = store.settings_for(settings, "agency-pln")
    rotated = await asyncio.to_thread(_cli, settings, "rotate", "agency:pln")
    assert rotated.exit_code == 0
    new = store.settings_for(settings, "agency-pln")
    assert await _connects(new) and not await _connects(old)
    assert registry(new).subjects()  # the registry (Keycloak) knows the new secret too

    suspended = settings.model_copy(update={"access_suspended": "agency-pln"})
    with Access(suspended, store) as access:
        await asyncio.to_thread(access.apply)
        has, held = access.held(find(settings, "agency-pln"))
    assert not has and not held and not store.exists("agency-pln")
    assert not await _connects(new)
    with Access(settings, store) as access:  # lifted: granted again, with a fresh password
        await asyncio.to_thread(access.apply)
    assert await _connects(store.settings_for(settings, "agency-pln"))

    revoked = await asyncio.to_thread(_cli, settings, "revoke", "--yes", "agency:pln")
    assert revoked.exit_code == 0 and "ACLs and the credential removed" in revoked.output
    with pytest.raises(LookupError):
        find(settings, "agency:nowhere")
