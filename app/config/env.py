"""Typed readers for configuration from the environment.

A missing or malformed value stops start-up with one line naming the variable
(`SystemExit` prints its message without a traceback), instead of failing later
and further away, or running with a silent default.
"""

import os

# Values that mean "nobody filled this in": refused for secrets, as the template refuses them.
PLACEHOLDERS = frozenset({"", "changeme", "change-me", "changethis", "secret", "password"})

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})


class ConfigError(SystemExit):
    """A configuration error: the message names the variable and what was expected."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"configuration error: {name} {problem} (see .env.example)")


def required(name: str, *, secret: bool = False) -> str:
    """The value of `name`, or for a secret the content of the file `<name>_FILE` names.

    Secrets reach the containers as files (Compose secrets under /run/secrets), so they appear
    in neither `docker inspect` nor the process environment; setting the variable itself still
    works (the tests, a platform that injects environment variables).
    """
    value = _from_file(name) if secret else None
    if value is None:
        value = os.environ.get(name)
    if value is None or not value.strip():
        raise ConfigError(name, "is not set")
    if secret and value.strip().lower() in PLACEHOLDERS:
        raise ConfigError(name, "is a placeholder; generate a real secret")
    return value


def _from_file(name: str) -> str | None:
    path = os.environ.get(f"{name}_FILE")
    if path is None:
        return None
    if os.environ.get(name) is not None:
        raise ConfigError(name, f"and {name}_FILE are both set; set one")
    try:
        with open(path, encoding="utf-8") as file:
            # A trailing newline is an editor's, not part of the secret.
            return file.read().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{name}_FILE", f"cannot be read: {exc}") from None


def string(name: str, default: str) -> str:
    return os.environ.get(name, default)


def boolean(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ConfigError(name, f"must be true or false, got {raw!r}")


def integer(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {value}")
    return value


def number(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"must be a number, got {raw!r}") from None
    if not value >= minimum:  # also refuses NaN
        raise ConfigError(name, f"must be at least {minimum}, got {raw!r}")
    return value


def integers(name: str, default: str, *, count: int) -> tuple[int, ...]:
    """`count` comma-separated non-negative integers: `2000,10,1000`."""
    raw = os.environ.get(name)
    text = raw if raw is not None and raw.strip() else default
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count or min(values) < 0:
        raise ConfigError(name, f"must be {count} comma-separated integers >= 0, got {raw!r}")
    return values


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(name: str, default: str) -> float:
    """Seconds, from a number of seconds or one with a unit: `90`, `30s`, `15m`, `24h`, `7d`."""
    raw = os.environ.get(name)
    text = (raw if raw is not None and raw.strip() else default).strip().lower()
    unit = DURATION_UNITS.get(text[-1:])
    number = text[:-1] if unit is not None else text
    try:
        value = float(number) * (unit or 1)
    except ValueError:
        raise ConfigError(name, f"must be a duration like 86400, 30m or 24h, got {raw!r}") from None
    if not value > 0:  # also refuses NaN
        raise ConfigError(name, f"must be a positive duration, got {raw!r}")
    return value


def csv(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]
