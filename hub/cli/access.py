"""``hub access apply|grant|revoke|rotate|list``: principals and their rights (``hub.access``), as the hub
admin."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from hub.settings import Settings, get_settings

if TYPE_CHECKING:
    from hub.access.apply import Access
    from hub.access.catalogue import Principal


@click.group()
def access() -> None:
    """Who may do what on the brokers and in the schema registry (run as the hub admin)."""


def _access() -> tuple[Settings, Access]:
    from hub.access.apply import Access
    from hub.access.credentials import store_of

    settings = get_settings()
    try:
        return settings, Access(settings, store_of(settings))
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None


def _principal(settings: Settings, name: str) -> Principal:
    from hub.access import catalogue

    try:
        return catalogue.find(settings, name)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None


@access.command("apply")
@click.option("--prune", is_flag=True,
              help="also remove ACLs the catalogue no longer lists (not on a cluster several hubs share)")
def apply_command(prune: bool) -> None:
    """Make the brokers, the registry's identity provider and the credential store match the catalogue."""
    settings, handle = _access()
    with handle:
        for applied in handle.apply(prune=prune):
            click.echo(str(applied))


@access.command("grant")
@click.argument("principal")
def grant_command(principal: str) -> None:
    """Create one principal's credential, ACLs and quota (e.g. `agency:pln`, `desk:glagah`, `mall`)."""
    settings, handle = _access()
    with handle:
        click.echo(str(handle.grant(_principal(settings, principal))))


@access.command("revoke")
@click.argument("principal")
@click.confirmation_option(prompt="Remove this principal's rights and credential?")
def revoke_command(principal: str) -> None:
    """Remove a principal's ACLs, quota, registry client and credential."""
    settings, handle = _access()
    with handle:
        removed = handle.revoke(_principal(settings, principal))
    click.echo(f"{principal}: {len(removed)} ACLs and the credential removed")


@access.command("rotate")
@click.argument("principal")
@click.option("--show", is_flag=True,
              help="print the new password (otherwise only the credential store has it)")
def rotate_command(principal: str, show: bool) -> None:
    """Give a principal a new password (its live connections re-authenticate within 10 minutes)."""
    settings, handle = _access()
    with handle:
        password = handle.rotate(_principal(settings, principal))
    click.echo(f"{principal}: new password in force" + (f": {password}" if show else ""))


@access.command("list")
def list_command() -> None:
    """Every principal of the catalogue and what the brokers hold for it."""
    from hub.access import catalogue

    settings, handle = _access()
    with handle:
        for p in catalogue.principals(settings):
            if p.super_user:
                click.echo(f"{p.name:24} super user (the brokers' super.users): {p.description}")
                continue
            has_credential, held = handle.held(p)
            wanted = set(p.grants)
            state = "ok" if wanted <= held and has_credential else "NOT APPLIED"
            click.echo(f"{p.name:24} {state:11} {p.description}; registry {p.registry_role}"
                       + (f"; quota {p.quota_bytes} B/s" if p.quota_bytes else ""))
            for grant in sorted(wanted):
                click.echo(f"    {'' if grant in held else 'missing: '}{grant}")
