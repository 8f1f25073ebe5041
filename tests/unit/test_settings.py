"""``Settings.kafka_password_file``: a deployment hands each process its password as a file (compose secret,
mounted Secret), never as a literal in the manifests."""

from __future__ import annotations

import pytest

from hub.errors import HubError
from hub.settings import Settings


def test_the_password_comes_from_the_file_without_surrounding_white_space(tmp_path):
    secret = tmp_path / "hub-worker.password"
    secret.write_text("  s3cr3t-Pw_1\n")
    settings = Settings(kafka_username="hub-worker", kafka_password_file=secret)
    assert settings.kafka_password is not None and settings.kafka_password.get_secret_value() == "s3cr3t-Pw_1"
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in str(settings.kafka_password)
    env = settings.to_env()  # a child process gets the password itself, as with HUB_KAFKA_PASSWORD
    assert env["HUB_KAFKA_PASSWORD"] == "s3cr3t-Pw_1" and env["HUB_KAFKA_PASSWORD_FILE"] == str(secret)
    child = Settings(**{k[4:].lower(): v for k, v in env.items() if v})
    assert child.kafka_password == settings.kafka_password
    copy = settings.as_principal("mall", "other")  # another principal's settings are not the file's
    assert copy.kafka_password.get_secret_value() == "other"


def test_read_from_the_environment(tmp_path, monkeypatch):
    secret = tmp_path / "pw"
    secret.write_text("from-file")
    monkeypatch.setenv("HUB_KAFKA_PASSWORD_FILE", str(secret))
    assert Settings().kafka_password.get_secret_value() == "from-file"
    monkeypatch.setenv("HUB_KAFKA_PASSWORD", "given")  # an explicit password wins; the file is not read
    secret.unlink()
    assert Settings().kafka_password.get_secret_value() == "given"


def test_unset_and_empty_mean_no_file():
    assert Settings(kafka_password_file="").kafka_password_file is None
    assert Settings().kafka_password is None


def test_a_missing_or_empty_file_is_an_error_that_names_the_file_and_no_other_value(tmp_path):
    with pytest.raises(HubError, match=r"cannot read .*nope \(No such file or directory\)") as missing:
        Settings(kafka_password_file=tmp_path / "nope", citizen_ref_key="other-secret")
    assert "other-secret" not in str(missing.value)
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(HubError, match="is empty"):
        Settings(kafka_password_file=empty)
