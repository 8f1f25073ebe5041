"""``hub topics create|list``: the topic catalogue (``hub.wire.topics``)."""

from __future__ import annotations

import asyncio

import click

from hub.settings import get_settings


@click.group()
def topics() -> None:
    """The topic catalogue."""


@topics.command("create")
def topics_create() -> None:
    """Create every hub topic that does not exist yet (partitions and replication from settings)."""
    from hub.wire.topics import ensure_topics, topic_specs

    settings = get_settings()
    created = asyncio.run(ensure_topics(settings, topic_specs(settings)))
    click.echo(f"created {len(created)} topics: {', '.join(created) or '(all existed)'}")


@topics.command("list")
def topics_list() -> None:
    """Print the topic catalogue."""
    from hub.wire.topics import topic_specs

    for spec in topic_specs(get_settings()):
        click.echo(f"{spec.name:32} p={spec.partitions} rf={spec.replication}  {spec.purpose}")
