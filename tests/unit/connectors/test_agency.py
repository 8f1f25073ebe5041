"""Agency connectors: native-status translation, stable ids, webhook signatures (pure parts)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from hub.connectors import bpjs, dukcapil, pln, pudam
from hub.connectors.agency import AgencyConnector, AgencyProfile, NativeUpdate, translate
from hub.connectors.webhook import create_app, generate_secret, sign
from hub.core.errors import ValidationError
from hub.core.lifecycle import Status, to_canonical
from hub.dev.simulator import village_requests
from hub.settings import Settings

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
PROFILES = [dukcapil.PROFILE, pln.PROFILE, pudam.PROFILE, bpjs.PROFILE]
SERVICE = {"dukcapil": "DUKCAPIL_KTP_EL", "pln": "PLN_TAMBAH_DAYA", "pudam": "PUDAM_SAMBUNGAN_BARU",
           "bpjs_kesehatan": "BPJS_KESEHATAN_PENDAFTARAN"}


def request_for(profile: AgencyProfile):
    first = next(village_requests(1, seed=9, now=NOW))
    return first.model_copy(update={"service_code": SERVICE[profile.agency], "agency": profile.agency})


def update(**kw):
    data = dict(request_id="R-1", update_id="u-1", native_status="diproses", occurred_at=NOW)
    data.update(kw)
    return NativeUpdate(**data)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.agency)
def test_every_system_code_translates_and_the_native_status_is_kept(profile):
    request = request_for(profile)
    for code, native in profile.codes.items():
        event = translate(profile, update(request_id=request.request_id, native_status=code.upper()),
                          [request])
        assert event.status is to_canonical(profile.agency, native)
        assert event.native_status == code.upper()
        assert (event.source_system, event.agency) == (profile.source_system, profile.agency)
        assert (event.service_code, event.region_code) == (request.service_code, request.region_code)
        assert event.citizen is None


def test_known_codes_of_each_agency():
    assert dukcapil.PROFILE.canonical("BLANGKO_HABIS") is Status.WAITING_EXTERNAL
    assert pln.PROFILE.canonical("NYALA") is Status.COMPLETED
    assert pudam.PROFILE.canonical("ALIR") is Status.COMPLETED
    assert bpjs.PROFILE.canonical("PERBAIKAN") is Status.RETURNED
    assert bpjs.PROFILE.canonical("diverifikasi") is Status.VERIFIED  # plain words work too


def test_event_ids_are_stable_per_update_and_distinct_across_updates():
    request = request_for(dukcapil.PROFILE)
    a = translate(dukcapil.PROFILE, update(request_id=request.request_id), [request])
    b = translate(dukcapil.PROFILE, update(request_id=request.request_id), [request])
    c = translate(dukcapil.PROFILE, update(request_id=request.request_id, update_id="u-2"), [request])
    assert a.event_id == b.event_id != c.event_id


def test_translation_errors_name_the_field():
    request = request_for(pln.PROFILE)
    with pytest.raises(ValidationError) as e:
        translate(pln.PROFILE, update(request_id=request.request_id, native_status="XYZ"), [request])
    assert e.value.field == "native_status"
    with pytest.raises(ValidationError) as e:
        translate(pln.PROFILE, update(), [])
    assert e.value.field == "request_id"
    with pytest.raises(ValidationError) as e:
        translate(pln.PROFILE, update(service_code="DUKCAPIL_KK", region_code="35.10.21.2003"), [])
    assert e.value.field == "service_code" and "dukcapil" in e.value.reason


def test_a_profile_with_a_code_the_lifecycle_does_not_know_fails_at_import():
    with pytest.raises(Exception, match="unknown native status"):
        AgencyProfile("pln", "x", {"FOO": "no such status"})


async def test_webhook_accepts_only_signed_updates(tmp_path):
    secret = generate_secret()
    connector = AgencyConnector(Settings(), pudam.PROFILE, tmp_path, follow=False)
    request = request_for(pudam.PROFILE)
    connector.outbox.record_seen([(request, "/smart-kampung/x")])
    payload = {"request_id": request.request_id, "native_status": "SURVEI", "occurred_at": NOW.isoformat()}
    raw = json.dumps(payload).encode()
    transport = httpx.ASGITransport(app=create_app({"pudam": (connector, secret)}))
    async with httpx.AsyncClient(transport=transport, base_url="http://connector") as client:
        url = "/v1/agencies/pudam/status-updates"
        ok = await client.post(url, content=raw, headers=sign(secret, raw, msg_id="msg_1"))
        assert ok.status_code == 202, ok.text
        assert ok.json()["status"] == "IN_PROCESS"
        again = await client.post(url, content=raw, headers=sign(secret, raw, msg_id="msg_1"))
        assert again.json()["event_id"] == ok.json()["event_id"]  # retried delivery
        assert connector.outbox.depth()[0] == 1

        forged = sign(generate_secret(), raw)
        assert (await client.post(url, content=raw, headers=forged)).status_code == 401
        stale = sign(secret, raw, at=datetime.now(UTC) - timedelta(minutes=10))
        assert (await client.post(url, content=raw, headers=stale)).status_code == 401
        tampered = sign(secret, raw)
        assert (await client.post(url, content=raw.replace(b"SURVEI", b"ALIR"),
                                  headers=tampered)).status_code == 401
        bad = json.dumps({**payload, "native_status": "MELEDAK"}).encode()
        r = await client.post(url, content=bad, headers=sign(secret, bad))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "native_status"
        assert (await client.post("/v1/agencies/pln/status-updates", content=raw,
                                  headers=sign(secret, raw))).status_code == 404
    connector.outbox.close()
