"""Configuration: every value from the environment; bad values stop start-up with one line."""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import cast

import pytest

import config
from config import env

ROOT = Path(__file__).resolve().parents[2]


def start_settings(**overrides: str | None) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh interpreter, with `overrides` applied to the environment."""
    environ = dict(os.environ)
    for name, value in overrides.items():
        # The stack passes secrets as files: overriding one replaces its file too.
        environ.pop(f"{name}_FILE", None)
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; settings.SECRET_KEY"],
        env=environ,
        cwd=ROOT / "app",
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    "name", ["SECRET_KEY", "POSTGRES_HOST", "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"]
)
def test_missing_variable_stops_startup_with_one_line_naming_it(name: str) -> None:
    result = start_settings(**{name: None})

    assert result.returncode == 1
    assert result.stderr == f"configuration error: {name} is not set (see .env.example)\n"


def test_placeholder_secret_key_is_refused() -> None:
    result = start_settings(SECRET_KEY="changeme")

    assert result.returncode == 1
    assert "SECRET_KEY is a placeholder" in result.stderr
    assert "Traceback" not in result.stderr


def test_secret_is_read_from_the_file_its_FILE_variable_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("s3cr3t-from-a-file\n")  # an editor's trailing newline is not part of it
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret))

    assert env.required("SECRET_KEY", secret=True) == "s3cr3t-from-a-file"


def test_secret_set_both_ways_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("from-the-file")
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret))

    with pytest.raises(env.ConfigError, match="SECRET_KEY and SECRET_KEY_FILE are both set"):
        env.required("SECRET_KEY", secret=True)


@pytest.mark.parametrize("content", [None, "", "\n"])
def test_missing_or_empty_secret_file_stops_startup_with_one_line(
    tmp_path: Path, content: str | None
) -> None:
    secret = tmp_path / "postgres_password"
    if content is not None:
        secret.write_text(content)

    result = start_settings(POSTGRES_PASSWORD=None, POSTGRES_PASSWORD_FILE=str(secret))

    assert result.returncode == 1
    if content is None:
        assert result.stderr.startswith(
            "configuration error: POSTGRES_PASSWORD_FILE cannot be read: [Errno 2]"
        )
    else:
        assert result.stderr == (
            "configuration error: POSTGRES_PASSWORD is not set (see .env.example)\n"
        )
    assert "Traceback" not in result.stderr


def test_non_secret_variables_have_no_FILE_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_HOST", "db")
    monkeypatch.setenv("POSTGRES_HOST_FILE", "/nonexistent")

    assert env.required("POSTGRES_HOST") == "db"


def test_malformed_boolean_is_refused_with_the_value() -> None:
    result = start_settings(DEBUG="maybe")

    assert result.returncode == 1
    assert result.stderr == (
        "configuration error: DEBUG must be true or false, got 'maybe' (see .env.example)\n"
    )


def test_malformed_integer_is_refused() -> None:
    result = start_settings(DB_POOL_MAX_SIZE="ten")

    assert "DB_POOL_MAX_SIZE must be an integer, got 'ten'" in result.stderr


@pytest.mark.parametrize("value", ["2000,10", "2000,10,ten", "2000,-1,10", "2000,,10"])
def test_malformed_gc_thresholds_are_refused(value: str) -> None:
    result = start_settings(GC_THRESHOLDS=value)

    assert result.returncode == 1
    assert f"GC_THRESHOLDS must be 3 comma-separated integers >= 0, got {value!r}" in result.stderr


def test_the_asgi_app_runs_with_full_collections_deferred() -> None:
    import gc

    import config.asgi  # noqa: F401  (sets the thresholds when it loads)

    assert gc.get_threshold() == (2000, 10, 1000)


def test_valid_environment_starts() -> None:
    assert start_settings().returncode == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("YES", True), ("on", True), ("0", False), ("false", False)],
)
def test_boolean_parses_the_usual_spellings(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("FLAG", raw)

    assert env.boolean("FLAG", default=not expected) is expected


def test_debug_zero_means_off(monkeypatch: pytest.MonkeyPatch) -> None:
    # bool(os.environ["DEBUG"]) would make "0" true: the classic settings bug.
    monkeypatch.setenv("DEBUG", "0")

    assert env.boolean("DEBUG", default=True) is False


def test_number_refuses_nan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMEOUT", "nan")

    with pytest.raises(env.ConfigError, match="TIMEOUT must be at least"):
        env.number("TIMEOUT", 1.0)


def test_database_uses_the_psycopg_pool_not_persistent_connections() -> None:
    from django.conf import settings

    database = settings.DATABASES["default"]
    assert database["CONN_MAX_AGE"] == 0
    options = cast(dict[str, object], database["OPTIONS"])
    assert options["pool"] == {"min_size": 2, "max_size": 10, "timeout": 5.0}


def test_version_matches_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())

    assert config.__version__ == pyproject["project"]["version"]


def manage_check_deploy(**overrides: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "DEBUG": "false", **overrides}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=environ,
        cwd=ROOT / "app",
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_deploy_is_clean_when_clients_reach_the_stack_over_https() -> None:
    result = manage_check_deploy(
        SECURE_SSL_REDIRECT="true", SECURE_HSTS_SECONDS="31536000", SECURE_COOKIES="true"
    )

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_over_plain_http_flags_only_the_https_settings() -> None:
    result = manage_check_deploy(
        SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0", SECURE_COOKIES="false"
    )

    flagged = sorted(set(re.findall(r"\(security\.(W\d+)\)", result.stderr)))
    # HSTS, the HTTPS redirect and the two cookies' Secure flag: the settings that depend on
    # where TLS terminates. Nothing else (DEBUG, SECRET_KEY, ALLOWED_HOSTS, middleware) is flagged.
    assert flagged == ["W004", "W008", "W012", "W016"]
