"""The ``hub`` command: worker, topics, the local dev stack, the demo, and connector tools."""

from __future__ import annotations

import asyncio
import sys

import click

from hub.settings import REPO_ROOT, get_settings


@click.group()
def main() -> None:
    """Banyuwangi inter-agency event hub."""


@main.command()
@click.option("--loglevel", "-l", default="info", type=click.Choice(["crit", "error", "warn", "info", "debug"]))
def worker(loglevel: str) -> None:
    """Run a hub worker (Faust): intake -> agency topics + MPP feed, bad records -> DLQ."""
    import faust

    from hub.ops.runtime import start_process_services
    from hub.streams.app import create_app
    from hub.wire.topics import ensure_topics, topic_specs

    settings = get_settings()
    asyncio.run(ensure_topics(settings, topic_specs(settings)))
    asyncio.set_event_loop(asyncio.new_event_loop())
    start_process_services(settings, "worker", log_level=loglevel)
    app = create_app(settings)
    # override_logging=False keeps the hub's JSON log handler (hub.ops.logs).
    faust.Worker(app, loglevel=loglevel, quiet=True, override_logging=False).execute_from_commandline()


@main.group()
def topics() -> None:
    """The topic catalogue."""


@topics.command("create")
def topics_create() -> None:
    """Create every hub topic that does not exist yet (partitions and replication from settings)."""
    from hub.wire.topics import ensure_topics, topic_specs

    settings = get_settings()
    created = asyncio.run(ensure_topics(settings, topic_specs(settings)))
    click.echo(f"created {len(created)} topics: {', '.join(created) or '(all existed)'}")


@topics.command("list")
def topics_list() -> None:
    """Print the topic catalogue."""
    from hub.wire.topics import topic_specs

    for spec in topic_specs(get_settings()):
        click.echo(f"{spec.name:32} p={spec.partitions} rf={spec.replication}  {spec.purpose}")


@main.group()
def dev() -> None:
    """The local real stack: Kafka (KRaft) and Apicurio Registry, fetched by Maven."""


DEV_DIR = REPO_ROOT / ".stack"


@dev.command("fetch")
def dev_fetch() -> None:
    """Fetch Kafka and Apicurio from Maven Central into the cache."""
    from hub import devstack

    dist = _or_exit(devstack.fetch)
    click.echo(f"kafka: {dist.kafka_libs}\nregistry: {dist.apicurio_dir}")


@dev.command("up")
@click.option("--kafka-port", default=9092, show_default=True)
@click.option("--registry-port", default=8081, show_default=True)
def dev_up(kafka_port: int, registry_port: int) -> None:
    """Start Kafka and the registry on loopback (state and logs in .stack/)."""
    import time

    from hub import devstack

    if devstack.LocalStack.load(DEV_DIR):
        raise click.ClickException("a dev stack is already running here; `hub dev down` first")
    ports = devstack.Ports(kafka_port, devstack.free_port(), registry_port, devstack.free_port())
    started = time.monotonic()
    stack = _or_exit(lambda: devstack.LocalStack(DEV_DIR, ports).start())
    click.echo(f"stack ready in {time.monotonic() - started:.1f}s; logs in {stack.logs}")
    for name, value in stack.env().items():
        click.echo(f"export {name}={value}")


@dev.command("down")
def dev_down() -> None:
    """Stop the stack started by `hub dev up`."""
    from hub import devstack

    stack = devstack.LocalStack.load(DEV_DIR)
    if not stack:
        click.echo("no dev stack is running")
        return
    stack.stop()
    click.echo("stopped")


@main.command()
@click.option("--rate", default=15.0, show_default=True, help="new citizen requests per second")
@click.option("--duration", default=15.0, show_default=True, help="seconds of simulated traffic")
@click.option("--seed", default=2026, show_default=True)
@click.option("--timeout", default=180.0, show_default=True, help="seconds to wait for all deliveries")
def demo(rate: float, duration: float, seed: int, timeout: float) -> None:
    """Start the stack and a worker, simulate villages and agencies, show what every subscriber received."""
    from hub.demo import run_demo

    sys.exit(_or_exit(lambda: run_demo(rate=rate, duration=duration, seed=seed, timeout=timeout)))


@main.command()
@click.option("--count", "-n", default=100, show_default=True)
@click.option("--seed", default=1, show_default=True)
def publish(count: int, seed: int) -> None:
    """Publish simulated village-desk requests through the village connector."""
    from hub.connectors.village_desk import VillageDeskConnector
    from hub.simulator import village_requests

    async def go() -> int:
        async with VillageDeskConnector(get_settings()) as desk:
            return await desk.submit_many(village_requests(count, seed=seed))

    click.echo(f"published {asyncio.run(go())} requests")


def _or_exit(fn):  # type: ignore[no-untyped-def]
    from hub.devstack import StackError

    try:
        return fn()
    except StackError as exc:
        raise click.ClickException(str(exc)) from None




def _register() -> None:
    from hub.connectors import cli as connectors
    from hub.dlq import dlq
    from hub.ops.status import status
    from hub.wire.asyncapi import asyncapi
    from hub.wire.governance import schemas

    for command in (status, dlq, schemas, asyncapi, connectors.simulate, connectors.forward,
                    connectors.csv_import, connectors.desk, connectors.agency):
        main.add_command(command)


_register()
