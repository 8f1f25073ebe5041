"""``hub dev fetch|up|down|pki|credentials``, ``hub demo``, ``hub publish``: the local stack, the demo and the
first secrets of a deployment (``hub.dev``)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

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


def _octal(value: str, option: str) -> int:
    try:
        return int(value, 8)
    except ValueError:
        raise click.BadParameter(f"{value[:10]!r} is not an octal mode", param_hint=option) from None


def _server(value: str) -> tuple[str, tuple[str, ...]]:
    name, sep, hosts = value.partition("=")
    names = tuple(h.strip() for h in hosts.split(",") if h.strip())
    if not sep or not name or not names:
        raise click.BadParameter(f"{value[:80]!r} is not NAME=HOST[,HOST...]", param_hint="--server")
    return name, names


@dev.command("pki")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--server", "servers", multiple=True, metavar="NAME=HOST[,HOST...]",
              help="one certificate with common name NAME for these host names (repeat; `broker` is the "
              "brokers' own, mapped to User:broker); none: the local stack's single certificate")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 825))
@click.option("--key-mode", default="600", show_default=True, help="octal mode of the key files (644 when "
              "a server runs as another user and its folder is a volume only it mounts)")
@click.option("--force", is_flag=True, help="replace an existing CA (every server and client then needs the "
              "new one)")
def dev_pki(out: Path, servers: tuple[str, ...], days: int, key_mode: str, force: bool) -> None:
    """Make a development CA and server certificates (the compose stack's `certs` step). Keeps an existing
    CA unless --force: production uses the regency's own PKI."""
    import datetime as dt

    from hub.dev.pki import make_dev_pki, make_service_pki

    mode, hosts = _octal(key_mode, "--key-mode"), dict(_server(s) for s in servers)
    existing = out / "ca" / "ca.pem" if servers else out / "ca.pem"
    if existing.exists() and not force:
        click.echo(f"{existing} exists: kept (--force to replace)")
        return
    if hosts:
        made = make_service_pki(out, hosts, validity=dt.timedelta(days=days), key_mode=mode)
        click.echo(f"CA {out / 'ca' / 'ca.pem'}; certificates for {', '.join(made)}")
    else:
        click.echo(f"CA {make_dev_pki(out).ca}")


@dev.command("credentials")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="the credential store (HUB_ACCESS_CREDENTIALS_DIR): one <name>.password file each")
@click.option("--extra", multiple=True, metavar="NAME", help="also a password for NAME (e.g. a database's)")
@click.option("--file-mode", default="600", show_default=True, help="octal mode of the new files (644 for "
              "compose secrets, which keep the host file's mode inside containers running as other "
              "users; the folder stays 0700)")
def dev_credentials(out: Path, extra: tuple[str, ...], file_mode: str) -> None:
    """A password for every principal of the catalogue (HUB_* settings) that has none yet, before a
    deployment's first start: `hub access apply` then takes them from this store. Never prints one."""
    from hub.access.catalogue import principals
    from hub.access.credentials import CredentialStore

    mode = _octal(file_mode, "--file-mode")
    store = CredentialStore(out)
    names = [p.name for p in principals(get_settings())] + list(extra)
    made = [name for name in names if not store.exists(name)]
    for name in made:  # existing passwords (and their modes) are left alone
        store.password(name)
        os.chmod(out / f"{name}.password", mode)
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    click.echo(f"{len(made)} new, {len(names) - len(made)} kept in {out}")


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
