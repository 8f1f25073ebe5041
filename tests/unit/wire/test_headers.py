"""CloudEvents binary-mode headers and dead-letter headers."""

from __future__ import annotations

from datetime import UTC, datetime

import pydantic
import pytest

from hub.core.errors import ValidationError
from hub.core.models import RequestLifecycleEvent
from hub.settings import Settings
from hub.wire import cloudevents as ce
from hub.wire.deadletter import Origin, dead_letter_headers, reason_of

WHEN = datetime(2026, 11, 29, 6, 30, 0, 123000, tzinfo=UTC)


def test_cloudevents_headers_round_trip_and_carry_the_required_attributes():
    event = ce.CloudEvent("e-1", "/smart-kampung/35.10.21.2003", "t", "SK-1", WHEN, ce.new_traceparent())
    headers = ce.to_headers(event)
    names = [name for name, _ in headers]
    for required in ("ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_subject",
                     "content-type"):
        assert required in names
    assert dict(headers)["ce_time"] == b"2026-11-29T06:30:00.123Z"
    assert dict(headers)["content-type"] == b"application/avro"
    assert ce.from_headers(headers) == event


def test_child_traceparent_keeps_the_trace_and_changes_the_span():
    parent = ce.new_traceparent()
    child = ce.child_traceparent(parent)
    assert child.split("-")[1] == parent.split("-")[1] and child.split("-")[2] != parent.split("-")[2]
    assert len(ce.child_traceparent(None).split("-")) == 4


def test_missing_header_is_named():
    with pytest.raises(ce.MissingHeader, match="ce_source"):
        ce.from_headers([("ce_id", b"1"), ("ce_type", b"t"), ("ce_specversion", b"1.0")])


def test_dead_letter_headers_name_reason_origin_and_keep_original_headers():
    headers = dead_letter_headers(ValidationError("citizen.nik", "must be 16 digits, got 15"),
                                  Origin("hub.intake.v1", 2, 41), "route", [("ce_id", b"x")], now=WHEN)
    h = dict(headers)
    assert h["ce_id"] == b"x"
    assert h["dlq_reason"] == b"invalid_content" and \
        h["dlq_error"] == b"citizen.nik: must be 16 digits, got 15"
    assert (h["dlq_topic"], h["dlq_partition"], h["dlq_offset"]) == (b"hub.intake.v1", b"2", b"41")
    assert h["dlq_stage"] == b"route" and h["dlq_time"].startswith(b"2026-11-29T06:30:00.123")


def test_schema_mismatch_names_the_field():
    with pytest.raises(pydantic.ValidationError) as caught:
        RequestLifecycleEvent.model_validate({"event_id": "1", "request_id": "r", "status": "LOST"})
    assert reason_of(caught.value) == "schema_mismatch"
    h = dict(dead_letter_headers(caught.value, Origin("t", 0, 0), "route", None))
    assert b"status:" in h["dlq_error"] and b"occurred_at:" in h["dlq_error"]


def test_settings_are_frozen_and_check_bootstrap_servers():
    s = Settings(bootstrap_servers="k1:9092, k2:9092,k3:9092", replication_factor=3)
    assert s.bootstrap_list == ["k1:9092", "k2:9092", "k3:9092"]
    with pytest.raises(pydantic.ValidationError):
        s.replication_factor = 1  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError, match="not host:port"):
        Settings(bootstrap_servers="kafka-without-port")
    assert Settings(**{k.removeprefix("HUB_").lower(): v for k, v in s.to_env().items()}) == s
