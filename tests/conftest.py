"""Shared fixtures. Integration tests run against a real, secured Kafka broker, Apicurio Registry and
Keycloak that this test session starts itself (random free ports, temporary folders, SASL_SSL and ACLs
exactly as in production) and stops at the end.

* ``make_settings(**overrides)`` -- an isolated hub on the shared broker (own topic names, own group),
  provisioned by the hub admin as a deployment would be: topics created, schemas registered, the access
  catalogue applied for its topic names. The settings are the *admin's* (tests publish and read what they
  check with them); the processes under test run as their own principals:
* ``as_principal(settings, name)`` -- the same hub as another principal (``hub-worker``, ``agency-pln``,
  ``desk-banyuwangi``, ``mall``, ...), its password from the stack's credential store;
* ``start_worker(settings)`` -- a real ``hub worker`` process, as ``hub-worker``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hub.access.catalogue import WORKER
from hub.dev.provision import provision
from hub.dev.runner import WorkerProcess
from hub.dev.stack import LocalStack
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
    """Settings (the admin's) for an isolated, provisioned hub on the shared broker."""

    def make(*, provisioned: bool = True, **overrides: object) -> Settings:
        n = next(_counter)
        values: dict[str, object] = dict(
            topic_partitions=3, metrics_port=0, app_id=f"hub-test-{n}",
            topic_intake_desk=f"t{n}.intake.desa.{{node}}.v1",
            topic_intake_agency=f"t{n}.intake.agency.{{agency}}.v1",
            topic_feed=f"t{n}.mpp.feed.v1", topic_dlq=f"t{n}.hub.dlq.v1",
            topic_lifecycle=f"t{n}.hub.lifecycle.v1", topic_notify=f"t{n}.citizen.notify.v1",
            topic_audit=f"t{n}.hub.audit.v1", topic_sla=f"t{n}.hub.sla.v1",
            topic_agency_template=f"t{n}.agency.{{agency}}.v1",
            worker_data_dir=tmp_path_factory.mktemp(f"worker{n}"),
        )
        values.update(overrides)
        settings = stack.settings(**values)
        if provisioned:  # in a thread of its own: tests calling this may be inside a running event loop
            with ThreadPoolExecutor(1) as pool:
                pool.submit(provision, settings).result()
        return settings

    return make


@pytest.fixture(scope="session")
def as_principal(stack: LocalStack) -> Callable[[Settings, str], Settings]:
    """``as_principal(settings, "agency-pln")``: the same hub as another principal."""
    return stack.credentials.settings_for


@pytest.fixture
def start_worker(tmp_path: Path, as_principal: Callable[[Settings, str], Settings]
                 ) -> Iterator[Callable[..., WorkerProcess]]:
    """Start ``hub worker`` processes (as ``hub-worker``) for given settings;
    all are stopped after the test."""
    started: list[WorkerProcess] = []

    def start(settings: Settings, name: str = "worker") -> WorkerProcess:
        worker = WorkerProcess(as_principal(settings, WORKER).to_env(),
                               tmp_path / f"{name}-{len(started)}.log", name=name)
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
