"""The desk API never answers 500 to bad input (issue 11, item 4) and applies the worker's admission rules:
one regression test per defect found (deep JSON, huge integers, unknown charsets, feed-only requests,
future-dated updates, resubmissions with other content), plus the limits of the body itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from hub.core.lifecycle import Status
from hub.core.models import RequestLifecycleEvent
from hub.http.body import MAX_BODY_BYTES, MAX_DEPTH
from tests.unit.connectors.desk import KETAPANG, NIK, auth, desk_client, submission

RID = "SK-3510212003-2026-0001"


@pytest.fixture
async def client(tmp_path):
    async with desk_client(tmp_path, **auth()) as c:
        yield c


def refusal(r, status: int) -> dict[str, str]:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    (first, *_) = r.json()["errors"]
    return first


def update(native: str = "diterima operator", at: datetime | None = None, **more: object,
           ) -> dict[str, object]:
    return {"native_status": native, "occurred_at": (at or datetime.now(UTC)).isoformat(), **more}


# -- the body: never a 500 ---------------------------------------------------------------------------------
async def test_deeply_nested_json_is_a_400_not_a_recursion_error(client):
    for depth in (MAX_DEPTH + 1, 20_000):
        deep = '{"citizen": ' + "[" * depth + "]" * depth + "}"
        assert "nested deeper" in refusal(await client.post("/v1/requests", content=deep), 400)["reason"]
    assert client.outbox.depth()[0] == 0


async def test_a_5000_digit_integer_is_a_400_not_a_value_error(client):
    for field in ("region_code", "desk_number"):
        body = json.dumps(submission()).replace('"2026-0001"' if field == "desk_number" else f'"{KETAPANG}"',
                                                "9" * 5000)
        error = refusal(await client.post("/v1/requests", content=body), 400)
        assert error["field"] == "(body)" and "32 digits" in error["reason"]


@pytest.mark.parametrize("content_type", ["application/json; charset=klingon",
                                          "application/json; charset=utf-16", "text/plain",
                                          "application/x-www-form-urlencoded"])
async def test_an_unknown_charset_or_a_non_json_body_is_a_415_not_a_lookup_error(client, content_type):
    r = await client.post("/v1/requests", content=json.dumps(submission()),
                          headers={"Content-Type": content_type})
    assert refusal(r, 415)["field"] == "Content-Type"


async def test_utf8_json_in_any_case_of_the_charset_name_is_accepted(client):
    r = await client.post("/v1/requests", content=json.dumps(submission()).encode(),
                          headers={"Content-Type": "application/json; charset=UTF-8"})
    assert r.status_code == 202, r.text


@pytest.mark.parametrize("raw, words", [
    (b"\xff\xfe{}", "not UTF-8"), (b'{"note": NaN}', "NaN is not JSON"),
    (b'{"note": "\\ud800"}', "lone surrogate"),
    (b"{not json", "not JSON"), (b'{"note": 1e999999}', "out of range"), (b'{"note": -Infinity}', "not JSON"),
])
async def test_bytes_that_are_not_json_text_are_a_400(client, raw, words):
    assert words in refusal(await client.post("/v1/requests", content=raw), 400)["reason"]


async def test_a_body_over_the_limit_is_a_413_before_it_is_read(client):
    big = json.dumps(submission(note="x" * MAX_BODY_BYTES))
    assert refusal(await client.post("/v1/requests", content=big), 413)["field"] == "(body)"

    async def chunks():  # no Content-Length: counted while reading
        for _ in range(5):
            yield b" " * (MAX_BODY_BYTES // 4)
    assert refusal(await client.post("/v1/requests", content=chunks()), 413)["field"] == "(body)"


async def test_a_time_out_of_range_of_utc_is_a_422_not_an_overflow_error(client):
    r = await client.post("/v1/requests", json=submission(occurred_at="0001-01-01T00:00:00+01:00"))
    assert refusal(r, 422)["field"] == "occurred_at"


async def test_a_huge_or_odd_request_id_in_the_path_is_a_422_without_echo(client):
    r = await client.get(f"/v1/requests/{'x' * 10_000}")
    error = refusal(r, 422)
    assert error["field"] == "path.request_id" and len(error["reason"]) < 300
    assert refusal(await client.get("/v1/requests/a%0Ab"), 422)["field"] == "path.request_id"


async def test_unknown_routes_and_methods_keep_the_error_shape(client):
    assert refusal(await client.get("/v2/nothing"), 404)["field"] == "(request)"
    assert refusal(await client.delete(f"/v1/requests/{RID}"), 405)["field"] == "(request)"


# -- the desk's own logic --------------------------------------------------------------------------------
async def test_a_status_update_for_a_request_known_only_from_the_feed_is_a_403_not_a_lookup_error(client):
    seen = RequestLifecycleEvent(
        event_id="mpp-1", request_id="MPP-2026-1", status=Status.RECEIVED, occurred_at=datetime.now(UTC),
        source_system="siak-dukcapil", service_code="DUKCAPIL_KTP_EL", region_code=KETAPANG,
        agency="dukcapil")
    client.outbox.record_seen([(seen, "/agency/dukcapil/siak-dukcapil")])
    assert (await client.get("/v1/requests/MPP-2026-1")).json()["status"] == "RECEIVED"  # readable
    error = refusal(await client.post("/v1/requests/MPP-2026-1/status", json=update("dibatalkan")), 403)
    assert error["field"] == "request_id" and "MPP feed" in error["reason"]


async def test_a_future_dated_update_is_refused_before_it_touches_the_ledger(client):
    assert (await client.post("/v1/requests", json=submission(service_code="DESA_SKTM"))).status_code == 202
    future = datetime(2099, 1, 1, tzinfo=UTC)
    error = refusal(await client.post(f"/v1/requests/{RID}/status", json=update(at=future)), 422)
    assert error["field"] == "occurred_at" and "future" in error["reason"]
    assert len(client.outbox.events_of(RID)) == 1  # nothing stored
    r = await client.post(f"/v1/requests/{RID}/status", json=update())  # a real update still goes through
    assert r.status_code == 202 and r.json()["status"] == "RECEIVED"


async def test_an_update_dated_before_the_submission_is_refused(client):
    now = datetime.now(UTC)
    await client.post("/v1/requests", json=submission(service_code="DESA_SKTM", occurred_at=now.isoformat()))
    r = await client.post(f"/v1/requests/{RID}/status", json=update(at=now - timedelta(hours=1)))
    assert "first event" in refusal(r, 422)["reason"]


async def test_the_worker_s_admission_rules_apply_at_the_desk(client):
    r = await client.post("/v1/requests", json=submission(citizen={"nik": NIK, "name": "Siti\u202eRahma"}))
    assert refusal(r, 422)["field"] == "citizen.name"
    r = await client.post("/v1/requests", json=submission(citizen={"nik": NIK, "birth_date": "1990-07-02"}))
    assert refusal(r, 422)["field"] == "citizen.birth_date"  # the NIK says 1990-07-01
    r = await client.post(f"/v1/requests/{RID}/status", json=update(note="x\x00y"))
    assert r.status_code == 404  # unknown request: nothing to update
    await client.post("/v1/requests", json=submission(service_code="DESA_SKTM"))
    r = await client.post(f"/v1/requests/{RID}/status", json=update(note="x\x00y"))
    assert refusal(r, 422)["field"] == "note"


async def test_the_phone_is_forwarded_in_e164(client):
    r = await client.post("/v1/requests", json=submission(citizen={"nik": NIK, "phone": "0812-3456-7890"}))
    assert r.status_code == 202, r.text
    (event, _, _), = client.outbox.events_of(RID)
    assert event.citizen is not None and event.citizen.phone == "+6281234567890"


async def test_a_resubmission_with_other_content_is_a_409_naming_what_differs(client):
    first = submission(citizen={"nik": NIK, "name": "Siti Rahmawati", "phone": "081234567890"})
    assert (await client.post("/v1/requests", json=first)).status_code == 202
    same = submission(citizen={"nik": NIK, "name": " Siti Rahmawati", "phone": "+62 812-3456-7890"})
    r = await client.post("/v1/requests", json=same)  # the same content, written otherwise
    assert r.status_code == 202 and r.json()["duplicate"]
    other = submission(service_code="DUKCAPIL_KK", citizen={"nik": NIK, "name": "Dewi Lestari"})
    r = await client.post("/v1/requests", json=other)
    assert r.status_code == 409, r.text
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"service_code", "citizen.name", "citizen.phone"}
    assert "Dewi" not in r.text and "Siti" not in r.text  # personal data is not repeated
    (event, _, _), = client.outbox.events_of(RID)  # the first submission stands
    assert event.service_code == "DUKCAPIL_KTP_EL" and event.citizen is not None
    assert event.citizen.name == "Siti Rahmawati"


async def test_a_resubmission_at_another_time_is_a_conflict_only_if_the_time_is_given(client):
    at = datetime.now(UTC) - timedelta(hours=2)
    assert (await client.post("/v1/requests", json=submission(occurred_at=at.isoformat()))).status_code == 202
    assert (await client.post("/v1/requests", json=submission())).json()["duplicate"]
    later = (at + timedelta(minutes=5)).isoformat()
    assert refusal(await client.post("/v1/requests", json=submission(occurred_at=later)), 409)["field"] == \
        "occurred_at"
