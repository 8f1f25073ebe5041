"""Never skip input of a consumer group that has not committed yet (faust-streaming 0.15 + aiokafka 0.14).

Faust "seeks stream partitions to committed offsets" at the end of every recovery
(``faust/tables/recovery.py`` ``on_recovery_completed`` / ``_resume_streams``, via
``Consumer.perform_seek``), and only *then* resumes flow control, which clears every stream queue
(``mode.utils.queues.FlowControlEvent.resume``). Records the fetcher delivered in between -- it is
already running, and the stream partitions were resumed just before the seek -- are thrown away on
the assumption that the seek rewound the position to re-read them. But aiokafka's
``seek_to_committed`` leaves the position alone when a partition has no committed offset (or 0): the
records are consumed and dropped, the position stays after them, and the worker silently skips them.
That is exactly the state after a worker is killed before its group's first offset commit.

``guard(app)`` makes that seek rewind such a partition to its start (auto_offset_reset=earliest: the
position the group would have started from), and stops the consumer flow before the seek, so nothing
is fetched between the seek and the queue clearing (faust resumes the flow right after; that window
exists for committed partitions too). Records the agent already handled before the seek are handled
again, which is harmless (the engine deduplicates by event id); none are lost.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import faust

log = logging.getLogger("hub.worker")


def guard(app: faust.App) -> faust.App:
    """Install the rewind on the consumer ``app`` creates (call before the worker starts)."""
    new_consumer = app._new_consumer

    def _new_consumer() -> Any:
        consumer = new_consumer()
        _guard_consumer(app, consumer)
        return consumer

    app._new_consumer = _new_consumer  # type: ignore[method-assign]
    return app


def _guard_consumer(app: faust.App, consumer: Any) -> None:
    seek_to_committed = consumer.seek_to_committed

    async def seek_to_committed_or_beginning() -> Mapping[Any, int | None]:
        # Nothing may be fetched and queued between the seek and faust clearing the queues: a fetch there
        # moves the position past records that are then dropped. Every caller of perform_seek resumes the
        # flow right after it (recovery) or has already stopped it (Consumer.getmany).
        if consumer.flow_active:
            consumer.stop_flow()
        committed = await seek_to_committed()
        changelogs = app.tables.changelog_topics  # standby/active changelogs: positioned by recovery itself
        fresh = sorted((tp for tp, offset in committed.items() if not offset and tp.topic not in changelogs),
                       key=lambda tp: (tp.topic, tp.partition))
        if fresh:
            # Offset 0; if retention removed it, aiokafka resets to the earliest offset (auto_offset_reset).
            await consumer.seek_wait({tp: 0 for tp in fresh})
            log.info("no committed offset: %s read from the beginning",
                     ", ".join(f"{tp.topic}[{tp.partition}]" for tp in fresh))
        return committed

    consumer.seek_to_committed = seek_to_committed_or_beginning
