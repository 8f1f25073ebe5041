"""Bench hubs on the secured local stack, and the code they run ("after": this tree; "before": a git ref).

Every configuration of a run is a hub of its own on the one broker (own topic names, own consumer group),
provisioned exactly as a deployment is (``hub.dev.provision``: topics, schemas, principals and ACLs, as the
admin). Each process runs as its own principal, as in production: the load generator as the village-desk
node that owns the desk intake topic (``hub.dev.sources``), the hub workers and the raw pass-through as
``hub-worker``, the subscriber and the bookkeeping as the admin. Every client connects with SASL_SSL and
SCRAM-SHA-512 (``hub.wire.clients.kafka_options``), the raw aiokafka baselines included, so that a ratio
compares like with like.

Client quotas are raised for the bench's hubs (``client_quota_bytes``): the production default (1 MiB/s per
desk principal) would cap the load generator, not the hub.

The "before" code is a git commit of this repository exported to a folder (``git archive``); its worker runs
with that folder first on ``PYTHONPATH`` (and as its working directory), in the same virtualenv, against a
hub provisioned by its own code. So one ``make bench`` measures both with the same broker, machine and load.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from hub.access.catalogue import WORKER, desk_principal
from hub.dev.stack import LocalStack, free_port
from hub.settings import REPO_ROOT, Settings

#: The desk node every simulated request comes from (the default ``desk_nodes`` serve all of 35.10).
NODE = "banyuwangi"
#: Produce and fetch quota of the bench's principals (bytes/s per broker): far above what a run moves.
QUOTA = 1 << 30


@dataclass
class Code:
    """Which hub code a process runs: ``root`` None is this tree; else an exported commit."""

    name: str = "after"
    ref: str | None = None
    root: Path | None = None

    def env(self) -> dict[str, str]:
        if self.root is None:
            return {}
        return {"PYTHONPATH": str(self.root)}

    @property
    def cwd(self) -> Path:
        return self.root or REPO_ROOT


def export(ref: str, folder: Path) -> Code:
    """``git archive`` of ``hub/`` and ``schemas/`` at ``ref`` into ``folder`` (the "before" code)."""
    full = subprocess.run(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], cwd=REPO_ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    data = subprocess.run(["git", "archive", "--format=tar", full, "hub", "schemas"], cwd=REPO_ROOT,
                          check=True, capture_output=True).stdout
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(folder, filter="data")
    return Code("before", full, folder)


@dataclass
class BenchHub:
    """One provisioned hub of the run (``admin``: the admin's settings of it)."""

    stack: LocalStack
    label: str
    admin: Settings
    code: Code = field(default_factory=Code)

    @property
    def intake(self) -> str:
        return self.admin.desk_intake_topic(NODE)

    def as_principal(self, principal: str) -> Settings:
        return self.stack.credentials.settings_for(self.admin, principal)

    def env(self, principal: str, **overrides: object) -> dict[str, str]:
        """``HUB_*`` variables of a process of this hub as ``principal`` (plus the code's PYTHONPATH)."""
        if self.code.root is not None:
            overrides.setdefault("schemas_dir", self.code.root / "schemas")
        settings = self.as_principal(principal).model_copy(update=overrides)
        return {**settings.to_env(), **self.code.env()}

    def worker_env(self, index: int, workdir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
        data = workdir / self.label / f"w{index}"
        data.mkdir(parents=True, exist_ok=True)
        return {**self.env(WORKER, metrics_port=free_port(), worker_data_dir=data), **(extra or {})}

    def loadgen_env(self) -> dict[str, str]:
        return self.env(desk_principal(NODE))

    def outputs(self) -> list[str]:
        """Every topic the hub writes (subscribers' and internal), from its own code's catalogue."""
        from hub.wire.topics import intake_topics, topic_specs

        intake = set(intake_topics(self.admin))
        return [s.name for s in topic_specs(self.admin) if s.name not in intake]


def settings_for(stack: LocalStack, label: str, *, partitions: int, table_store: str | None = None,
                 **extra: object) -> Settings:
    """The admin's settings of the bench hub ``label`` (every topic and the group its own)."""
    p = f"bench.{label}"
    values: dict[str, object] = dict(
        topic_partitions=partitions, app_id=f"bench-{label}", client_quota_bytes=QUOTA,
        topic_intake_desk=f"{p}.intake.desa.{{node}}.v1",
        topic_intake_agency=f"{p}.intake.agency.{{agency}}.v1",
        topic_feed=f"{p}.mpp.feed.v1", topic_dlq=f"{p}.hub.dlq.v1",
        topic_agency_template=f"{p}.agency.{{agency}}.v1",
        topic_notify=f"{p}.citizen.notify.v1",
        topic_audit=f"{p}.hub.audit.v1", topic_sla=f"{p}.hub.sla.v1", metrics_port=0, **extra)
    if table_store:
        values["table_store"] = table_store
    return stack.settings(**values)


_PROVISION = ("import os, sys; from hub.settings import Settings; from hub.dev.provision import provision; "
              "import hub; assert hub.__file__.startswith(os.environ['PYTHONPATH']), hub.__file__; "
              "provision(Settings())")


def make_hub(stack: LocalStack, label: str, *, partitions: int, code: Code | None = None,
             table_store: str | None = None, **extra: object) -> BenchHub:
    """A provisioned bench hub; a "before" hub is provisioned by the before code itself (its topic catalogue
    and ACLs are the ones its worker expects)."""
    code = code or Code()
    if code.root is not None:
        extra.setdefault("schemas_dir", code.root / "schemas")
        # the before code always writes a lifecycle log (hub.lifecycle.v1 by default): this hub's own
        extra.setdefault("topic_lifecycle", f"bench.{label}.hub.lifecycle.v1")
    admin = settings_for(stack, label, partitions=partitions, table_store=table_store, **extra)
    if code.root is None:
        from hub.dev.provision import provision

        provision(admin)
    else:
        subprocess.run([sys.executable, "-c", _PROVISION], cwd=code.cwd, check=True,
                       env={**os.environ, **admin.to_env(), **code.env()})
    return BenchHub(stack, label, admin, code)
