"""docker/secrets, which `make up` runs: the stack's secrets as files only their owner reaches."""

import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def write_secrets(directory: Path, env_file: Path | None = None) -> str:
    command = ["bash", str(ROOT / "docker" / "secrets"), str(directory)]
    if env_file is not None:
        command.append(str(env_file))
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_writes_strong_secrets_in_a_directory_only_its_owner_can_enter(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"

    write_secrets(secrets)

    assert mode(secrets) == 0o700
    key = (secrets / "secret_key").read_text()
    password = (secrets / "postgres_password").read_text()
    assert len(key) == 64
    assert key.isalnum()
    assert len(password) == 32
    assert password.isalnum()
    # Read-only; readable inside the directory because Compose bind-mounts the files as they are
    # and the containers' non-root users must read them.
    assert mode(secrets / "secret_key") == mode(secrets / "postgres_password") == 0o444


def test_never_overwrites_an_existing_secret(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    write_secrets(secrets)
    before = (secrets / "postgres_password").read_text()

    assert write_secrets(secrets) == ""
    assert (secrets / "postgres_password").read_text() == before


def test_reuses_the_values_of_an_older_env_file(tmp_path: Path) -> None:
    """Stacks made before secrets were files: the database volume expects .env's password."""
    env_file = tmp_path / ".env"
    env_file.write_text("SECRET_KEY=old-key-from-env-0123456789\nPOSTGRES_PASSWORD=old-password\n")

    write_secrets(tmp_path / "secrets", env_file)

    assert (tmp_path / "secrets" / "secret_key").read_text() == "old-key-from-env-0123456789"
    assert (tmp_path / "secrets" / "postgres_password").read_text() == "old-password"
