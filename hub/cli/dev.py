"""``hub dev fetch|up|down``, ``hub demo``, ``hub publish``: the local stack and the demo (``hub.dev``)."""

from __future__ import annotations

import asyncio
import sys

import click

from hub.cli.common import or_exit
from hub.settings import REPO_ROOT, get_settings


@click.group()
def dev() -> None:
    """The local real stack: Kafka (KRaft) and Apicurio Registry, fetched by Maven."""


DEV_DIR = REPO_ROOT / ".stack"


@dev.command("fetch")
def dev_fetch() -> None:
    """Fetch Kafka and Apicurio from Maven Central into the cache."""
    from hub.dev import stack as devstack

    dist = or_exit(devstack.fetch)
    click.echo(f"kafka: {dist.kafka_libs}\nregistry: {dist.apicurio_dir}")


@dev.command("up")
@click.option("--kafka-port", default=9092, show_default=True)
@click.option("--registry-port", default=8081, show_default=True)
def dev_up(kafka_port: int, registry_port: int) -> None:
    """Start the secured stack on loopback (state, CA, credentials and logs in .stack/) and provision the hub
    (topics, schemas, principals); prints the hub admin's environment."""
    import time

    from hub.dev import stack as devstack
    from hub.dev.provision import provision

    if devstack.LocalStack.load(DEV_DIR):
        raise click.ClickException("a dev stack is already running here; `hub dev down` first")
    free = devstack.free_port
    ports = devstack.Ports(kafka_port, free(), free(), registry_port, free(), free(), free())
    started = time.monotonic()
    stack = or_exit(lambda: devstack.LocalStack(DEV_DIR, ports).start())
    provision(stack.settings(), all_subjects=True)
    click.echo(f"stack ready and provisioned in {time.monotonic() - started:.1f}s; logs in {stack.logs}; "
               f"principals' passwords in {stack.credentials.folder}")
    for name, value in stack.env().items():
        if name == "HUB_KAFKA_PASSWORD":  # never on the screen: read from the credential store
            value = f"$(cat {stack.credentials.folder}/hub-admin.password)"
        click.echo(f"export {name}={value}")


@dev.command("down")
def dev_down() -> None:
    """Stop the stack started by `hub dev up`."""
    from hub.dev import stack as devstack

    stack = devstack.LocalStack.load(DEV_DIR)
    if not stack:
        click.echo("no dev stack is running")
        return
    stack.stop()
    click.echo("stopped")


@click.command()
@click.option("--rate", default=15.0, show_default=True, help="new citizen requests per second")
@click.option("--duration", default=15.0, show_default=True, help="seconds of simulated traffic")
@click.option("--seed", default=2026, show_default=True)
@click.option("--timeout", default=180.0, show_default=True, help="seconds to wait for all deliveries")
def demo(rate: float, duration: float, seed: int, timeout: float) -> None:
    """Start the stack and a worker, simulate villages and agencies, show what every subscriber received."""
    from hub.dev.demo import run_demo

    sys.exit(or_exit(lambda: run_demo(rate=rate, duration=duration, seed=seed, timeout=timeout)))


@click.command()
@click.option("--count", "-n", default=100, show_default=True)
@click.option("--seed", default=1, show_default=True)
def publish(count: int, seed: int) -> None:
    """Publish simulated village-desk requests through the village connector."""
    from hub.connectors.village_desk import VillageDeskConnector
    from hub.dev.simulator import village_requests

    async def go() -> int:
        async with VillageDeskConnector(get_settings()) as desk:
            return await desk.submit_many(village_requests(count, seed=seed))

    click.echo(f"published {asyncio.run(go())} requests")
