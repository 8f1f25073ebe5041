"""The hub's table stores: memory filled fast from the changelog, and RocksDB that survives crashes.

``memory://`` becomes ``PrefilledMemoryStore``: before Faust's changelog recovery starts, every changelog
partition assigned to the worker that the store does not hold yet is read by one plain aiokafka consumer
straight into the store's dict (a million keys in seconds), and the store reports the offset it read up
to as its persisted offset, so Faust's own recovery -- about 7,000 records/s, as it handles every record
as a stream event -- only replays what was written meanwhile (``Recovery._add`` -> ``persisted_offset``).
A partition's data and offset are forgotten together when it is revoked or dropped after recovery, so a
partition that comes back is read again in full.

``rocksdb://`` becomes ``CrashSafeRocksDBStore``, a RocksDB store that never trusts local files left by
a worker that did not stop cleanly:

Faust's RocksDB store (faust-streaming 0.15.3, ``faust/stores/rocksdb.py``) writes a table entry to the
local database at once (``Store._set`` -> ``db.put``), but its changelog record only goes to the producer
buffer (``Table.on_key_set`` -> ``send_changelog``); the changelog offset is remembered in the same database
when the broker acks it (``Collection._on_changelog_sent`` -> ``Store.set_persisted_offset``). On restart,
recovery only replays the changelog *after* that offset (``Recovery._add`` -> ``persisted_offset``).

After SIGKILL (or OOM kill, power loss) the local database can therefore hold writes the changelog never
got: the source offset was not committed, so the event is consumed again, the engine finds it already in
the entry (a *redelivery*), re-sends the outputs and does not write the entry again -- so the changelog
misses that write for good, and a worker rebuilding from the changelog (another node, a lost disk, the
memory store) sees an older state. A power loss can also drop the unsynced tail of the WAL.

This store keeps, next to every partition database, a marker written once the database is opened and
removed only after a clean stop has flushed the producer (so every local write is in the changelog).
A marker left by another process means that process died with the database open: the database is
deleted before it is opened, and Faust restores the partition from the compacted changelog (correct,
just slower). After a clean stop the local files are reused and only the changelog tail is replayed.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import faust.stores
from faust.stores import memory, rocksdb
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from faust.types import TP
from yarl import URL

from hub.wire.tail import read_to_end

if TYPE_CHECKING:
    from faust.tables.base import Collection

SCHEME = "hub-rocksdb"
MEMORY_SCHEME = "hub-memory"
PREFILL_STALL_SECONDS = 60.0  # no record at all for this long while reading a changelog: give up loudly
log = logging.getLogger("hub.worker")
_TOKEN = f"{os.getpid()}-{uuid.uuid4().hex}"  # this process; a pid alone may be reused after a restart


def store_url(url: str) -> str:
    """The faust store URL to use for ``settings.table_store``: ``memory://`` and ``rocksdb://`` become
    the hub's stores above; any other URL is Faust's."""
    scheme = URL(url).scheme
    if scheme == "memory":
        faust.stores.STORES.aliases.setdefault(MEMORY_SCHEME, f"{__name__}:PrefilledMemoryStore")
        return MEMORY_SCHEME + url[len("memory"):]
    if scheme != "rocksdb":
        return url
    faust.stores.STORES.aliases.setdefault(SCHEME, f"{__name__}:CrashSafeRocksDBStore")
    return SCHEME + url[len("rocksdb"):]


class PrefilledMemoryStore(memory.Store):
    """Faust's memory store, filled from the changelog by a plain consumer before Faust's recovery."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._offsets: dict[TP, int] = {}  # changelog partitions held here -> last offset applied

    def persisted_offset(self, tp: TP) -> int | None:
        return self._offsets.get(tp)

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        if tp in self._offsets:  # a write of ours reached the changelog (the dict already has it)
            self._offsets[tp] = max(self._offsets[tp], offset)

    async def on_rebalance(self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP],
                           generation_id: int = 0) -> None:
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)
        for tp in revoked:
            self._offsets.pop(tp, None)
        topic = self.table.changelog_topic.get_topic_name()
        missing = {tp for tp in assigned if tp.topic == topic and tp not in self._offsets}
        if missing:
            await self._prefill(missing)

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        await super().on_recovery_completed(active_tps, standby_tps)  # drops keys of non-active partitions
        kept = {tp.partition for tp in active_tps}
        self._offsets = {tp: o for tp, o in self._offsets.items() if tp.partition in kept}

    async def _prefill(self, tps: set[TP]) -> None:
        started = time.monotonic()
        topic = self.table.changelog_topic.get_topic_name()
        servers = [f"{u.host}:{u.port or 9092}" for u in self.app.conf.broker_consumer]
        # The app's own credentials, turned into aiokafka arguments the way Faust's driver does it
        # (faust/transport/drivers/aiokafka.py credentials_to_aiokafka_auth).
        kafka = {"bootstrap_servers": servers,
                 **credentials_to_aiokafka_auth(self.app.conf.broker_credentials, self.app.conf.ssl_context)}
        loads_key, loads_value = self.app.serializers.loads_key, self.app.serializers.loads_value
        table = cast("Collection", self.table)  # CollectionT lacks the serializers and _to_key/_to_value
        key_type, key_ser = table.key_type, table.key_serializer
        value_type, value_ser = table.value_type, table.value_serializer
        raw = value_ser == "raw"
        data, where, last, count = self.data, self._key_partition, {}, 0
        async for r in read_to_end(kafka, topic, only={tp.partition for tp in tps}, max_records=20_000,
                                   stall_seconds=PREFILL_STALL_SECONDS,
                                   client_id=f"{self.app.conf.id}-prefill",
                                   fetch_max_bytes=64 << 20, max_partition_fetch_bytes=16 << 20):
            key = table._to_key(loads_key(key_type, r.key, serializer=key_ser))
            if r.value is None:
                data.pop(key, None)
                where.pop(key, None)
            else:
                data[key] = r.value if raw else table._to_value(
                    loads_value(value_type, r.value, serializer=value_ser))
                where[key] = r.partition
            last[r.partition] = r.offset
            count += 1
        for tp in tps:
            self._offsets[tp] = last.get(tp.partition, -1)  # Faust's recovery reads from here + 1
        log.info("table %s: %d changelog records of %d partitions read in %.1fs before recovery",
                 self.table.name, count, len(tps), time.monotonic() - started)


class CrashSafeRocksDBStore(rocksdb.Store):
    """``rocksdb.Store`` that rebuilds a partition from its changelog after an unclean stop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._armed: set[Path] = set()

    def _marker(self, partition: int) -> Path:
        path = self.partition_path(partition)
        return path.with_name(f"{path.name}.open")

    def _open_for_partition(self, partition: int) -> rocksdb.DB:
        path, marker = self.partition_path(partition), self._marker(partition)
        if _read(marker) not in (None, _TOKEN) and path.exists() and not _locked(path):
            self.log.warning("%s was left open by a worker that did not stop cleanly: deleting it, the "
                             "partition is restored from the changelog", path)
            shutil.rmtree(path)
        db = super()._open_for_partition(partition)
        if marker not in self._armed:
            _write(marker, _TOKEN)
            self._armed.add(marker)
        return db

    async def stop(self) -> None:
        try:
            # Every write to the local databases must be on the broker before they count as clean.
            await self.app.producer.flush()
        except Exception as exc:  # not clean: keep the markers, the next start rebuilds from the changelog
            self.log.warning("producer flush failed on stop, local state will be rebuilt: %r", exc)
            await super().stop()
            return
        for db in self._dbs.values():
            with contextlib.suppress(Exception):
                db.flush()
        await super().stop()
        for marker in self._armed:
            if _read(marker) == _TOKEN:
                marker.unlink(missing_ok=True)
        self._armed.clear()


def _read(marker: Path) -> str | None:
    try:
        return marker.read_text()
    except FileNotFoundError:
        return None


def _write(marker: Path, text: str) -> None:
    """Durably: a power loss must not lose the marker of a database that is in use."""
    marker.parent.mkdir(parents=True, exist_ok=True)
    with open(marker, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    fd = os.open(marker.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _locked(path: Path) -> bool:
    """Is the database open in another live process (RocksDB holds an fcntl lock on its LOCK file)?"""
    try:
        fd = os.open(path / "LOCK", os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
