"""What the hub admin does before a hub runs, in one call: the demo, the tests and the benchmarks use it.

A deployment runs the same three steps as commands, as the admin principal (the Kubernetes Job
``deploy/k8s/provision-job.yaml``, the ``provision`` service of ``deploy/compose.yaml``):
``hub topics create`` (every topic of the catalogue, partitions and replication from the settings),
``hub schemas register`` (every subject, BACKWARD_TRANSITIVE) and ``hub access apply`` (every principal's
credential, ACLs and quota). All three are idempotent.
"""

from __future__ import annotations

import asyncio

from hub.access.apply import Access
from hub.access.credentials import store_of
from hub.settings import Settings
from hub.wire.clients import registry
from hub.wire.governance import register_all
from hub.wire.topics import ensure_topics, topic_specs


def provision(settings: Settings, *, all_subjects: bool = False) -> None:
    """Topics, schemas, principals and ACLs of the hub ``settings`` describe (``settings``: the admin's).
    Not from inside a running event loop (it runs its own); ``all_subjects`` also registers the records
    that travel on no topic (once per registry)."""
    asyncio.run(ensure_topics(settings, topic_specs(settings)))
    register_all(registry(settings), settings, on_topics_only=not all_subjects)
    with Access(settings, store_of(settings)) as access:
        access.apply()
