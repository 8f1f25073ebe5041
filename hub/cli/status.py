"""``hub status``: the operator's live terminal view (rendering in ``hub.ops.status``)."""

from __future__ import annotations

import sys
import time

import click

from hub.ops.scrape import Snapshot, scrape, summarise
from hub.ops.status import HOME_CLEAR, render


@click.command("status")
@click.option("--url", "urls", multiple=True, metavar="URL",
              help="a /metrics URL to scrape (repeat for several processes) [default: http://127.0.0.1:9464/metrics]")
@click.option("--interval", default=2.0, show_default=True, help="seconds between scrapes")
@click.option("--once", is_flag=True, help="one snapshot (two scrapes --interval apart), then exit")
@click.option("--colour/--no-colour", default=None, help="ANSI colours (default: when on a terminal)")
def status(urls: tuple[str, ...], interval: float, once: bool, colour: bool | None) -> None:
    """Live throughput, lag, dead letters and SLA health from the hub's /metrics endpoints."""
    targets = [u if "/metrics" in u else u.rstrip("/") + "/metrics" for u in urls] or \
        ["http://127.0.0.1:9464/metrics"]
    colour = sys.stdout.isatty() if colour is None else colour
    before: Snapshot | None = scrape(targets)
    if once:
        time.sleep(interval)
        now = scrape(targets)
        click.echo(render(summarise(now, before), colour=colour), nl=False)
        if not all(now.up.values()):
            sys.exit(1)
        return
    try:
        while True:
            time.sleep(interval)
            now = scrape(targets)
            click.echo(HOME_CLEAR + render(summarise(now, before), colour=colour), nl=False)
            before = now
    except KeyboardInterrupt:
        pass
