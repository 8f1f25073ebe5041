"""RocksDB table store that never trusts local files left by a worker that did not stop cleanly.

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
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import faust.stores
from faust.stores import rocksdb
from yarl import URL

SCHEME = "hub-rocksdb"
_TOKEN = f"{os.getpid()}-{uuid.uuid4().hex}"  # this process; a pid alone may be reused after a restart


def store_url(url: str) -> str:
    """The faust store URL to use for ``settings.table_store``: ``rocksdb://`` becomes this store."""
    if URL(url).scheme != "rocksdb":
        return url
    faust.stores.STORES.aliases.setdefault(SCHEME, f"{__name__}:CrashSafeRocksDBStore")
    return SCHEME + url[len("rocksdb"):]


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
