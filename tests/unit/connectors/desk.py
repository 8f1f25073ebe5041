"""A village desk's intake API in-process for unit tests: the real FastAPI app over a real DeskService and
SQLite outbox (the forwarder and feed follower are not started: no broker), called through httpx's ASGI
transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path

import httpx

from hub.connectors.intake_api import DeskService, DeskTokens, create_app
from hub.connectors.outbox import Outbox
from hub.core.validation import make_kk, make_nik
from hub.settings import Settings

KETAPANG, BANJAR = "35.10.21.2003", "35.10.24.2004"
TOKENS = {KETAPANG: "tok-ketapang", BANJAR: "tok-banjar"}
NIK = make_nik("351021", date(1990, 7, 1), True, 1)
KK = make_kk("351021", date(2015, 1, 1), 1)


class DeskClient(httpx.AsyncClient):
    """An httpx client of one desk app, with the desk's outbox at hand."""

    outbox: Outbox


@asynccontextmanager
async def desk_client(tmp_path: Path, **headers: str) -> AsyncIterator[DeskClient]:
    tokens = DeskTokens(TOKENS)
    with Outbox(tmp_path / "desk.sqlite") as outbox:
        service = DeskService(Settings(), outbox, regions_served=tokens.regions, follow_feed=False)
        transport = httpx.ASGITransport(app=create_app(service, tokens))
        async with DeskClient(transport=transport, base_url="http://desk", headers=headers) as client:
            client.outbox = outbox
            yield client


def auth(token: str = "tok-ketapang") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def submission(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "region_code": KETAPANG, "desk_number": "2026-0001", "service_code": "DUKCAPIL_KTP_EL",
        "citizen": {"nik": NIK, "kk_number": KK, "name": "Siti Rahmawati"}}
    data.update(overrides)
    return data
