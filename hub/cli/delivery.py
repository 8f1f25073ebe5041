"""Push delivery: ``hub deliver``, ``hub subscriptions ...`` and ``hub deliveries ...`` (thin commands over
``hub.delivery.service``; the store is the one of ``HUB_DELIVERY_STORE``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from hub.cli.common import write_tokens
from hub.settings import get_settings

T = TypeVar("T")


def _with_store(fn: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``fn(store)`` with the settings' store opened, and close it."""
    from hub.core.errors import ValidationError
    from hub.delivery.service import NotFound
    from hub.delivery.store import open_store

    async def go() -> T:
        store = open_store(get_settings())
        await store.open()
        try:
            return await fn(store)
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except ValidationError as exc:
        raise click.ClickException(str(exc)) from None
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None


def _when(value: str | None) -> float | None:
    if not value:
        return None
    try:
        found = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value[:40]!r} is not an ISO 8601 time") from None
    return (found if found.tzinfo else found.replace(tzinfo=UTC)).timestamp()


def _show(data: object) -> None:
    click.echo(json.dumps(data, indent=1, ensure_ascii=False))


# -- hub deliver ------------------------------------------------------------------------------------
@click.command()
@click.option("--api-port", type=int, help="serve the admin API on this port (HUB_DELIVERY_API_PORT)")
@click.option("--loglevel", "-l", default="info", type=click.Choice(["error", "warn", "info", "debug"]))
def deliver(api_port: int | None, loglevel: str) -> None:
    """Run the dispatcher: agency topics -> agency HTTPS endpoints (Standard Webhooks)."""
    from hub.connectors.loops import run_until_signalled
    from hub.delivery.process import serve
    from hub.ops.runtime import start_process_services

    settings = get_settings()
    if api_port is not None:
        settings = settings.model_copy(update={"delivery_api_port": api_port})
    start_process_services(settings, "dispatcher", log_level=loglevel)
    asyncio.run(run_until_signalled(lambda stopping: serve(settings, stopping)))


# -- hub subscriptions ------------------------------------------------------------------------------
@click.group()
def subscriptions() -> None:
    """Agency endpoints that receive events by HTTPS push."""


@subscriptions.command("add")
@click.option("--agency", required=True, help="catalogue code, e.g. pln")
@click.option("--url", required=True, help="https://... (verified by a signed challenge)")
@click.option("--event-type", "event_types", multiple=True, help="CloudEvents type or prefix* (repeatable)")
@click.option("--service", "service_codes", multiple=True, help="service code or prefix* (repeatable)")
@click.option("--status", "statuses", multiple=True, help="canonical status (repeatable)")
@click.option("--region", "regions", multiple=True, help="village, kecamatan or regency code (repeatable)")
@click.option("--mode", type=click.Choice(["standard", "fifo"]), default="standard", show_default=True)
@click.option("--rate-limit", type=float, help="requests per second at most")
@click.option("--description", default="")
@click.option("--secret", help="whsec_... to use (default: a new one)")
def subscriptions_add(agency: str, url: str, event_types: tuple[str, ...], service_codes: tuple[str, ...],
                      statuses: tuple[str, ...], regions: tuple[str, ...], mode: str,
                      rate_limit: float | None, description: str, secret: str | None) -> None:
    """Register an endpoint; prints it with its secret (give the secret to the agency)."""
    from hub.delivery import service

    spec = service.EndpointIn(agency=agency, url=url, mode=mode, rate_limit=rate_limit,
                              description=description, secret=secret,
                              filters=service.FiltersIn(event_types=list(event_types) or ["*"],
                                                        service_codes=list(service_codes) or ["*"],
                                                        statuses=list(statuses) or ["*"],
                                                        regions=list(regions) or ["*"]))
    endpoint = _with_store(lambda store: service.create_endpoint(store, get_settings(), spec))
    _show(service.with_secret(endpoint))


@subscriptions.command("list")
@click.option("--agency", help="only this agency's endpoints")
def subscriptions_list(agency: str | None) -> None:
    """One line per endpoint: id, agency, status, mode, URL."""
    endpoints = _with_store(lambda store: store.list_endpoints(agency))
    for e in endpoints:
        click.echo(f"{e.id}  {e.agency:16} {e.status.value:8} {e.mode.value:8} {e.url}"
                   + (f"  ({e.disabled_reason})" if e.disabled_reason else ""))
    click.echo(f"{len(endpoints)} endpoints")


def _endpoint_command(name: str, doc: str, action: Callable[..., Awaitable[Any]]) -> None:
    @subscriptions.command(name, help=doc)
    @click.argument("endpoint_id")
    def command(endpoint_id: str) -> None:
        endpoint = _with_store(lambda store: action(store, endpoint_id))
        click.echo(f"{endpoint.id}: {endpoint.status.value}")


def _register_endpoint_commands() -> None:
    from hub.delivery import service

    _endpoint_command("pause", "Hold deliveries to an endpoint (none attempted, none lost).", service.pause)
    _endpoint_command("resume", "Deliver again to a paused or disabled endpoint.", service.resume)


_register_endpoint_commands()


@subscriptions.command("rotate-secret")
@click.argument("endpoint_id")
def subscriptions_rotate(endpoint_id: str) -> None:
    """New secret; the previous one keeps signing for 24 h (both signatures are sent meanwhile)."""
    from hub.delivery import service

    endpoint = _with_store(lambda store: service.rotate_secret(store, get_settings(), endpoint_id))
    _show({"id": endpoint.id, "secret": endpoint.secret,
           "previous_valid_until": endpoint.public()["rotating_until"]})


@subscriptions.command("remove")
@click.argument("endpoint_id")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def subscriptions_remove(endpoint_id: str, yes: bool) -> None:
    """Remove an endpoint with its deliveries and attempt log."""
    from hub.delivery import service

    if not yes:
        click.confirm(f"remove {endpoint_id} and its deliveries?", abort=True)
    _with_store(lambda store: service.remove(store, endpoint_id))
    click.echo(f"{endpoint_id} removed")


@subscriptions.command("tokens")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def subscriptions_tokens(out: Path) -> None:
    """Generate admin API tokens (admin + one per agency) into a JSON file (mode 0600)."""
    from hub.delivery.tokens import ApiTokens

    tokens = ApiTokens.generate()
    write_tokens(out, tokens)


# -- hub deliveries ---------------------------------------------------------------------------------
@click.group()
def deliveries() -> None:
    """Deliveries to agency endpoints: list, show (with the attempt log), resend, recover."""


@deliveries.command("list")
@click.option("--endpoint", "endpoint_id", help="one endpoint's deliveries")
@click.option("--state", "states", multiple=True,
              type=click.Choice(["sending", "scheduled", "held", "delivered", "exhausted", "skipped"]))
@click.option("--since", help="created at or after (ISO 8601; UTC if no zone)")
@click.option("--until", help="created before (ISO 8601; UTC if no zone)")
@click.option("--limit", default=50, show_default=True)
def deliveries_list(endpoint_id: str | None, states: tuple[str, ...], since: str | None, until: str | None,
                    limit: int) -> None:
    """One line per delivery: created, id, endpoint, state, attempts, request, sequence."""
    from hub.delivery.model import State, utc

    page = _with_store(lambda store: store.list_deliveries(
        endpoint_id=endpoint_id, states=[State(s) for s in states], since=_when(since), until=_when(until),
        limit=limit))
    for d in page.deliveries:
        next_at = f" next {utc(d.next_at)}" if d.next_at else ""
        click.echo(f"{utc(d.created_at)} {d.id} {d.endpoint_id} {d.state.value:9} attempts={d.attempts} "
                   f"{d.request_id}#{d.seq}{next_at}" + (f" last={d.last_error}" if d.last_error else ""))
    more = " (more: narrow the window or raise --limit)" if page.next_cursor else ""
    click.echo(f"{len(page.deliveries)} deliveries{more}")


@deliveries.command("show")
@click.argument("delivery_id")
def deliveries_show(delivery_id: str) -> None:
    """A delivery and its attempt log (never its payload)."""
    from hub.delivery import service

    async def get(store: Any) -> dict[str, Any]:
        d = await service.get_delivery(store, delivery_id)
        return {**d.public(), "attempt_log": [a.public() for a in await store.attempts(d.id)]}

    _show(_with_store(get))


@deliveries.command("resend")
@click.argument("delivery_id")
def deliveries_resend(delivery_id: str) -> None:
    """Send a delivery again now (a new round of the retry schedule)."""
    from hub.delivery import service

    d = _with_store(lambda store: service.resend(store, delivery_id))
    click.echo(f"{d.id}: {d.state.value}, due now")


@deliveries.command("recover")
@click.option("--since", required=True, help="created at or after (ISO 8601; UTC if no zone)")
@click.option("--until", help="created before (ISO 8601; UTC if no zone)")
@click.option("--endpoint", "endpoint_id", help="only this endpoint")
@click.option("--dry-run", is_flag=True, help="count, send nothing")
def deliveries_recover(since: str, until: str | None, endpoint_id: str | None, dry_run: bool) -> None:
    """Send again every exhausted or skipped delivery created in the window."""
    from hub.delivery import service

    count = _with_store(lambda store: service.recover(store, since=_when(since) or 0.0, until=_when(until),
                                                      endpoint_id=endpoint_id, dry_run=dry_run))
    click.echo(f"{count} deliveries " + ("would be sent again (dry run)" if dry_run else "due again now"))
