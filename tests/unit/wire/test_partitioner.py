"""The cached partitioner puts every key where Kafka's default partitioner does."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner

from hub.dev.simulator import village_requests
from hub.wire.partitioner import CachedPartitioner


@pytest.mark.parametrize("partitions", [1, 3, 6, 12, 48])
def test_same_partition_as_the_default_partitioner(partitions):
    keys = [e.request_id.encode() for e in village_requests(300, seed=3)] + [b"", b"x", "ñ".encode()]
    cached, default = CachedPartitioner(size=16), DefaultPartitioner()
    every = list(range(partitions))
    for _ in range(2):  # the second pass is answered from the cache (and the evicted keys recomputed)
        assert [cached(k, every, every) for k in keys] == [default(k, every, every) for k in keys]
    assert len(cached._hashes) <= 16


def test_a_record_without_key_goes_to_an_available_partition():
    cached = CachedPartitioner()
    assert {cached(None, [0, 1, 2, 3], [2]) for _ in range(20)} == {2}
    assert cached(None, [0, 1, 2, 3], []) in {0, 1, 2, 3}
