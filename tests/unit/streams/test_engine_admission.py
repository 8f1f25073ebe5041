"""Admission in the engine (issue 11, item 2): refused content is a dead letter naming the field (never a
routed event), normalised content (E.164 phones, trimmed text) is what every subscriber receives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.core.lifecycle import Status
from hub.core.models import RequestLifecycleEvent
from hub.core.records import CitizenNotice
from hub.errors import MAX_ECHO, ContentError
from hub.wire.deadletter import describe, reason_of
from tests.unit.streams.test_engine_records import BASE, SETTINGS, decode, feed, step


def refused(event: RequestLifecycleEvent, entry=None) -> ContentError:  # type: ignore[no-untyped-def]
    with pytest.raises(ContentError) as caught:
        feed(entry, event)
    assert reason_of(caught.value) == "invalid_content"
    assert len(describe(caught.value)) <= 2 * MAX_ECHO + 200
    return caught.value


def citizen(**fields: object) -> RequestLifecycleEvent:
    assert BASE.citizen is not None
    return BASE.model_copy(update={"citizen": BASE.citizen.model_copy(update=fields)})


def test_subscribers_receive_the_phone_in_e164_and_trimmed_names():
    result, _ = feed(None, citizen(phone="0812-3456-7890", name="  Siti Rahmawati "))
    notice = CitizenNotice.from_avro(decode(next(o for o in result.outs if o.topic == SETTINGS.topic_notify)))
    assert notice.phone == "+6281234567890" and result.entry.phone == "+6281234567890"
    agency = RequestLifecycleEvent.from_avro(decode(next(
        o for o in result.outs if o.topic == SETTINGS.agency_topic("dukcapil"))))
    assert agency.citizen is not None and agency.citizen.name == "Siti Rahmawati"


@pytest.mark.parametrize("event, field", [
    (citizen(phone="0812 CALL ME"), "citizen.phone"),
    (citizen(phone="9" * 100_000), "citizen.phone"),
    (citizen(name=""), "citizen.name"),
    (citizen(name="x" * 100_000), "citizen.name"),
    (citizen(address="Jl. \u202eipok"), "citizen.address"),
    (BASE.model_copy(update={"note": "lengkap\x1b[2J"}), "note"),
    (citizen(birth_date=datetime(2099, 1, 1).date()), "citizen.birth_date"),
    (BASE.model_copy(update={"occurred_at": datetime(1970, 1, 1, tzinfo=UTC)}), "occurred_at"),
    (BASE.model_copy(update={"occurred_at": datetime(1, 1, 1, tzinfo=UTC)}), "occurred_at"),
    (BASE.model_copy(update={"source_system": "s" * 100_000}), "source_system"),
])
def test_refused_content_is_a_dead_letter_naming_the_field(event, field):
    error = refused(event)
    assert f"{field}: " in str(error)


def test_an_event_dated_before_the_request_s_first_event_is_refused_but_a_resend_is_still_a_duplicate():
    first, _ = feed(None, BASE)
    early = step(BASE, Status.RECEIVED, -1)
    assert "before the request's first event" in str(refused(early, first.entry))
    again, _ = feed(first.entry, BASE)
    assert again.duplicate
    tie = step(BASE, Status.RECEIVED, 0)
    assert feed(first.entry, tie)[0].accepted is not None  # the same instant as the first event is fine
    later = step(BASE, Status.RECEIVED, 1)
    assert feed(first.entry, later.model_copy(update={"occurred_at": BASE.occurred_at + timedelta(seconds=1)})
                )[0].accepted is not None


def test_a_submission_read_after_its_agency_s_answer_is_placed_before_it():
    """Each source writes its own topic, so the worker may read an agency's answer before the desk's
    submission of the same request: the submission is still accepted and placed first by its time."""
    answer = step(BASE, Status.RECEIVED, 1, source_system="siak-dukcapil")
    first, _ = feed(None, answer, source="/agency/dukcapil/siak-dukcapil")
    late_submission, _ = feed(first.entry, BASE)  # dated an hour before the answer
    assert [h.status for h in late_submission.entry.history] == ["SUBMITTED", "RECEIVED"]
    assert late_submission.entry.status == "RECEIVED"
    before = step(BASE, Status.VERIFIED, -2, source_system="siak-dukcapil")  # before the submission: refused
    with pytest.raises(ContentError, match="before the request's first event"):
        feed(late_submission.entry, before, source="/agency/dukcapil/siak-dukcapil")
