"""Per-event CPU without Kafka: the codec (fastavro via hub.wire.codec.Encoder / Codec.decode) against
json.dumps/loads of the same dict, and the intake router's work in-process (decode -> model -> admit ->
route + minimise -> encode), timed and profiled with cProfile."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

from hub.core.models import RequestLifecycleEvent
from hub.dev.simulator import village_requests
from hub.settings import REPO_ROOT, Settings
from hub.wire import cloudevents as ce
from hub.wire.codec import Codec, load_schema
from hub.wire.registry import MemoryRegistry


def _per_call_us(fn: Callable[[object], object], items: list, repeat: int = 5) -> dict:
    """Best and median of ``repeat`` passes over ``items``, in microseconds per call."""
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for x in items:
            fn(x)
        runs.append((time.perf_counter() - t0) / len(items) * 1e6)
    return {"best_us": round(min(runs), 2), "median_us": round(statistics.median(runs), 2)}


def _json_default(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def codec_bench(n: int) -> dict:
    events = list(village_requests(min(n, 5000), seed=7))
    codec = Codec(MemoryRegistry(), register=True)
    schema = load_schema(REPO_ROOT / "schemas", RequestLifecycleEvent.SCHEMA)
    encoder = codec.encoder("bench.codec", schema)
    codec.reader(schema)
    dicts = [e.to_avro() for e in events]
    items = (dicts * (n // len(dicts) + 1))[:n]
    avro = [encoder(d) for d in dicts]
    js = [json.dumps(d, default=_json_default).encode() for d in dicts]
    avro_items = (avro * (n // len(avro) + 1))[:n]
    js_items = (js * (n // len(js) + 1))[:n]
    out = {
        "events": n,
        "avro_bytes_mean": round(statistics.mean(len(b) for b in avro), 1),
        "json_bytes_mean": round(statistics.mean(len(b) for b in js), 1),
        "avro_encode": _per_call_us(encoder, items),
        "avro_decode": _per_call_us(codec.decode, avro_items),
        "json_dumps": _per_call_us(lambda d: json.dumps(d, default=_json_default).encode(), items),
        "json_loads": _per_call_us(json.loads, js_items),
        "model_to_avro": _per_call_us(lambda e: e.to_avro(), (events * (n // len(events) + 1))[:n]),
        "model_from_avro": _per_call_us(RequestLifecycleEvent.from_avro,
                                        ([codec.decode(b).record for b in avro] * (n // len(avro) + 1))[:n]),
    }
    try:
        import orjson  # noqa: F401  (optional: only reported when installed)

        out["orjson_dumps"] = _per_call_us(orjson.dumps, items)
        out["orjson_loads"] = _per_call_us(orjson.loads, js_items)
    except ImportError:
        pass
    return out


def router_bench(n: int) -> dict:
    """The intake path's per-record stages in-process (hub.core / hub.wire only, no Kafka)."""
    settings = Settings(metrics_port=0)
    codec = Codec(MemoryRegistry(), register=True)
    schema = load_schema(REPO_ROOT / "schemas", RequestLifecycleEvent.SCHEMA)
    intake = codec.encoder(settings.desk_intake_topic("banyuwangi"), schema)
    codec.reader(schema)
    events = list(village_requests(n, seed=11))
    records = [(e.request_id.encode(), intake(e.to_avro()),
                ce.to_headers(ce.CloudEvent(e.event_id, "/bench", e.CE_TYPE, e.request_id, e.occurred_at,
                                            ce.new_traceparent()))) for e in events]
    out: dict = {"events": n}
    stages: dict[str, dict] = {}
    from hub.core.admission import admit
    from hub.core.routing import route

    feed = codec.encoder(settings.topic_feed, schema)
    decoded = [codec.decode(v) for _, v, _ in records]
    models = [RequestLifecycleEvent.from_avro(d.record) for d in decoded]
    services = [admit(m).service for m in models]
    stages["decode (fastavro + framing)"] = _per_call_us(lambda r: codec.decode(r[1]), records, 3)
    stages["cloudevents from_headers"] = _per_call_us(lambda r: ce.from_headers(r[2]), records, 3)
    stages["model from_avro (pydantic)"] = _per_call_us(RequestLifecycleEvent.from_avro,
                                                        [d.record for d in decoded], 3)
    stages["admit (validation)"] = _per_call_us(admit, models, 3)
    pairs = list(zip(models, services, strict=True))
    stages["route + minimise"] = _per_call_us(
        lambda p: route(p[0], p[1], agency_topic=settings.agency_topic, feed_topic=settings.topic_feed),
        pairs, 3)
    routed = [route(m, s, agency_topic=settings.agency_topic, feed_topic=settings.topic_feed)
              for m, s in pairs]
    stages["encode 2 outputs (to_avro + fastavro)"] = _per_call_us(
        lambda ds: [feed(d.event.to_avro()) for d in ds], routed, 3)
    stages["cloudevents to_headers"] = _per_call_us(
        lambda m: ce.to_headers(ce.CloudEvent(m.event_id, "/bench", m.CE_TYPE, m.request_id,
                                              m.occurred_at, ce.child_traceparent(None))), models, 3)
    out["stages_us"] = stages
    out["stages_sum_us"] = round(sum(s["best_us"] for s in stages.values()), 1)
    return out
