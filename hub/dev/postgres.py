"""A throwaway PostgreSQL server on loopback, for the tests and local drills (never production).

The server binaries come from the machine (``/usr/lib/postgresql/*/bin``) or, without root, from
Debian's packages unpacked into the stack cache (``apt-get download`` + ``dpkg -x``). The cluster lives
in a temporary folder, listens on 127.0.0.1 on a free port, and requires a password (SCRAM-SHA-256)
for the one role ``hub``: no unauthenticated access, even in tests.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from hub.dev.stack import StackError, free_port, stack_home


def pg_bin() -> Path:
    """The folder of ``initdb``/``pg_ctl``: the machine's, else Debian's packages fetched without root."""
    for found in sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True):
        return found.parent
    cache = stack_home() / "postgresql"
    fetched = sorted(cache.glob("usr/lib/postgresql/*/bin/initdb"))
    if not fetched:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as debs:
            done = subprocess.run(["apt-get", "download", "postgresql-15", "postgresql-client-15", "libpq5"],
                                  cwd=debs, capture_output=True, text=True)
            if done.returncode != 0:
                raise StackError(f"PostgreSQL server binaries are missing and `apt-get download` failed: "
                                 f"{done.stderr[-500:]} (Debian: apt-get install postgresql-15)")
            for deb in Path(debs).glob("*.deb"):
                subprocess.run(["dpkg", "-x", str(deb), str(cache)], check=True)
        fetched = sorted(cache.glob("usr/lib/postgresql/*/bin/initdb"))
    if not fetched:
        raise StackError("PostgreSQL binaries not found (Debian: apt-get install postgresql-15)")
    return fetched[-1].parent


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


class LocalPostgres:
    """``with LocalPostgres() as pg: pg.dsn`` -- a fresh cluster, stopped and removed on exit."""

    def __init__(self) -> None:
        self.bindir = pg_bin()
        self.password = secrets.token_urlsafe(18)
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="hub-pg-"))
        # initdb refuses to run as root: the server runs as an unprivileged user then.
        self.user = (next((u for u in ("postgres", "nobody") if _has_user(u)), None)
                     if os.geteuid() == 0 else None)

    @property
    def dsn(self) -> str:
        """The DSN of the ``postgres`` database, password included."""
        return self.dsn_for("postgres")

    def dsn_for(self, database: str) -> str:
        return f"postgresql://hub:{self.password}@127.0.0.1:{self.port}/{database}"

    def _run(self, *cmd: str) -> None:
        env = {**os.environ, "LD_LIBRARY_PATH": str(self.bindir.parents[3] / "lib" / "x86_64-linux-gnu")}
        subprocess.run([str(self.bindir / cmd[0]), *cmd[1:]], check=True, capture_output=True, env=env,
                       user=self.user, cwd=self.root, timeout=120)

    def start(self) -> LocalPostgres:
        if self.user:
            shutil.chown(self.root, self.user)
        pwfile = self.root / "pw"
        pwfile.write_text(self.password)
        if self.user:
            shutil.chown(pwfile, self.user)
        self._run("initdb", "-D", str(self.root / "data"), "-U", "hub", "--auth=scram-sha-256",
                  f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync")
        pwfile.unlink()
        self._run("pg_ctl", "start", "-w", "-D", str(self.root / "data"), "-l", str(self.root / "pg.log"),
                  "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "stop", "-m", "fast", "-D", str(self.root / "data"))
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
