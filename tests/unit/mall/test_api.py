"""The mall API over a real SQLite view filled with engine-generated traffic: filters, paging, role scoping,
401/403/404/422 with the field named, sessions, the citizen look-up, disclosures and their exports."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from hub.core.enrichment import citizen_check, citizen_ref
from hub.mall.api import MallContext, create_app, openapi
from hub.mall.auth import Role, Sessions, StaffDirectory, digest
from hub.mall.citizen import RateLimiter
from hub.mall.disclosures import disclosures_of
from hub.mall.sqlite import SqliteDriver
from hub.mall.store import SqlViewStore
from hub.mall.stream import Broadcaster
from hub.mall.view import AuditItem
from tests.unit.mall.conftest import NOW, SETTINGS

OPENAPI_FILE = Path(__file__).resolve().parents[3] / "docs" / "openapi-mall.json"
TOKENS = {"manager": "manager-token-0001", "desk": "counter-token-0001", "pln": "liaison-token-pln1",
          "dukcapil-counter": "counter-token-dukcapil"}
STAFF = [{"name": "Bu Manajer", "role": "manager", "token_sha256": digest(TOKENS["manager"])},
         {"name": "Loket Informasi", "role": "counter", "token_sha256": digest(TOKENS["desk"])},
         {"name": "Penghubung PLN", "role": "liaison", "agency": "pln",
          "token_sha256": digest(TOKENS["pln"])},
         {"name": "Loket Dukcapil", "role": "counter", "agency": "dukcapil",
          "token_sha256": digest(TOKENS["dukcapil-counter"])}]
KEY = SETTINGS.citizen_ref_key.get_secret_value().encode()


def auth(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[who]}"}


@pytest.fixture(scope="module")
async def mall(items, tmp_path_factory):
    store = SqlViewStore(SqliteDriver(tmp_path_factory.mktemp("api") / "mall.sqlite"))
    await store.open()
    await store.apply(items, {})
    ctx = MallContext(SETTINGS, store, Broadcaster(store), StaffDirectory(STAFF), Sessions(), RateLimiter(5),
                      clock=lambda: NOW + timedelta(hours=2))
    await ctx.broadcaster.start()
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://mall.test") as client:
        yield client, ctx
    await store.close()


async def every_page(client: httpx.AsyncClient, params: dict, who: str) -> list[dict]:
    items, cursor = [], None
    while True:
        r = await client.get("/v1/requests", params={**params, "limit": 200,
                                                     **({"cursor": cursor} if cursor else {})},
                             headers=auth(who))
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if not cursor:
            return items


def field_of(response: httpx.Response) -> str:
    return response.json()["errors"][0]["field"]


async def test_no_credentials_is_401_naming_the_header(mall):
    client, _ = mall
    for path in ("/v1/requests", "/v1/summary", "/v1/me", "/v1/requests/X", "/v1/stream"):
        r = await client.get(path)
        assert r.status_code == 401 and field_of(r) == "Authorization"
        assert r.headers["www-authenticate"] == "Bearer"
    r = await client.get("/v1/requests", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401


async def test_paging_covers_every_row_once_default_50_max_200(mall):
    client, ctx = mall
    total = len(await ctx.store.rows())
    seen, cursor, sizes = [], None, []
    while True:
        r = await client.get("/v1/requests", params={"cursor": cursor} if cursor else {},
                             headers=auth("manager"))
        assert r.status_code == 200
        page = r.json()
        sizes.append(len(page["items"]))
        seen += [i["request_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sizes[0] == 50 and len(seen) == len(set(seen)) == total
    r = await client.get("/v1/requests", params={"limit": 200}, headers=auth("manager"))
    assert len(r.json()["items"]) == min(200, total)
    for params, field in (({"limit": 201}, "query.limit"), ({"limit": 0}, "query.limit"),
                          ({"status": "DONE"}, "query.status"), ({"sla": "late"}, "query.sla"),
                          ({"updated_since": "yesterday"}, "query.updated_since"),
                          ({"cursor": "bm90LWEtY3Vyc29y"}, "query.cursor"), ({"village": "x'--"},
                                                                             "query.village")):
        r = await client.get("/v1/requests", params=params, headers=auth("manager"))
        assert r.status_code == 422 and field_of(r) == field, params


async def test_filters_answer_what_the_rows_say(mall):
    client, ctx = mall
    rows = await ctx.store.rows()
    some = next(r for r in rows if r.kind == "request" and r.agency == "dukcapil")
    for params, pick in (({"agency": "dukcapil"}, lambda r: r.agency == "dukcapil"),
                         ({"service": some.service_code}, lambda r: r.service_code == some.service_code),
                         ({"kecamatan": some.kecamatan_code},
                          lambda r: r.kecamatan_code == some.kecamatan_code),
                         ({"village": some.region_code}, lambda r: r.region_code == some.region_code),
                         ({"status": "COMPLETED"}, lambda r: r.status.value == "COMPLETED"),
                         ({"sla": "breached"}, lambda r: r.active and r.sla.value == "breached"),
                         ({"updated_since": some.updated_at.isoformat()},
                          lambda r: r.updated_at >= some.updated_at),
                         ({"kind": "journey"}, lambda r: r.kind == "journey")):
        got = {i["request_id"] for i in await every_page(client, params, "manager")}
        want = {row.request_id for row in rows if pick(row)}
        assert got == want and want, params


async def test_roles_are_scoped_to_their_agency(mall):
    client, ctx = mall
    rows = await ctx.store.rows()
    assert {i["agency"] for i in await every_page(client, {}, "pln")} == {"pln"}
    r = await client.get("/v1/requests", params={"agency": "dukcapil"}, headers=auth("pln"))
    assert r.status_code == 403 and field_of(r) == "query.agency"
    other = next(row for row in rows if row.agency == "dukcapil")
    r = await client.get(f"/v1/requests/{other.request_id}", headers=auth("pln"))
    assert r.status_code == 404 and field_of(r) == "request_id"
    r = await client.get("/v1/agencies/dukcapil/summary", headers=auth("pln"))
    assert r.status_code == 403 and field_of(r) == "code"
    r = await client.get("/v1/summary", headers=auth("pln"))
    assert r.json()["agency"] == "pln" and {b["key"] for b in r.json()["by_agency"]} <= {"pln"}
    assert {i["agency"] for i in await every_page(client, {}, "dukcapil-counter")} == {"dukcapil"}
    everything = await every_page(client, {}, "desk")  # the information desk sees every agency
    assert len(everything) == len(rows) and len({i["agency"] for i in everything}) > 3
    r = await client.post("/v1/disclosures", json={"nik": "3510010101010001"}, headers=auth("desk"))
    assert r.status_code == 403 and field_of(r) == "role"


async def test_a_request_with_its_history_and_summaries(mall):
    client, ctx = mall
    rows = await ctx.store.rows()
    row = max((r for r in rows if r.kind == "request"), key=lambda r: r.events)
    r = await client.get(f"/v1/requests/{row.request_id}", headers=auth("manager"))
    body = r.json()
    assert r.status_code == 200 and body["status"] == row.status.value and len(body["history"]) == row.events
    assert all(step["citizen_text"] and row.request_id in step["citizen_text"] for step in body["history"])
    assert body["history"][0]["citizen_text"].startswith("Permohonan")
    journey = next(r for r in rows if r.kind == "journey")
    body = (await client.get(f"/v1/requests/{journey.request_id}", headers=auth("manager"))).json()
    assert [c["request_id"] for c in body["children_rows"]] == list(journey.children) and body["history"]
    r = await client.get("/v1/requests/NO-SUCH-REQUEST", headers=auth("manager"))
    assert r.status_code == 404 and field_of(r) == "request_id"
    summary = (await client.get("/v1/summary", headers=auth("manager"))).json()
    want = await ctx.store.summary(NOW + timedelta(hours=2))
    assert summary["counts"]["open"] == want.counts.open
    assert summary["counts"]["breached"] == want.counts.breached
    assert summary["counts"]["breached"] > 0 and summary["by_kecamatan"] and summary["lead"]["finished"] > 0
    dukcapil = (await client.get("/v1/agencies/dukcapil/summary", headers=auth("manager"))).json()
    assert dukcapil["agency"] == "dukcapil" and dukcapil["counts"]["open"] <= summary["counts"]["open"]


async def test_sessions_sign_in_and_out(mall):
    client, _ = mall
    r = await client.post("/v1/session", json={"token": "wrong-token-xyz"})
    assert r.status_code == 401 and field_of(r) == "token"
    r = await client.post("/v1/session", json={"token": TOKENS["pln"]})
    assert r.status_code == 200 and r.json() == {"name": "Penghubung PLN", "role": "liaison", "agency": "pln"}
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert (await client.get("/v1/me")).json()["role"] == Role.LIAISON.value
    assert (await client.delete("/v1/session")).status_code == 204
    client.cookies.clear()
    assert (await client.get("/v1/me")).status_code == 401


def factor(row) -> str:
    return next(f"{n:04d}" for n in range(10000) if citizen_check(row.request_id, f"{n:04d}",
                                                                  KEY) == row.citizen_check)


async def test_citizen_lookup_answers_alike_for_unknown_and_wrong_and_is_rate_limited(mall, offline_hub):
    client, ctx = mall
    row = next(r for r in await ctx.store.rows() if r.kind == "request" and r.events >= 3)
    right = factor(row)
    wrong = f"{(int(right) + 1) % 10000:04d}"
    r = await client.post("/v1/citizen/lookup", json={"request_id": row.request_id, "nik_last4": right})
    body = r.json()
    assert r.status_code == 200 and body["status"] == row.status.value and len(body["history"]) == row.events
    assert body["disclosures"] and all(d["request_id"] == row.request_id for d in body["disclosures"])
    text = r.text
    nik = next(e.citizen.nik for e in offline_hub.submitted if e.request_id == row.request_id and e.citizen)
    assert nik not in text and "citizen_check" not in text
    a = await client.post("/v1/citizen/lookup", json={"request_id": row.request_id, "nik_last4": wrong})
    b = await client.post("/v1/citizen/lookup", json={"request_id": "SK-NO-SUCH-1", "nik_last4": right})
    assert a.status_code == b.status_code == 404 and a.json() == b.json()
    r = await client.post("/v1/citizen/lookup", json={"request_id": row.request_id, "nik_last4": "12a4"})
    assert r.status_code == 422 and field_of(r) == "nik_last4"
    for _ in range(5):
        r = await client.post("/v1/citizen/lookup", json={"request_id": row.request_id, "nik_last4": wrong})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


async def test_disclosures_are_exactly_the_audit_records_of_the_citizen(mall, items, offline_hub):
    client, _ = mall
    niks = Counter(e.citizen.nik for e in offline_hub.submitted if e.citizen and e.citizen.nik)
    nik = niks.most_common(1)[0][0]
    ref = citizen_ref(nik, KEY)
    mine = {e.request_id for e in offline_hub.submitted if e.citizen and e.citizen.nik == nik}
    want = sorted((d for i in items if isinstance(i, AuditItem) and i.entry.citizen_ref == ref
                   for d in disclosures_of(i.entry)), key=lambda d: (d.recorded_at, d.audit_id, d.index))
    r = await client.post("/v1/disclosures", json={"nik": nik}, headers=auth("manager"))
    body = r.json()
    assert r.status_code == 200 and body["deliveries"] == len(want) > 0
    got = [(i["request_id"], i["recipient"], tuple(i["fields"]), i["channel"]) for i in body["items"]]
    assert got == [(d.request_id, d.recipient, d.fields, d.channel) for d in want]
    assert {i["request_id"] for i in body["items"]} <= mine  # nobody else's requests
    assert nik not in r.text and ref not in r.text
    r = await client.post("/v1/disclosures", json={"nik": "12345"}, headers=auth("manager"))
    assert r.status_code == 422 and field_of(r) == "nik"
    csv = await client.post("/v1/disclosures/export", params={"format": "csv"}, json={"nik": nik},
                            headers=auth("manager"))
    assert csv.headers["content-type"].startswith("text/csv")
    assert len(csv.text.strip().splitlines()) == len(want) + 1
    pdf = await client.post("/v1/disclosures/export", params={"format": "pdf"}, json={"nik": nik},
                            headers=auth("manager"))
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert nik.encode() not in pdf.content


async def test_breach_scope_names_citizens_and_fields_sent_to_a_recipient(mall, items):
    client, _ = mall
    params = {"recipient": "agency:dukcapil", "start": (NOW - timedelta(days=10)).isoformat(),
              "end": (NOW + timedelta(days=10)).isoformat()}
    body = (await client.get("/v1/breach-scope", params=params, headers=auth("manager"))).json()
    want = [d for i in items if isinstance(i, AuditItem) for d in disclosures_of(i.entry)
            if d.recipient == "agency:dukcapil"]
    assert body["deliveries"] == len(want) and body["citizens"] == len({d.citizen_ref for d in want})
    assert {f for i in body["items"] for f in i["fields"]} == {f for d in want for f in d.fields}
    r = await client.get("/v1/breach-scope", params={**params, "end": params["start"]},
                         headers=auth("manager"))
    assert r.status_code == 422 and field_of(r) == "query.end"
    r = await client.get("/v1/breach-scope", params=params, headers=auth("pln"))
    assert r.status_code == 403


async def test_pages_are_served(mall):
    client, _ = mall
    for path, marker in (("/", "Dasbor"), ("/citizen", "Cek status"), ("/static/app.js", "EventSource")):
        r = await client.get(path)
        assert r.status_code == 200 and marker in r.text, path
    assert "default-src 'self'" in (await client.get("/")).headers["content-security-policy"]


def test_the_openapi_document_is_published_and_current():
    doc = openapi()
    assert OPENAPI_FILE.exists(), "run: hub mall openapi"
    assert json.loads(OPENAPI_FILE.read_text()) == doc, "regenerate it: hub mall openapi"
