"""Standard Webhooks signatures as the ``standardwebhooks`` package verifies them (rotation included), the
body an endpoint receives, the audit entry of a delivery of personal data, and the SSRF policy."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from hub.core.errors import ValidationError
from hub.core.models import Citizen, Enrichment
from hub.delivery import payload, signing, urlpolicy
from hub.delivery.urlpolicy import Policy
from hub.dev.simulator import village_requests
from hub.errors import TargetRefused
from hub.wire.cloudevents import CloudEvent


def test_signed_headers_verify_with_the_standardwebhooks_package():
    secret = signing.generate_secret()
    body = b'{"hello":"dunia"}'
    headers = signing.headers([secret], "evt-1", time.time(), body)
    assert headers["webhook-id"] == "evt-1" and headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers) == {"hello": "dunia"}
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.generate_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)


def test_during_a_rotation_both_secrets_sign_for_24_hours():
    old, new = signing.generate_secret(), signing.generate_secret()
    now = time.time()
    until = signing.rotation_end(now)
    assert until - now == 24 * 3600
    during = signing.signing_secrets(new, old, until, now + 3600)
    after = signing.signing_secrets(new, old, until, until + 1)
    assert during == [new, old] and after == [new]
    body = b"{}"
    headers = signing.headers(during, "evt-2", time.time(), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)  # a receiver that still holds the old secret
    Webhook(new).verify(body, headers)  # and one that has the new one already
    late = signing.headers(after, "evt-3", time.time(), body)
    Webhook(new).verify(body, late)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(body, late)
    assert signing.rotation_end(now, compression=1000) - now == pytest.approx(86.4)


def test_secrets_are_checked_without_being_echoed():
    good = signing.generate_secret()
    assert signing.check_secret(good) == good
    for bad in ("nope", "whsec_!!!", "whsec_" + "QUJD"):
        with pytest.raises(ValidationError) as refused:
            signing.check_secret(bad)
        assert refused.value.field == "secret" and bad not in str(refused.value)


def test_the_challenge_answer_proves_the_secret():
    secret = signing.generate_secret()
    answer = signing.challenge_response(secret, "abc")
    assert signing.challenge_answered(secret, "abc", answer)
    assert not signing.challenge_answered(secret, "abd", answer)
    assert not signing.challenge_answered(signing.generate_secret(), "abc", answer)
    assert not signing.challenge_answered(secret, "abc", None)


def event_with_citizen():
    event = next(village_requests(1, seed=3))
    return event.model_copy(update={
        "citizen": Citizen(nik=event.citizen.nik, name="Siti"),
        "enrichment": Enrichment(village_name="Ketapang", kecamatan_code="35.10.21",
                                 kecamatan_name="Kalipuro", service_name="x", agency_name="y",
                                 sla_working_days=1, fee_idr=0, citizen_ref="ref-123")})


def test_the_body_is_a_cloudevent_with_the_minimised_record_and_its_sequence():
    event = event_with_citizen()
    meta = CloudEvent("evt-9", "/smart-kampung/x", event.CE_TYPE, event.request_id,
                      datetime(2026, 3, 30, 8, tzinfo=UTC), "00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    body = payload.body(meta, event, 3)
    doc = json.loads(body)
    assert doc["specversion"] == "1.0" and doc["id"] == "evt-9" and doc["source"] == "/smart-kampung/x"
    assert doc["type"] == event.CE_TYPE and doc["subject"] == event.request_id
    assert doc["time"] == "2026-03-30T08:00:00.000Z" and doc["sequence"] == 3
    assert doc["datacontenttype"] == "application/json" and doc["traceparent"].startswith("00-")
    assert doc["data"]["citizen"] == {"nik": event.citizen.nik, "name": "Siti"}  # only what the topic had
    assert payload.body(meta, event, 3) == body  # byte for byte: a resend has the same body
    assert payload.personal_fields(event) == ("name", "nik")


def test_the_audit_entry_names_the_fields_the_channel_and_the_citizen_ref_never_the_nik():
    event = event_with_citizen()
    meta = CloudEvent("evt-9", "/s", event.CE_TYPE, event.request_id, datetime.now(UTC))
    body = payload.body(meta, event, 1)
    entry = payload.audit_entry(endpoint_id="ep_1", where="https://pln.example/hook", agency="pln",
                                payload=body, personal=("name", "nik"), at=datetime.now(UTC))
    assert entry.audit_id == payload.audit_id("ep_1", "/s", "evt-9")
    assert entry.event_ce_id == "evt-9" and entry.citizen_ref == "ref-123"
    assert entry.service_code == event.service_code and entry.request_id == event.request_id
    [delivery] = entry.deliveries
    assert delivery.channel == "webhook" and delivery.audience == "agency:pln"
    assert delivery.topic == "https://pln.example/hook" and delivery.personal_fields == ["name", "nik"]
    assert event.citizen.nik not in json.dumps(entry.model_dump(mode="json"))


STRICT, OPEN = Policy(), Policy(allow_http=True, allow_private=True)


@pytest.mark.parametrize("url, why", [
    ("http://agency.example/hook", "scheme"),
    ("ftp://agency.example/hook", "scheme"),
    ("https://user:pw@agency.example/hook", "credentials"),
    ("https:///hook", "no host"),
    ("https://agency.example/hook#frag", "fragment"),
    ("https://127.0.0.1/hook", "127.0.0.1"),
    ("https://10.1.2.3/hook", "10.1.2.3"),
    ("https://169.254.169.254/latest/meta-data", "169.254.169.254"),
    ("https://[::1]/hook", "::1"),
    ("https://[::ffff:192.168.1.1]/hook", "::ffff:c0a8:101"),
    ("https://100.64.0.1/hook", "100.64.0.1"),
    ("https://0.0.0.0/hook", "0.0.0.0"),
    ("https://agency.example/" + "x" * 2000, "longer"),
])
def test_the_strict_policy_refuses(url, why):
    with pytest.raises(TargetRefused) as refused:
        urlpolicy.check_url(url, STRICT)
    assert why in str(refused.value)


def test_the_strict_policy_lets_public_https_through_and_the_settings_relax_it():
    assert urlpolicy.check_url("https://api.bpjs-kesehatan.go.id:8443/hooks?x=1", STRICT)
    urlpolicy.check_addresses(["103.10.20.30", "2001:4860:4860::8888"], STRICT)
    with pytest.raises(TargetRefused):
        urlpolicy.check_addresses(["103.10.20.30", "192.168.0.5"], STRICT)  # every address is checked
    with pytest.raises(TargetRefused):
        urlpolicy.check_addresses([], OPEN)
    assert urlpolicy.check_url("http://127.0.0.1:8080/hook", OPEN)
    urlpolicy.check_addresses(["127.0.0.1", "10.0.0.1"], OPEN)
    assert urlpolicy.redact("https://a.example:8443/p/q?token=s3cret#x") == "https://a.example:8443/p/q"
