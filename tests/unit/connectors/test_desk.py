"""The village-desk intake API and CSV import: validation, authorisation, OpenAPI (no Kafka involved:
the API only commits to the desk's outbox)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.connectors import csv_import
from hub.connectors.intake_api import openapi
from hub.connectors.outbox import Outbox
from tests.unit.connectors.desk import BANJAR, KETAPANG, KK, NIK, auth, desk_client
from tests.unit.connectors.desk import submission as body

OPENAPI_FILE = Path(__file__).resolve().parents[3] / "docs" / "openapi-village-desk.json"


@pytest.fixture
async def client(tmp_path):
    async with desk_client(tmp_path) as c:  # the real app over httpx's ASGI transport
        yield c


async def test_submit_is_queued_once_and_status_readable(client):
    r = await client.post("/v1/requests", json=body(), headers=auth())
    assert r.status_code == 202, r.text
    answer = r.json()
    assert answer["request_id"] == "SK-3510212003-2026-0001" and not answer["duplicate"]
    again = (await client.post("/v1/requests", json=body(), headers=auth())).json()
    assert again["duplicate"] and again["event_id"] == answer["event_id"]
    assert client.outbox.depth()[0] == 1

    status = (await client.get(f"/v1/requests/{answer['request_id']}", headers=auth())).json()
    assert status["status"] == "SUBMITTED" and status["history"][0]["delivered"] is False
    assert NIK not in json.dumps(status)  # no personal data echoed


@pytest.mark.parametrize("patch, field, words", [
    ({"citizen": {"nik": "35102141079000", "name": "X"}}, "citizen.nik", "16 digits"),
    ({"citizen": {"nik": "3510994107900001"}}, "citizen.nik", "351099"),
    ({"service_code": "DUKCAPIL_NOPE"}, "service_code", "unknown service code"),
    ({"citizen": {"name": "no nik"}}, "citizen.nik", "required"),
    ({"citizen": {"nik": NIK, "phone": "call me"}}, "citizen.phone", "pattern"),
    ({"desk_number": ""}, "desk_number", "pattern"),
    ({"occurred_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}, "occurred_at", "future"),
    ({"occurred_at": "2026-01-01T10:00:00"}, "occurred_at", "timezone"),
    ({"colour": "red"}, "colour", "Extra inputs"),
])
async def test_bad_input_is_refused_naming_the_field(client, patch, field, words):
    r = await client.post("/v1/requests", json=body(**patch), headers=auth())
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert any(e["field"] == field and words.lower() in e["reason"].lower() for e in errors), errors
    assert client.outbox.depth()[0] == 0


async def test_all_problems_of_a_request_are_reported_at_once(client):
    r = await client.post("/v1/requests",
                          json=body(service_code="NOPE_X", citizen={"nik": "1", "kk_number": "2"}),
                          headers=auth())
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"service_code", "citizen.nik", "citizen.kk_number"} <= fields


async def test_tokens_bind_a_village_to_its_own_region(client):
    assert (await client.post("/v1/requests", json=body())).status_code == 401
    assert (await client.post("/v1/requests", json=body(), headers=auth("forged"))).status_code == 401
    r = await client.post("/v1/requests", json=body(), headers=auth("tok-banjar"))
    assert r.status_code == 403
    assert r.json()["errors"][0]["field"] == "region_code"
    ok = (await client.post("/v1/requests", json=body(), headers=auth())).json()
    # Banjar can neither read nor update Ketapang's request.
    assert (await client.get(f"/v1/requests/{ok['request_id']}",
                             headers=auth("tok-banjar"))).status_code == 403
    update = {"native_status": "dibatalkan", "occurred_at": datetime.now(UTC).isoformat()}
    r = await client.post(f"/v1/requests/{ok['request_id']}/status", json=update, headers=auth("tok-banjar"))
    assert r.status_code == 403


async def test_status_updates_follow_the_lifecycle(client):
    rid = (await client.post("/v1/requests", json=body(service_code="DESA_SKTM"), headers=auth())).json(
           )["request_id"]
    now = datetime.now(UTC)
    upd = lambda native, dt: {  # noqa: E731
        "native_status": native, "occurred_at": (now + timedelta(seconds=dt)).isoformat()}
    r = await client.post(f"/v1/requests/{rid}/status", json=upd("diterima operator", 1), headers=auth())
    assert r.status_code == 202 and r.json()["status"] == "RECEIVED"
    r = await client.post(f"/v1/requests/{rid}/status", json=upd("diteruskan ke dinas", 2), headers=auth())
    assert r.json()["status"] == "COMPLETED"
    r = await client.post(f"/v1/requests/{rid}/status", json=upd("diterima operator", 3), headers=auth())
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "native_status"
    r = await client.post(f"/v1/requests/{rid}/status", json=upd("terbang", 4), headers=auth())
    assert r.status_code == 422 and "unknown native status" in r.json()["errors"][0]["reason"]
    assert (await client.post("/v1/requests/SK-nope/status", json=upd("dibatalkan", 5),
                              headers=auth())).status_code == 404
    r = await client.post(f"/v1/requests/{rid}/status", content=b"{not json", headers=auth())
    assert r.status_code == 400
    status = (await client.get(f"/v1/requests/{rid}", headers=auth())).json()
    assert status["status"] == "COMPLETED" and len(status["history"]) == 3


def test_the_openapi_document_is_published_and_current():
    doc = openapi()
    assert set(doc["paths"]) == {"/v1/requests", "/v1/requests/{request_id}/status",
                                 "/v1/requests/{request_id}"}
    assert "nik" in doc["components"]["schemas"]["CitizenIn"]["properties"]
    assert json.loads(OPENAPI_FILE.read_text()) == doc, \
        "regenerate: hub desk openapi -o docs/openapi-village-desk.json"


def test_csv_import_reports_every_bad_row(tmp_path):
    rows = [
        ",".join(csv_import.COLUMNS),
        f"{KETAPANG},A1,DUKCAPIL_KK,{NIK},{KK},Siti,,,,,,,",
        f"{KETAPANG},A2,DUKCAPIL_KK,123,{KK},Siti,,,,,,,",
        f"{BANJAR},A3,DUKCAPIL_KK,{NIK},{KK},Siti,,,,,,,",
        f"{KETAPANG},A1,DUKCAPIL_KK,{NIK},{KK},Siti,,,,,,,",
        f"{KETAPANG},A4,NOPE_X,{NIK},{KK},Siti,,,,,,,",
    ]
    path = tmp_path / "batch.csv"
    path.write_text("\n".join(rows) + "\n")
    ticks = []
    with Outbox(tmp_path / "o.sqlite") as box:
        parsed, new = csv_import.import_file(path, box, region=KETAPANG, report=tmp_path / "r.csv",
                                             on_row=lambda: ticks.append(1))
        assert (parsed.rows, len(parsed.events), new, len(ticks)) == (5, 1, 1, 5)
        assert csv_import.import_file(path, box, region=KETAPANG)[1] == 0  # re-import: nothing new
    assert [(e.line, e.field) for e in parsed.errors] == [
        (3, "citizen.nik"), (4, "region_code"), (5, "desk_number"), (6, "service_code")]
    report = (tmp_path / "r.csv").read_text().splitlines()
    assert report[0] == "line,field,reason" and report[1].startswith("3,citizen.nik,")


def test_csv_import_refuses_an_unknown_header():
    with pytest.raises(Exception, match="unknown column 'colour'"):
        csv_import.parse_rows("region_code,desk_number,service_code,colour\n")
    assert csv_import.parse_rows(csv_import.template(), region=KETAPANG).errors == []
