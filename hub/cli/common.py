"""Helpers every command module shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

T = TypeVar("T")


def or_exit(fn: Callable[[], T]) -> T:
    from hub.dev.stack import StackError

    try:
        return fn()
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
