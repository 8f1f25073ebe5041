"""Records no well-behaved client writes, for tests: header keys that are not UTF-8.

aiokafka's builders encode every header key as UTF-8 text. :class:`RawKey` is a ``str`` whose ``encode``
returns chosen bytes, and aiokafka's pure-Python batch builder (``_DefaultRecordBatchBuilderPy``, which
calls ``h_key.encode("utf-8")``) then writes those bytes as the key and computes a valid CRC, so the
broker accepts the batch as any other.
"""

from __future__ import annotations

import time

from aiokafka import AIOKafkaProducer
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy


class RawKey(str):
    """A header key whose bytes on the wire are ``raw`` (any bytes, UTF-8 or not)."""

    raw: bytes

    def __new__(cls, raw: bytes) -> RawKey:
        obj = super().__new__(cls, "k" * len(raw))
        obj.raw = raw
        return obj

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:  # type: ignore[override]
        return self.raw


def batch_bytes(records: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]) -> bytes:
    """A v2 record batch (what a fetch returns, after the 12-byte offset/length log header)."""
    builder = _DefaultRecordBatchBuilderPy(2, 0, 0, -1, -1, -1, 1 << 20)
    now = int(time.time() * 1000)
    for i, (key, value, headers) in enumerate(records):
        assert builder.append(i, now, key, value, headers) is not None
    return bytes(builder.build())


async def send_raw(producer: AIOKafkaProducer, topic: str, partition: int,
                   records: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]) -> None:
    """Send ``records`` as one batch built by the pure-Python builder (``producer``: not idempotent)."""
    batch = producer.create_batch()
    batch._builder = _DefaultRecordBatchBuilderPy(2, 0, 0, -1, -1, -1, 1 << 20)
    for key, value, headers in records:
        assert batch.append(timestamp=None, key=key, value=value, headers=headers) is not None
    batch.close()
    await (await producer.send_batch(batch, topic, partition=partition))
