"""Helpers every command module shares."""

from __future__ import annotations

import click


def or_exit(fn):  # type: ignore[no-untyped-def]
    from hub.dev.stack import StackError

    try:
        return fn()
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
