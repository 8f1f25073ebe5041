"""The bench's publisher, run as its own process: ``python -m bench.loadgen '<json>'``.

Runs as the village-desk principal whose settings are in its environment (``HUB_*``: SASL_SSL, its own
password; ``bench.hubs.BenchHub.loadgen_env``). Builds ``n`` simulator events exactly as the village-desk
connector does (hub.dev.simulator.village_requests, the Encoder of the desk's intake topic looked up in the
registry, CloudEvents headers: see hub.connectors.publisher.Publisher._record) before the clock starts, then
sends them to ``topic`` (the desk node's intake topic) at ``rate`` events/s (0 = as fast as it can) with a
producer configured like the connector's (idempotent, acks=all, linger 5 ms, 256 KiB batches). Before sending
it writes the
record keys, in order, to ``keys_file``; when done, the send time of each (wall ns, int64) to
``times_file``. Prints ``SENDING`` when it starts and one JSON line at the end.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from array import array


async def main(args: dict) -> dict:
    from aiokafka import AIOKafkaProducer

    from hub.connectors.village_desk import source_of
    from hub.core.models import RequestLifecycleEvent
    from hub.dev.simulator import village_requests
    from hub.settings import Settings
    from hub.wire import cloudevents as ce
    from hub.wire.clients import kafka_options, registry
    from hub.wire.codec import Codec, load_schema

    settings = Settings()
    topic, n, rate, phase = args["topic"], int(args["n"]), float(args.get("rate", 0)), int(args["phase"])
    prep0 = time.perf_counter()
    codec = Codec(registry(settings))
    encoder = codec.encoder(topic, load_schema(settings.schemas_dir, RequestLifecycleEvent.SCHEMA))
    records = []
    for e in village_requests(n, seed=int(args.get("seed", phase))):
        headers = ce.to_headers(ce.CloudEvent(id=e.event_id, source=source_of(e.region_code), type=e.CE_TYPE,
                                              subject=e.request_id, time=e.occurred_at,
                                              traceparent=ce.new_traceparent()))
        records.append((e.request_id.encode(), encoder(e.to_avro()), headers))
    with open(args["keys_file"], "wb") as f:
        f.write(b"\n".join(r[0] for r in records))
    prep_s = time.perf_counter() - prep0
    producer = AIOKafkaProducer(
        **kafka_options(settings), enable_idempotence=True, acks="all",
        linger_ms=int(args.get("linger_ms", 5)), max_batch_size=int(args.get("max_batch_size", 256 * 1024)),
        client_id="bench-loadgen")
    await producer.start()
    print("SENDING", flush=True)
    cpu0, t0, wall0 = time.process_time(), time.monotonic(), time.time_ns()
    futures = []
    send = producer.send
    times = array("q", bytes(8 * n))
    clock = time.time_ns
    sent = 0
    if rate <= 0:
        for seq, (k, v, h) in enumerate(records):
            times[seq] = clock()
            futures.append(await send(topic, v, key=k, headers=h))
            if seq % 200 == 199:
                await asyncio.sleep(0)
        sent = n
    else:
        while sent < n:
            due = min(n, int((time.monotonic() - t0) * rate) + 1)
            while sent < due:
                k, v, h = records[sent]
                times[sent] = clock()
                futures.append(await send(topic, v, key=k, headers=h))
                sent += 1
            await asyncio.sleep(0.001)
    send_s = time.monotonic() - t0
    results = await asyncio.gather(*futures, return_exceptions=True)
    acked_s = time.monotonic() - t0
    errors = [r for r in results if isinstance(r, BaseException)]
    await producer.stop()
    with open(args["times_file"], "wb") as f:
        times.tofile(f)
    return {
        "sent": sent, "errors": len(errors), "first_error": repr(errors[0]) if errors else None,
        "offered_eps": rate or None, "send_s": round(send_s, 3), "acked_s": round(acked_s, 3),
        "send_eps": round(sent / send_s, 1) if send_s else None, "start_ns": wall0,
        "cpu_s": round(time.process_time() - cpu0, 3), "prep_s": round(prep_s, 2),
        "value_bytes_mean": round(sum(len(r[1]) for r in records) / max(n, 1), 1),
        "header_bytes_mean": round(sum(len(k) + len(v) for r in records for k, v in r[2]) / max(n, 1), 1),
        "key_bytes_mean": round(sum(len(r[0]) for r in records) / max(n, 1), 1),
        "maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))), flush=True)
