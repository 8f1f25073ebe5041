"""Click commands of the connectors, registered in ``hub.cli``: ``simulate``, ``desk``, ``agency``,
``csv_import`` (``hub csv-import``) and ``forward``. Settings come from ``HUB_*`` (``hub.settings``)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from hub.cli.common import write_tokens
from hub.settings import get_settings

AGENCY_MODULES = {"dukcapil": "dukcapil", "pln": "pln", "pudam": "pudam", "bpjs_kesehatan": "bpjs"}


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@click.command()
@click.option("--rate", "-r", default=5.0, show_default=True, help="new citizen requests per second")
@click.option("--duration", "-d", default=60.0, show_default=True,
              help="seconds during which requests arrive")
@click.option("--seed", "-s", default=2026, show_default=True, help="same seed, same traffic")
@click.option("--day-seconds", default=4.0, show_default=True, help="compressed time: one working day")
@click.option("--no-anomalies", is_flag=True, help="no late, out-of-order or duplicate events")
@click.option("--dry-run", is_flag=True, help="print the schedule's summary, publish nothing")
def simulate(rate: float, duration: float, seed: int, day_seconds: float, no_anomalies: bool,
             dry_run: bool) -> None:
    """Realistic traffic from all 217 villages and the agencies' answers, published to intake."""
    from collections import Counter

    from hub.access.credentials import CredentialStore
    from hub.connectors.loops import run_until_signalled
    from hub.dev.simulator import drive, schedule
    from hub.dev.sources import SourcePublishers

    items = schedule(seed=seed, rate=rate, duration=duration, now=datetime.now(UTC), day_seconds=day_seconds,
                     anomalies=not no_anomalies)
    requests = len({s.event.request_id for s in items})
    kinds = Counter(s.anomaly or "regular" for s in items)
    click.echo(f"{requests} requests, {len(items)} events over {items[-1].at if items else 0:.0f}s "
               f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})")
    if dry_run:
        for agency, n in Counter(s.event.agency for s in items).most_common():
            click.echo(f"  {agency:16} {n}")
        return

    settings = get_settings()
    # Each village desk and agency writes its own intake topic as its own principal (their passwords from
    # HUB_ACCESS_CREDENTIALS_DIR, as the local stack keeps them); without a store, as this process.
    store = CredentialStore(settings.access_credentials_dir) if settings.access_credentials_dir else None

    async def go(stopping: asyncio.Event) -> None:
        started = time.monotonic()
        async with SourcePublishers(settings, store) as publisher:
            counts = await drive(publisher, items, stopping=stopping)
        click.echo(f"published {sum(counts.values()) - counts['failed']} events in "
                   f"{time.monotonic() - started:.1f}s ({dict(counts)})")

    asyncio.run(run_until_signalled(go))


@click.command()
@click.option("--outbox", "outbox_path", type=click.Path(path_type=Path), required=True)
@click.option("--connector", default="village_desk", show_default=True, help="metrics label")
@click.option("--chunk", default=500, show_default=True, help="events in flight at most")
@click.option("--until-empty", is_flag=True, help="stop once the outbox is empty")
@click.option("--node", default=None,
              help="the desk node whose intake topic this outbox feeds (HUB_DESK_NODES; default: the first)")
@click.option("--verbose", "-v", is_flag=True)
def forward(outbox_path: Path, connector: str, chunk: int, until_empty: bool, node: str | None,
            verbose: bool) -> None:
    """Send what a local outbox holds to the hub (store and forward), retrying while Kafka is away."""
    _logging(verbose)
    _forward(outbox_path, node=node, connector=connector, chunk=chunk, until_empty=until_empty)


def _forward(outbox_path: Path, **options: Any) -> None:
    """``hub.connectors.outbox.forward_outbox`` until done or signalled, with its tally printed."""
    from hub.connectors.loops import run_until_signalled
    from hub.connectors.outbox import forward_outbox

    settings = get_settings()

    async def go(stopping: asyncio.Event) -> None:
        sent, waiting = await forward_outbox(settings, outbox_path, stopping, **options)
        click.echo(f"sent {sent}; waiting {waiting}")

    asyncio.run(run_until_signalled(go))


@click.command("csv-import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--region", required=True, help="the importing village's region code; other rows are refused")
@click.option("--outbox", "outbox_path", type=click.Path(path_type=Path), required=True)
@click.option("--report", type=click.Path(path_type=Path), help="write the per-row error report (CSV) here")
@click.option("--send/--no-send", default=True, show_default=True, help="forward to the hub right away")
def csv_import(csv_file: Path, region: str, outbox_path: Path, report: Path | None, send: bool) -> None:
    """Import a village's offline CSV batch into its outbox (and forward it when the hub is reachable)."""
    from hub.connectors import csv_import as imp
    from hub.connectors.outbox import Outbox
    from hub.core.errors import ValidationErrors

    with Outbox(outbox_path) as outbox:
        with click.progressbar(length=imp.count_rows(csv_file), label="importing", file=sys.stderr) as bar:
            try:
                parsed, new = imp.import_file(csv_file, outbox, region=region, report=report,
                                              on_row=lambda: bar.update(1))
            except ValidationErrors as exc:
                raise click.ClickException(str(exc)) from None
    click.echo(f"{parsed.rows} rows: {len(parsed.events)} accepted ({new} new), {parsed.bad_rows} refused"
               + (f"; report in {report}" if report else ""))
    for error in parsed.errors[:20]:
        click.echo(f"  line {error.line}: {error.field}: {error.reason}", err=True)
    if send and parsed.events:
        _forward(outbox_path, until_empty=True)
    if parsed.errors:
        sys.exit(2)


@click.group()
def desk() -> None:
    """The Smart Kampung village-desk node (HTTP intake API + outbox)."""


@desk.command("serve")
@click.option("--tokens", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help='JSON {"<region code>": "<token>"} (see `desk tokens`)')
@click.option("--outbox", "outbox_path", type=click.Path(path_type=Path), default=Path("desk-outbox.sqlite"),
              show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8088, show_default=True)
@click.option("--node", default=None, help="this desk node, one of HUB_DESK_NODES (default: the first); it "
              "publishes to its own intake topic as its own principal")
def desk_serve(tokens: Path, outbox_path: Path, host: str, port: int, node: str) -> None:
    """Serve the intake API; forward the outbox; follow the MPP feed for status look-ups."""
    from hub.connectors.intake_api import DeskTokens, serve
    from hub.connectors.loops import run_until_signalled
    from hub.ops.runtime import start_process_services

    settings = get_settings()
    start_process_services(settings, "connector")  # JSON logs, /metrics, /healthz, /readyz
    click.echo(f"desk intake API on http://{host}:{port} (OpenAPI at /openapi.json)")
    asyncio.run(run_until_signalled(lambda stopping: serve(
        settings, outbox_path=outbox_path, tokens=DeskTokens.load(tokens), host=host, port=port,
        stopping=stopping, node=node)))


@desk.command("openapi")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write here (default: stdout); the repository keeps docs/openapi-village-desk.json")
def desk_openapi(out: Path | None) -> None:
    """The desk intake API's OpenAPI document, generated from its models."""
    from hub.connectors.intake_api import openapi

    _document(openapi(), out)


def _document(doc: dict, out: Path | None) -> None:
    """An API's OpenAPI document to ``out`` (the repository's docs/ keep one per API), or stdout."""
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"written to {out}")


@desk.command("tokens")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--region", "regions_", multiple=True, help="only these villages (default: all 217)")
def desk_tokens(out: Path, regions_: tuple[str, ...]) -> None:
    """Generate one bearer token per village into a JSON file (mode 0600)."""
    from hub.connectors.intake_api import DeskTokens

    tokens = DeskTokens.generate(regions_ or None)
    write_tokens(out, tokens)


@click.group()
def agency() -> None:
    """Agency connectors: dukcapil, pln, pudam, bpjs_kesehatan."""


@agency.command("run")
@click.argument("code", type=click.Choice(sorted(AGENCY_MODULES)))
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="where the connector keeps its outbox")
@click.option("--webhook-port", type=int, help="(c) accept signed HTTP callbacks on this port, checked "
              "with HUB_AGENCY_WEBHOOK_SECRET")
@click.option("--webhook-host", default="127.0.0.1", show_default=True)
def agency_run(code: str, state_dir: Path, webhook_port: int | None, webhook_host: str) -> None:
    """Run one agency's connector: follow its topic, publish its status updates.

    (b) With HUB_AGENCY_SQL_DSN set it also polls that database's hub_outbox; (c) with --webhook-port it
    accepts signed callbacks. With neither, the connector only follows the topic; agencies using Kafka
    directly embed ``hub.connectors.<agency>.connector(...)`` in their own code instead.
    """
    import importlib

    from hub.connectors.loops import run_until_signalled
    from hub.ops.runtime import start_process_services

    settings = get_settings()
    sql_dsn = settings.agency_sql_dsn.get_secret_value() if settings.agency_sql_dsn else None
    webhook_secret = (settings.agency_webhook_secret.get_secret_value() if settings.agency_webhook_secret
                      else None)
    if webhook_port and not webhook_secret:
        raise click.UsageError("--webhook-port needs HUB_AGENCY_WEBHOOK_SECRET")
    start_process_services(settings, "connector")  # JSON logs, /metrics, /healthz, /readyz
    module = importlib.import_module(f"hub.connectors.{AGENCY_MODULES[code]}")

    async def go(stopping: asyncio.Event) -> None:
        from hub.http.server import ApiServer

        connector = module.connector(settings, state_dir)
        poller = server = None
        if sql_dsn:
            from hub.connectors.sql_outbox import SqlOutboxPoller

            poller = await SqlOutboxPoller(connector, sql_dsn).start()
        await connector.start()
        tasks = [asyncio.create_task(poller.run(stopping))] if poller else []
        if webhook_port:
            from hub.connectors.webhook import create_app

            assert webhook_secret is not None  # checked above
            server = await ApiServer(create_app({code: (connector, webhook_secret)}), webhook_host,
                                     webhook_port).start()
        click.echo(f"{code} connector running ({'sql ' if sql_dsn else ''}"
                   f"{'webhook ' if webhook_port else ''}"
                   f"topic {settings.agency_topic(connector.profile.agency)})")
        await stopping.wait()
        if server:
            await server.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        if poller:
            await poller.close()
        await connector.stop()

    asyncio.run(run_until_signalled(go))


@agency.command("openapi")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write here (default: stdout); the repository keeps docs/openapi-agency-webhook.json")
def agency_openapi(out: Path | None) -> None:
    """The agency callback API's OpenAPI document (``--webhook-port``), generated from its models."""
    from hub.connectors.webhook import openapi

    _document(openapi(), out)


@agency.command("secret")
def agency_secret() -> None:
    """Print a fresh Standard Webhooks secret (whsec_...)."""
    from hub.connectors.webhook import generate_secret

    click.echo(generate_secret())
