"""``hub asyncapi``: the AsyncAPI document (built by ``hub.wire.asyncapi``)."""

from __future__ import annotations

from pathlib import Path

import click

from hub.wire.asyncapi import default_settings, render


@click.command("asyncapi")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write here instead of printing (the committed copy is docs/asyncapi.yaml)")
@click.option("--from-env", is_flag=True, help="use HUB_* settings instead of the defaults")
def asyncapi(output: Path | None, from_env: bool) -> None:
    """Print or write the AsyncAPI 3.0 document of the hub's topics and schemas."""
    from hub.settings import get_settings

    text = render(get_settings() if from_env else default_settings())
    if output is None:
        click.echo(text, nl=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
