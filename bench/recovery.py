"""Time to recover a table of ``keys`` open requests after a restart = time to read its compacted
changelog topic from the beginning into a store: a dict (Faust's memory store) and rocksdict (RocksDB,
Faust's ``rocksdb://`` store uses it when installed). Values are RequestState.to_dict() JSON, the
value a request-state table holds; turning every value back into a RequestState is timed on a sample
and extrapolated (a store keeps bytes; objects are made on access)."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.core.lifecycle import RequestState

from bench.growth import build_states


def _values(n: int) -> tuple[list[bytes], list[bytes]]:
    """Keys and JSON values: a few real states as templates, request ids varied per key."""
    templates = [(rid, json.dumps(s.to_dict())) for rid, s in build_states(50).items()]
    keys, values = [], []
    for i in range(n):
        rid0, text = templates[i % len(templates)]
        rid = f"SK-3510{i % 999_983:06d}-{i:011d}"
        keys.append(rid.encode())
        values.append(text.replace(rid0, rid).encode())
    return keys, values


async def produce(bootstrap: str, topic: str, partitions: int, n: int) -> dict:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1, topic_configs={
            "cleanup.policy": "compact", "segment.bytes": str(64 << 20)})])
    finally:
        await admin.close()
    keys, values = _values(n)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=20, max_batch_size=1 << 20,
                                max_request_size=8 << 20)
    await producer.start()
    t0 = time.perf_counter()
    try:
        per_part = [[] for _ in range(partitions)]
        for i in range(n):
            per_part[i % partitions].append(i)
        pending = []
        for p, idx in enumerate(per_part):
            batch = producer.create_batch()
            for i in idx:
                if batch.append(key=keys[i], value=values[i], timestamp=None) is None:
                    pending.append(await producer.send_batch(batch, topic, partition=p))
                    batch = producer.create_batch()
                    batch.append(key=keys[i], value=values[i], timestamp=None)
            pending.append(await producer.send_batch(batch, topic, partition=p))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return {"keys": n, "value_bytes_mean": round(sum(map(len, values)) / n, 1),
            "produce_s": round(time.perf_counter() - t0, 2)}


async def read_all(bootstrap: str, topic: str, partitions: int, sink, *, tuned: bool) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    extra = {"max_partition_fetch_bytes": 8 << 20, "fetch_max_bytes": 64 << 20} if tuned else {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", **extra)
    await consumer.start()
    try:
        t0 = time.perf_counter()
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        left = {tp for tp in parts if end[tp] > 0}
        count = 0
        while left:
            batch = await consumer.getmany(*left, timeout_ms=500, max_records=50_000)
            for tp, messages in batch.items():
                sink(messages)
                count += len(messages)
                if messages[-1].offset + 1 >= end[tp]:
                    left.discard(tp)
        return count, time.perf_counter() - t0
    finally:
        await consumer.stop()


def recovery_bench(bootstrap: str, keys: int, partitions: int, workdir: Path) -> dict:
    topic = f"bench.recovery-{keys}.changelog"
    out: dict = {"partitions": partitions, **asyncio.run(produce(bootstrap, topic, partitions, keys))}

    table: dict[bytes, bytes] = {}

    def to_dict(messages) -> None:  # type: ignore[no-untyped-def]
        for m in messages:
            table[m.key] = m.value

    n, secs = asyncio.run(read_all(bootstrap, topic, partitions, to_dict, tuned=False))
    out["into_dict"] = {"records": n, "keys": len(table), "seconds": round(secs, 2), "records_per_s": round(n / secs)}
    table.clear()
    n, secs = asyncio.run(read_all(bootstrap, topic, partitions, to_dict, tuned=True))
    out["into_dict_tuned_fetch"] = {"records": n, "seconds": round(secs, 2), "records_per_s": round(n / secs),
                                    "settings": "max_partition_fetch_bytes=8MiB, fetch_max_bytes=64MiB"}
    sample = list(table.values())[:20_000]
    t0 = time.perf_counter()
    for v in sample:
        RequestState.from_dict(json.loads(v))
    per = (time.perf_counter() - t0) / max(len(sample), 1)
    out["decode_to_requeststate_us"] = round(per * 1e6, 2)
    out["decode_all_extrapolated_s"] = round(per * keys, 1)
    table.clear()
    try:
        from rocksdict import Options, Rdict, WriteBatch
    except ImportError:
        out["into_rocksdict"] = {"error": "rocksdict not installed (.venv/bin/pip install rocksdict)"}
        return out
    path = Path(workdir) / "recovery.rocksdb"
    shutil.rmtree(path, ignore_errors=True)
    opts = Options(raw_mode=True)
    db = Rdict(str(path), options=opts)

    def to_rocks(messages) -> None:  # type: ignore[no-untyped-def]
        wb = WriteBatch(raw_mode=True)
        for m in messages:
            wb.put(m.key, m.value)
        db.write(wb)

    try:
        n, secs = asyncio.run(read_all(bootstrap, topic, partitions, to_rocks, tuned=True))
        db.flush()
        out["into_rocksdict"] = {"records": n, "seconds": round(secs, 2), "records_per_s": round(n / secs),
                                 "settings": "raw_mode, one WriteBatch per fetch, tuned fetch sizes"}
    finally:
        db.close()
        shutil.rmtree(path, ignore_errors=True)
    return out
