"""Raw aiokafka pass-through, the fair comparator for the router: ``python -m bench.passthrough '<json>'``.

Consumes ``in_topic`` in a consumer group and produces each record to every one of ``out_topics``,
unchanged (key, value, headers): no decoding, no validation. It runs as the principal in its environment
(``HUB_*``: the hub worker's, on a provisioned bench hub's intake and output topics, in the worker's group),
over SASL_SSL like every hub client, so the comparison with the hub is like for like. Same guarantees as the
hub worker:
at-least-once (the producer is flushed before offsets are committed, about once a second), acks=all,
and the producer settings of Faust's defaults (linger 0, 16 KiB batches) unless told otherwise.
Prints ``READY`` once it has partitions; stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time


async def main(args: dict) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from hub.settings import Settings
    from hub.wire.clients import kafka_options

    options = kafka_options(Settings())
    out_topics = list(args["out_topics"])
    consumer = AIOKafkaConsumer(args["in_topic"], **options, group_id=args["group"],
                                enable_auto_commit=False, auto_offset_reset="earliest")
    producer = AIOKafkaProducer(**options, acks="all",
                                linger_ms=int(args.get("linger_ms", 0)),
                                max_batch_size=int(args.get("max_batch_size", 16384)))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await producer.start()
    await consumer.start()
    ready = False
    last_commit = time.monotonic()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            if not ready and consumer.assignment():
                print("READY", flush=True)
                ready = True
            for messages in batch.values():
                for m in messages:
                    for out_topic in out_topics:
                        await producer.send(out_topic, m.value, key=m.key, headers=list(m.headers))
            if time.monotonic() - last_commit > 1.0:
                await producer.flush()
                await consumer.commit()
                last_commit = time.monotonic()
    finally:
        await producer.flush()
        await consumer.stop()
        await producer.stop()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
