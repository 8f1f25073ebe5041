"""JSON logs: one object per line, request and event ids attached, personal numbers masked."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest

from hub.ops import logs


@pytest.fixture
def captured():
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    logs.configure("worker", "info", stream=stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def test_each_record_is_one_json_object_with_the_ids_of_the_work(captured):
    log = logging.getLogger("hub.test")
    with logs.log_context(request_id="SK-3510212003-0001", event_id="e-1"):
        log.info("routed to %s", "agency.DISPENDUKCAPIL.v1")
        with logs.log_context(event_id="e-2"):
            log.warning("retrying")
    log.info("outside", extra={"request_id": "SK-2", "partition": 3, "nik": "3510014101900001"})
    first, second, third = captured()
    assert first["msg"] == "routed to agency.DISPENDUKCAPIL.v1" and first["level"] == "info"
    assert first["logger"] == "hub.test" and first["role"] == "worker" and first["ts"].endswith("+00:00")
    assert (first["request_id"], first["event_id"]) == ("SK-3510212003-0001", "e-1")
    assert (second["request_id"], second["event_id"], second["level"]) == \
        ("SK-3510212003-0001", "e-2", "warning")
    assert third["request_id"] == "SK-2" and third["partition"] == 3 and "event_id" not in third
    assert "nik" not in third, "only known context fields pass through extra="


def test_nik_kk_and_bpjs_numbers_never_reach_the_log(captured):
    log = logging.getLogger("hub.test")
    log.info("citizen 3510014101900001 kk 3510010101200003 bpjs 0001234567890 order 12345")
    try:
        raise ValueError("bad NIK 3510994101900001")
    except ValueError:
        log.exception("failed")
    line, failure = captured()
    assert "3510014101900001" not in line["msg"] and "0001234567890" not in line["msg"]
    assert line["msg"] == "citizen <16 digits> kk <16 digits> bpjs <13 digits> order 12345"
    assert failure["exc_type"] == "ValueError" and "3510994101900001" not in failure["exc"]


def test_unknown_context_fields_are_refused():
    with pytest.raises(ValueError, match="unknown fields"):
        with logs.log_context(name="Siti"):
            pass


def test_dict_config_gives_the_same_json_lines(capsys):
    root = logging.getLogger()
    saved = list(root.handlers)
    try:
        logging.config.dictConfig(logs.dict_config("connector", "info"))
        logging.getLogger("hub.x").info("hello")
        entry = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
        assert entry["msg"] == "hello" and entry["role"] == "connector"
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)
