"""Shared fixtures. Integration tests run against a real Kafka broker and Apicurio Registry that this
test session starts itself (random free ports, temporary folders) and stops at the end."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hub.dev.stack import LocalStack
from hub.dev.runner import WorkerProcess
from hub.settings import Settings

_counter = itertools.count()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A real PostgreSQL for this test session (password auth, loopback, temporary folder): its DSN.
    Tests create their own databases in it (``CREATE DATABASE``) to stay apart."""
    from hub.dev.postgres import LocalPostgres

    with LocalPostgres() as pg:
        yield pg.dsn


@pytest.fixture(scope="session")
def make_settings(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Settings]:
    """Settings for an isolated hub on the shared broker: own topic names, own consumer group."""

    def make(**overrides: object) -> Settings:
        n = next(_counter)
        values: dict[str, object] = dict(
            bootstrap_servers=stack.bootstrap, registry_url=stack.registry_url,
            topic_partitions=3, metrics_port=0, app_id=f"hub-test-{n}",
            topic_intake=f"t{n}.hub.intake.v1", topic_feed=f"t{n}.mpp.feed.v1", topic_dlq=f"t{n}.hub.dlq.v1",
            topic_lifecycle=f"t{n}.hub.lifecycle.v1", topic_notify=f"t{n}.citizen.notify.v1",
            topic_audit=f"t{n}.hub.audit.v1", topic_sla=f"t{n}.hub.sla.v1",
            topic_agency_template=f"t{n}.agency.{{agency}}.v1",
            worker_data_dir=tmp_path_factory.mktemp(f"worker{n}"),
        )
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[[Settings], WorkerProcess]]:
    """Start ``hub worker`` processes for given settings; all are stopped after the test."""
    started: list[WorkerProcess] = []

    def start(settings: Settings, name: str = "worker") -> WorkerProcess:
        worker = WorkerProcess(settings.to_env(), tmp_path / f"{name}-{len(started)}.log", name=name)
        started.append(worker)
        worker.start().wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.integration)
