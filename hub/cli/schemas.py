"""``hub schemas register`` / ``hub schemas check`` (plain functions in ``hub.wire.governance``)."""

from __future__ import annotations

import sys

import click

from hub.settings import Settings
from hub.wire import clients
from hub.wire.governance import LEVEL, check, register_all
from hub.wire.registry import RegistryError


@click.group()
def schemas() -> None:
    """The Avro contract in schemas/ and the schema registry."""


def _settings() -> Settings:
    from hub.settings import get_settings

    return get_settings()


@schemas.command("register")
@click.option("--global", "set_global", is_flag=True,
              help="also make BACKWARD_TRANSITIVE the registry-wide default (for subjects created later)")
def register_command(set_global: bool) -> None:
    """Set BACKWARD_TRANSITIVE on every subject and register every schema in schemas/."""
    settings = _settings()
    try:
        done = register_all(clients.registry(settings), settings, set_global=set_global)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    for subject, schema_id in done:
        click.echo(f"{schema_id:>6}  {subject}")
    click.echo(f"registered {len(done)} subjects at {LEVEL}")


@schemas.command("check")
def check_command() -> None:
    """Check every schema in schemas/ against the registry; fails naming the field on a breaking change."""
    settings = _settings()
    try:
        findings = check(clients.registry(settings), settings)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    for finding in findings:
        click.echo(f"{'ok ' if finding.ok else 'BAD'}  {finding.subject}: {finding.message}")
    bad = [f for f in findings if not f.ok]
    if bad:
        click.echo(f"{len(bad)} of {len(findings)} subjects would break their consumers", err=True)
        sys.exit(1)
    click.echo(f"all {len(findings)} subjects compatible ({LEVEL})")
