"""``hub dev credentials`` and ``hub dev pki``: the first secrets of a deployment (deploy/compose.yaml's
first steps), idempotent, never printing a password."""

from __future__ import annotations

import stat

from click.testing import CliRunner

from hub.access.catalogue import principals
from hub.cli import main as hub_cli
from hub.settings import get_settings


def test_credentials_for_every_principal_once(tmp_path):
    store = tmp_path / "credentials"
    first = CliRunner().invoke(hub_cli, ["dev", "credentials", "--out", str(store), "--extra", "registry-db",
                                         "--file-mode", "644"])
    assert first.exit_code == 0, first.output
    names = {p.name for p in principals(get_settings())} | {"registry-db"}
    assert {p.name.removesuffix(".password") for p in store.iterdir()} == names
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in store.iterdir()} == {0o644}
    passwords = {p.name: p.read_text() for p in store.iterdir()}
    assert len(set(passwords.values())) == len(names)  # one each
    assert not any(pw in first.output for pw in passwords.values())
    (store / "mall.password").unlink()
    again = CliRunner().invoke(hub_cli, ["dev", "credentials", "--out", str(store), "--extra", "registry-db"])
    assert again.exit_code == 0 and "1 new" in again.output
    kept = {p.name: p.read_text() for p in store.iterdir() if p.name != "mall.password"}
    assert kept == {k: v for k, v in passwords.items() if k != "mall.password"}
    assert stat.S_IMODE((store / "mall.password").stat().st_mode) == 0o600  # the default mode, new file only
    assert stat.S_IMODE((store / "hub-admin.password").stat().st_mode) == 0o644


def test_pki_is_kept_unless_forced(tmp_path):
    args = ["dev", "pki", "--out", str(tmp_path), "--server", "broker=kafka-1,kafka-2", "--server",
            "keycloak=keycloak", "--key-mode", "644", "--days", "365"]
    made = CliRunner().invoke(hub_cli, args)
    assert made.exit_code == 0, made.output
    ca = (tmp_path / "ca" / "ca.pem").read_bytes()
    assert {p.name for p in tmp_path.iterdir()} == {"ca", "broker", "keycloak"}
    kept = CliRunner().invoke(hub_cli, args)
    assert "kept" in kept.output and (tmp_path / "ca" / "ca.pem").read_bytes() == ca
    forced = CliRunner().invoke(hub_cli, args + ["--force"])
    assert forced.exit_code == 0 and (tmp_path / "ca" / "ca.pem").read_bytes() != ca


def test_pki_refuses_bad_options(tmp_path):
    bad_server = CliRunner().invoke(hub_cli, ["dev", "pki", "--out", str(tmp_path), "--server", "broker"])
    assert bad_server.exit_code == 2 and "NAME=HOST" in bad_server.output
    bad_mode = CliRunner().invoke(hub_cli, ["dev", "pki", "--out", str(tmp_path), "--key-mode", "rw"])
    assert bad_mode.exit_code == 2 and "octal" in bad_mode.output
    assert not list(tmp_path.iterdir())
