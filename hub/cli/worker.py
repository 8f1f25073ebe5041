"""``hub worker``: one Faust worker process (scale with processes, never agent concurrency)."""

from __future__ import annotations

import asyncio

import click

from hub.settings import get_settings


@click.command()
@click.option("--loglevel", "-l", default="info",
              type=click.Choice(["crit", "error", "warn", "info", "debug"]))
def worker(loglevel: str) -> None:
    """Run a hub worker (Faust): intake -> agency topics + MPP feed, bad records -> DLQ."""
    import faust

    from hub.ops.runtime import start_process_services
    from hub.streams.app import create_app
    from hub.wire.topics import missing_topics, topic_specs

    settings = get_settings()
    missing = asyncio.run(missing_topics(settings, [spec.name for spec in topic_specs(settings)]))
    if missing:
        raise click.ClickException(
            f"{len(missing)} of the hub's topics are missing or not visible to {settings.kafka_username}: "
            f"{', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}. "
            f"The hub admin creates them and grants access: `hub topics create`, `hub schemas register`, "
            f"`hub access apply`")
    asyncio.set_event_loop(asyncio.new_event_loop())
    start_process_services(settings, "worker", log_level=loglevel)
    app = create_app(settings)
    # override_logging=False keeps the hub's JSON log handler (hub.ops.logs).
    faust.Worker(app, loglevel=loglevel, quiet=True, override_logging=False).execute_from_commandline()
