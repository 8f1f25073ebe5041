"""``hub mall``: the service mall's own service (``serve``) and its staff tokens (``token``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from hub.settings import get_settings


@click.group()
def mall() -> None:
    """The service mall (MPP): status API, live stream, dashboard, citizen page, disclosures."""


@mall.command("serve")
@click.option("--host", default=None, help="listen address (default HUB_MALL_HOST)")
@click.option("--port", type=int, default=None, help="port (default HUB_MALL_PORT)")
@click.option("--rebuild", is_flag=True, help="empty the view first and rebuild it from the topics")
def serve(host: str | None, port: int | None, rebuild: bool) -> None:
    """Follow mpp.feed.v1, hub.sla.v1 and hub.audit.v1 into the view and serve it over HTTP."""
    from hub.connectors.loops import run_until_signalled
    from hub.mall.service import MallService
    from hub.ops.runtime import start_process_services

    settings = get_settings()
    overrides = {k: v for k, v in (("mall_host", host), ("mall_port", port)) if v is not None}
    if overrides:
        settings = settings.model_copy(update=overrides)
    start_process_services(settings, "mall")  # JSON logs, /metrics, /healthz, /readyz
    service = MallService(settings, rebuild=rebuild)
    click.echo(f"mall service on http://{settings.mall_host}:{settings.mall_port} "
               f"(dashboard /, citizen page /citizen, OpenAPI /openapi.json)")
    asyncio.run(run_until_signalled(service.run))


@mall.command("token")
@click.option("--name", required=True, help="who (shown on the dashboard)")
@click.option("--role", type=click.Choice(["counter", "liaison", "manager"]), required=True)
@click.option("--agency", default=None, help="scope: the agency code (required for a liaison)")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="the staff file (default HUB_MALL_TOKENS_FILE)")
def token(name: str, role: str, agency: str | None, path: Path | None) -> None:
    """Add a member of staff; prints their token once (the file keeps only its SHA-256)."""
    from hub.mall.auth import Role, StaffDirectory

    path = path or get_settings().mall_tokens_file
    if path is None:
        raise click.UsageError("give --file or set HUB_MALL_TOKENS_FILE")
    if role == "liaison" and not agency:
        raise click.UsageError("a liaison needs --agency")
    click.echo(StaffDirectory.add(path, name, Role(role), agency))


@mall.command("openapi")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("docs/openapi-mall.json"), show_default=True)
def openapi_doc(out: Path) -> None:
    """Write the mall API's OpenAPI document (a unit test keeps docs/openapi-mall.json current)."""
    import json

    from hub.mall.api import openapi

    out.write_text(json.dumps(openapi(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    click.echo(f"wrote {out}")
