"""The ``hub`` command line: one package, one module per family of commands.

Each command is a thin click function over a plain function of the layer it belongs to (``hub.streams``,
``hub.wire``, ``hub.connectors``, ``hub.ops``, ``hub.dev``, ...); no module outside this package imports
click.
"""

from __future__ import annotations

import click


@click.group()
def main() -> None:
    """Banyuwangi inter-agency event hub."""


def _register() -> None:
    """Every command module adds its commands to ``main`` here (one place to look)."""
    from hub.cli import (
        access,
        asyncapi,
        connectors,
        delivery,
        dev,
        dlq,
        mall,
        schemas,
        status,
        topics,
        worker,
    )

    for command in (worker.worker, topics.topics, access.access, dev.dev, dev.demo, dev.publish,
                    status.status, dlq.dlq, schemas.schemas, asyncapi.asyncapi, connectors.simulate,
                    connectors.forward, connectors.csv_import, connectors.desk, connectors.agency, mall.mall,
                    delivery.deliver, delivery.subscriptions, delivery.deliveries):
        main.add_command(command)


_register()
