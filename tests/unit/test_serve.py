"""The serve script picks the ASGI server and refuses unknown ones at once."""

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Installed on PATH in the app image; the repository's copy elsewhere.
SERVE = shutil.which("serve") or str(ROOT / "docker" / "serve")


def test_unknown_asgi_server_fails_at_once_with_a_clear_message() -> None:
    result = subprocess.run(
        [SERVE],
        env={**os.environ, "ASGI_SERVER": "gunicorn"},
        cwd=ROOT / "app",
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )

    assert result.returncode == 64
    assert result.stderr == "serve: unknown ASGI_SERVER 'gunicorn' (expected uvicorn or daphne)\n"


def test_missing_secret_stops_serve_before_the_server_starts() -> None:
    environ = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "SECRET_KEY_FILE"}}
    result = subprocess.run(
        [SERVE],
        env=environ,
        cwd=ROOT / "app",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr == "configuration error: SECRET_KEY is not set (see .env.example)\n"
