"""Helpers every command module shares."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import click

T = TypeVar("T")


def or_exit(fn: Callable[[], T]) -> T:
    from hub.dev.stack import StackError

    try:
        return fn()
    except StackError as exc:
        raise click.ClickException(str(exc)) from None


def write_tokens(out: Path, tokens: Mapping[str, str]) -> None:
    """Write bearer tokens as JSON readable by the owner only (mode 0600) and say so."""
    out.write_text(json.dumps(tokens, indent=1))
    os.chmod(out, 0o600)
    click.echo(f"{len(tokens)} tokens written to {out}")
