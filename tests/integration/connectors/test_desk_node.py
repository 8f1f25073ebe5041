"""The village desk node on the real broker: HTTP submit -> outbox -> intake; the agency's answer on
the MPP feed -> the desk's status look-up."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

import httpx

from hub.connectors.intake_api import DeskService, DeskTokens, create_app
from hub.connectors.outbox import Outbox
from hub.connectors.publisher import Publisher
from hub.core.lifecycle import Status
from hub.core.validation import make_kk, make_nik
from hub.http.server import ApiServer
from hub.wire.tail import collect

KETAPANG = "35.10.21.2003"


async def test_desk_submits_through_its_outbox_and_reads_status_from_the_feed(make_settings, tmp_path,
                                                                               as_principal):
    settings = make_settings(topic_partitions=1)
    intake = settings.desk_intake_topic("banyuwangi")
    tokens = DeskTokens({KETAPANG: "tok"})
    outbox = Outbox(tmp_path / "desk.sqlite")
    service = DeskService(as_principal(settings, "desk-banyuwangi"), outbox, regions_served=tokens.regions)
    await service.start()
    server = await ApiServer(create_app(service, tokens), "127.0.0.1", 0).start()  # a real server on loopback
    port = server.port
    try:
        body = {"region_code": KETAPANG, "desk_number": "INT-1", "service_code": "DUKCAPIL_KK",
                "citizen": {"nik": make_nik("351021", datetime(1988, 5, 4).date(), False, 7),
                            "kk_number": make_kk("351021", datetime(2012, 2, 2).date(), 7), "name": "Budi"}}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                     headers={"Authorization": "Bearer tok"}) as http:
            r = await http.post("/v1/requests", json=body)
            assert r.status_code == 202, r.text
            submitted = r.json()
            records = await collect(settings, [intake], until=lambda rs: len(rs) >= 1, timeout=60)
            assert [(x.key.decode(), x.headers["ce_id"], x.headers["ce_source"]) for x in records] == [
                (submitted["request_id"], submitted["event_id"], f"/smart-kampung/{KETAPANG}")]

            # The hub's feed carries the agency's answer (as the worker would publish it).
            own = outbox.events_of(submitted["request_id"])[0][0]
            answer = own.model_copy(update={"event_id": "siak-1", "status": Status.IN_PROCESS,
                                            "citizen": None,
                                            "native_status": "REKAM", "source_system": "siak-dukcapil",
                                            "occurred_at": own.occurred_at + timedelta(seconds=1)})
            async with Publisher(settings, "test", "/agency/dukcapil/siak-dukcapil",
                                 topic=settings.topic_feed) as p:
                await p.publish(answer)
            end = time.monotonic() + 60
            while (status := (await http.get(f"/v1/requests/{submitted['request_id']}")).json()
                   )["status"] != "IN_PROCESS":
                assert time.monotonic() < end, status
                await asyncio.sleep(0.2)
            assert [h["status"] for h in status["history"]] == ["SUBMITTED", "IN_PROCESS"]
            assert all(h["delivered"] for h in status["history"])
    finally:
        await server.stop()
        await service.stop()
        outbox.close()
