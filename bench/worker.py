"""``python -m bench.worker``: exactly ``hub worker``, with the bench's experimental variants.

``BENCH_UVLOOP=1`` installs uvloop's event-loop policy before the hub creates its loop. The producer
variants are the hub's own settings (``HUB_PRODUCER_LINGER_MS``, ``HUB_PRODUCER_BATCH_BYTES``), so they
need no code at all. The loop class in use is printed to the log.
"""

from __future__ import annotations

import asyncio
import os
import sys

if os.environ.get("BENCH_UVLOOP") == "1":
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

_new_loop = asyncio.new_event_loop


def _logged_new_loop():  # type: ignore[no-untyped-def]
    loop = _new_loop()
    print(f"bench.worker: event loop {type(loop).__module__}.{type(loop).__name__}",
          file=sys.stderr, flush=True)
    return loop


asyncio.new_event_loop = _logged_new_loop

from hub.cli import main  # noqa: E402

if __name__ == "__main__":
    main(["worker"])
