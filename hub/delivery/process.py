"""The ``hub deliver`` process: the dispatcher and, when ``HUB_DELIVERY_API_PORT`` is set, the admin API.

Both share one store (each opens its own connection: SQLite in WAL mode serves several, PostgreSQL a
pool). The API needs ``HUB_DELIVERY_API_TOKENS_FILE``; without tokens it would let nobody in, so the
process refuses to start it.
"""

from __future__ import annotations

import asyncio
import logging

from hub.delivery.dispatcher import Dispatcher
from hub.delivery.store import open_store
from hub.settings import Settings

log = logging.getLogger("hub.delivery")


async def serve(settings: Settings, stopping: asyncio.Event) -> None:
    """Run until ``stopping`` is set (SIGTERM) or the dispatcher fails."""
    api = None
    api_store = None
    if settings.delivery_api_port:
        from hub.delivery.api import create_app
        from hub.delivery.tokens import ApiTokens
        from hub.http.server import ApiServer

        if settings.delivery_api_tokens_file is None:
            raise ValueError("HUB_DELIVERY_API_PORT needs HUB_DELIVERY_API_TOKENS_FILE "
                             "(see `hub subscriptions tokens`)")
        api_store = open_store(settings)
        await api_store.open()
        app = create_app(api_store, settings, ApiTokens.load(settings.delivery_api_tokens_file))
        api = await ApiServer(app, settings.delivery_api_host, settings.delivery_api_port).start()
        log.info("delivery admin API on %s (OpenAPI at /openapi.json)", api.url)
    try:
        await Dispatcher(settings).run(stopping)
    finally:
        if api is not None:
            await api.stop()
        if api_store is not None:
            await api_store.close()
