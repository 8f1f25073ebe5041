"""The hub as it was before issue 15's hot path (``bench.config.BASELINE_REF``), importable beside this tree
as ``hub_before``: equivalence tests run both on the same traffic and compare what they write, byte for byte.

The commit's ``hub/`` and ``schemas/`` are exported with ``git archive`` (the repository's own history) into a
folder, the package renamed ``hub_before`` and its absolute imports rewritten to match.
"""

from __future__ import annotations

import importlib
import io
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType

from bench.config import BASELINE_REF
from hub.settings import REPO_ROOT

_IMPORT = re.compile(r"^(\s*)(from|import) hub(\.| )", re.MULTILINE)


def export(folder: Path, ref: str = BASELINE_REF) -> Path:
    """``hub_before`` (and ``schemas/``) of ``ref`` under ``folder``; returns ``folder``."""
    data = subprocess.run(["git", "archive", "--format=tar", ref, "hub", "schemas"], cwd=REPO_ROOT,
                          check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(folder, filter="data")
    (folder / "hub").rename(folder / "hub_before")
    for path in (folder / "hub_before").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        path.write_text(_IMPORT.sub(lambda m: f"{m[1]}{m[2]} hub_before{m[3]}", text), encoding="utf-8")
    return folder


def load(folder: Path, module: str = "hub_before.dev.feed") -> ModuleType:
    """Import ``module`` of the exported baseline in ``folder``. Its metrics are made but not registered (the
    names are this tree's too, and Prometheus' default registry refuses a name twice)."""
    from prometheus_client import REGISTRY

    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    register = REGISTRY.register
    REGISTRY.register = lambda collector: None  # type: ignore[method-assign]
    try:
        return importlib.import_module(module)
    finally:
        REGISTRY.register = register  # type: ignore[method-assign]
