"""Each agency connector round-trips a request from its topic to a status update on intake, in each
integration style: (a) Kafka client, (b) SQL outbox in a real PostgreSQL, (c) signed HTTP callback."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

import asyncpg
import httpx

from hub.connectors import bpjs, dukcapil, pln, pudam
from hub.connectors.agency import AgencyConnector, NativeUpdate
from hub.connectors.publisher import Publisher
from hub.connectors.sql_outbox import SqlOutboxPoller
from hub.connectors.webhook import create_app, generate_secret, sign
from hub.core.models import RequestLifecycleEvent
from hub.dev.simulator import village_requests
from hub.http.server import ApiServer
from hub.wire.clients import registry
from hub.wire.codec import Codec
from hub.wire.tail import collect

MODULES = [dukcapil, pln, pudam, bpjs]
SERVICE = {"dukcapil": "DUKCAPIL_AKTA_KELAHIRAN", "pln": "PLN_PASANG_BARU_TANPA_PERLUASAN",
           "pudam": "PUDAM_SAMBUNGAN_BARU", "bpjs_kesehatan": "BPJS_KESEHATAN_GANTI_FASKES"}
ANSWER = {"dukcapil": ("TTE", "APPROVED"), "pln": ("SURVEY", "IN_PROCESS"),
          "pudam": ("TAGIHAN", "WAITING_EXTERNAL"), "bpjs_kesehatan": ("VERIF", "VERIFIED")}


# -- helpers -----------------------------------------------------------------------------------------
async def _setup(make_settings):
    return make_settings(topic_partitions=1)


def _as_agency(as_principal, settings, module):
    """The agency's connector runs as the agency's own principal."""
    return as_principal(settings, f"agency-{module.PROFILE.agency}")


async def _route_requests(settings, seed: int) -> dict[str, RequestLifecycleEvent]:
    """One request per agency on its agency topic, as the hub worker would have routed it."""
    requests = {}
    for module, base in zip(MODULES, village_requests(len(MODULES), seed=seed), strict=True):
        agency = module.PROFILE.agency
        event = base.model_copy(update={"service_code": SERVICE[agency], "agency": agency})
        async with Publisher(settings, "test", "/smart-kampung/test",
                             topic=settings.agency_topic(agency)) as p:
            await p.publish(event)
        requests[agency] = event
    return requests


async def _answers(settings, requests) -> dict[str, RequestLifecycleEvent]:
    sources = {m.PROFILE.source: m.PROFILE.agency for m in MODULES}
    intake = [settings.agency_intake_topic(m.PROFILE.agency) for m in MODULES]
    records = await collect(settings, intake, timeout=90,
                            until=lambda rs: {r.headers["ce_source"] for r in rs} >= set(sources))
    codec = Codec(registry(settings))
    out = {}
    for r in records:
        event = RequestLifecycleEvent.from_avro(codec.decode(r.value).record)
        assert r.headers["ce_id"] == event.event_id and r.key == event.request_id.encode()
        out[sources[r.headers["ce_source"]]] = event
    assert set(out) == set(requests)
    for agency, event in out.items():
        native, canonical = ANSWER[agency]
        request = requests[agency]
        assert (event.request_id, event.service_code, event.region_code) == (
            request.request_id, request.service_code, request.region_code)
        assert (event.native_status, event.status.value, event.agency) == (native, canonical, agency)
        assert event.citizen is None
    return out


async def _until(predicate, timeout=60.0):
    end = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < end, "gave up waiting"
        await asyncio.sleep(0.2)


def _update(agency, request) -> NativeUpdate:
    return NativeUpdate(request_id=request.request_id, update_id="u-1", native_status=ANSWER[agency][0],
                        occurred_at=datetime.now(UTC))


# -- (a) Kafka client ----------------------------------------------------------------------------------
async def test_kafka_client_style_round_trip(make_settings, tmp_path, as_principal):
    settings = await _setup(make_settings)
    connectors: list[AgencyConnector] = []

    def handler_for(module):
        async def on_request(event: RequestLifecycleEvent) -> None:  # the agency's own code
            await connectors_by_agency[module.PROFILE.agency].report(_update(module.PROFILE.agency, event))
        return on_request

    connectors_by_agency = {}
    for module in MODULES:
        c = module.connector(_as_agency(as_principal, settings, module), tmp_path,
                             on_request=handler_for(module))
        connectors_by_agency[module.PROFILE.agency] = c
        connectors.append(await c.start())
    try:
        requests = await _route_requests(settings, seed=41)
        await _answers(settings, requests)
    finally:
        for c in connectors:
            await c.stop()


# -- (b) SQL outbox --------------------------------------------------------------------------------------
async def test_sql_outbox_style_round_trip(make_settings, tmp_path, postgres, as_principal):
    settings = await _setup(make_settings)
    started = []
    for module in MODULES:
        dbname = f"agency_{module.PROFILE.agency}"
        admin = await asyncpg.connect(postgres)
        await admin.execute(f"DROP DATABASE IF EXISTS {dbname}")
        await admin.execute(f"CREATE DATABASE {dbname}")
        await admin.close()
        dsn = postgres.rsplit("/", 1)[0] + f"/{dbname}"
        connector = module.connector(_as_agency(as_principal, settings, module), tmp_path)
        poller = await SqlOutboxPoller(connector, dsn, poll_s=0.2).start()
        await connector.start()
        stopping = asyncio.Event()
        started.append((module, connector, poller, stopping, asyncio.create_task(poller.run(stopping)), dsn))
    try:
        requests = await _route_requests(settings, seed=42)
        for module, _connector, _poller, _stopping, _task, dsn in started:
            agency = module.PROFILE.agency
            db = await asyncpg.connect(dsn)
            try:
                async def arrived(db=db) -> bool:
                    return await db.fetchval("SELECT count(*) FROM hub_inbox") == 1
                await _until(arrived)
                inbox = await db.fetchrow("SELECT * FROM hub_inbox")
                assert inbox["request_id"] == requests[agency].request_id
                assert json.loads(inbox["citizen"])  # the fields the service needs reached the agency
                async with db.transaction():  # the agency's business write + outbox row, atomically
                    await db.execute("CREATE TABLE IF NOT EXISTS permohonan "
                                     "(id text PRIMARY KEY, status text)")
                    await db.execute("INSERT INTO permohonan VALUES ($1, $2)",
                                     inbox["request_id"], ANSWER[agency][0])
                    await db.execute("INSERT INTO hub_outbox (request_id, native_status) VALUES ($1, $2)",
                                     inbox["request_id"], ANSWER[agency][0])
                    await db.execute("INSERT INTO hub_outbox (request_id, native_status) "
                                     "VALUES ($1, 'MELEDAK')", inbox["request_id"])

                async def marked(db=db) -> bool:
                    return await db.fetchval("SELECT count(*) FROM hub_outbox WHERE published_at IS NOT NULL "
                                             "OR error IS NOT NULL") == 2
                await _until(marked)
                bad = await db.fetchrow("SELECT * FROM hub_outbox WHERE error IS NOT NULL")
                assert bad["native_status"] == "MELEDAK" and bad["error"].startswith("native_status:")
            finally:
                await db.close()
        await _answers(settings, requests)
    finally:
        for _, connector, poller, stopping, task, _ in started:
            stopping.set()
            await task
            await poller.close()
            await connector.stop()


# -- (c) HTTP callback -----------------------------------------------------------------------------------
async def test_http_callback_style_round_trip(make_settings, tmp_path, as_principal):
    settings = await _setup(make_settings)
    secrets = {m.PROFILE.agency: generate_secret() for m in MODULES}
    connectors = {m.PROFILE.agency: await m.connector(_as_agency(as_principal, settings, m), tmp_path).start()
                  for m in MODULES}
    server = await ApiServer(create_app({a: (c, secrets[a]) for a, c in connectors.items()})).start()
    port = server.port
    try:
        requests = await _route_requests(settings, seed=43)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for agency, connector in connectors.items():
                async def seen(connector=connector, agency=agency) -> bool:
                    return bool(connector.known(requests[agency].request_id))
                await _until(seen)
                body = _update(agency, requests[agency]).model_dump_json(exclude={"update_id"}).encode()
                r = await http.post(f"/v1/agencies/{agency}/status-updates", content=body,
                                    headers=sign(secrets[agency], body))
                assert r.status_code == 202, r.text
                forged = await http.post(f"/v1/agencies/{agency}/status-updates", content=body,
                                         headers=sign(generate_secret(), body))
                assert forged.status_code == 401
        await _answers(settings, requests)
    finally:
        await server.stop()
        for c in connectors.values():
            await c.stop()
