"""The docs check (`make lint`): the documentation may not drift from the code.

Read together, README.md and every docs/*.md page must mention
- every make target (each `.PHONY` target of the Makefile, as `make <target>`);
- every variable the Makefile lets a user set (`NAME ?= ...`), every variable compose.yaml
  and compose.*.yaml read (`${NAME...}`), and every one the settings read
  (`env.<type>("NAME", ...)` in app/config/settings.py);
- every endpoint: each path of Django's URL configuration (the django-ninja routers included,
  as Django resolves them; the admin counts as `/admin/`), the paths the ASGI router answers
  before Django (config/asgi.py), and each location nginx serves by itself (a non-regex,
  non-named `location` that is neither proxied nor a prefix of an app path);
and every relative link (and `#anchor`) in them must resolve: a file or folder of the
repository, a heading of the page it names.

An endpoint counts as mentioned when a path written in the docs, without its host and query,
is the same with path parameters written any way (`/api/items/{id}`, `/api/items/<id>`).

    python -m tests.docs_check [ROOT]     # prints what is missing; exit status 1 if anything is

Run in the test image (which holds the files it reads, tests/run's lint step), where Django's
settings load; its own tests are tests/unit/test_docs_check.py.
"""

import os
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PHONY = re.compile(r"^\.PHONY: ([a-z][a-z0-9-]*)", re.MULTILINE)
MAKE_VARIABLE = re.compile(r"^([A-Z][A-Z0-9_]*) *\?=", re.MULTILINE)
COMPOSE_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
SETTINGS_VARIABLE = re.compile(r"\benv\.\w+\(\s*\"([A-Z][A-Z0-9_]*)\"")
ASGI_PATH = re.compile(r"""scope\["path"\] == "(/[^"]*)\"""")
# `location [=|^~] /path {`: regex (~, ~*) and named (@) locations are not paths.
NGINX_LOCATION = re.compile(r"^\s*location\s+(?:(=|\^~)\s+)?(/\S*)\s*\{", re.MULTILINE)
FENCE = re.compile(r"^(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# [text](target) and ![alt](target), with an optional "title".
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
HOST = re.compile(r"\b(?:https?|wss?)://[^/\s`'\"<>)]+")
# A path in prose or code: starts with / where no word, dot or slash precedes it.
PATH = re.compile(r"(?<![\w./~-])/[A-Za-z0-9_.~{}<>:%@/-]*")
PARAMETER = re.compile(r"\{[^}/]*\}|<[^>/]*>")


def make_targets(makefile: str) -> set[str]:
    return set(PHONY.findall(makefile))


def make_variables(makefile: str) -> set[str]:
    return set(MAKE_VARIABLE.findall(makefile))


def compose_variables(compose: str) -> set[str]:
    return set(COMPOSE_VARIABLE.findall(compose))


def settings_variables(settings: str) -> set[str]:
    return set(SETTINGS_VARIABLE.findall(settings))


def asgi_paths(asgi: str) -> set[str]:
    return set(ASGI_PATH.findall(asgi))


def nginx_locations(config: str, app_paths: Iterable[str]) -> set[str]:
    """The locations nginx answers itself: those that are no app path and lead to none (`/`,
    `/ws/` and `/api/events` are the app's, proxied with their own settings), and are not
    `internal` (error pages, and what is nested in them)."""
    app_paths = set(app_paths)
    internal = set()
    for match in NGINX_LOCATION.finditer(config):
        body = config[match.end() :].split("}", 1)[0].split("location", 1)[0]
        if re.search(r"^\s*internal;", body, re.MULTILINE):
            internal.add(match.group(2))
    found = set()
    for _, path in NGINX_LOCATION.findall(config):
        if path in app_paths or any(p.startswith(path) for p in app_paths):
            continue
        if any(path.startswith(prefix) for prefix in internal):
            continue
        found.add(path)
    return found


def normal_path(path: str) -> str:
    """A path as compared: no query or fragment, any path parameter as `{}`."""
    path = re.split(r"[?#]", path, maxsplit=1)[0]
    return PARAMETER.sub("{}", path)


def url_paths() -> set[str]:
    """Every path of Django's URL configuration, parameters as `{}`; the admin as `/admin/`."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.urls import get_resolver

    return {normal_path("/" + path) for path in _walk(get_resolver().url_patterns, "")}


def _walk(patterns: Iterable[Any], prefix: str) -> Iterator[str]:
    from django.urls import URLPattern, URLResolver

    for pattern in patterns:
        route = _route(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":  # Django's own pages: the admin is one endpoint
                yield prefix + route
            else:
                yield from _walk(pattern.url_patterns, prefix + route)
        elif isinstance(pattern, URLPattern):
            yield prefix + route


def _route(pattern: Any) -> str:
    route = str(pattern)
    if route.startswith("^"):  # a regex pattern: its groups are parameters
        route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route.strip("^$"))
    return route


def strip_code_fences(markdown: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of what is not in a fenced code block."""
    fence = ""
    for number, line in enumerate(markdown.splitlines(), 1):
        match = FENCE.match(line.lstrip())
        if match and (not fence or match.group(1) == fence):
            fence = "" if fence else match.group(1)
            continue
        if not fence:
            yield number, line


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.lower()
    kept = "".join(
        c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN" or c.isdigit()
    )
    return kept.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for _, line in strip_code_fences(markdown):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(markdown: str) -> Iterator[tuple[int, str]]:
    """(line number, target) of every relative link outside fenced code."""
    for number, line in strip_code_fences(markdown):
        unquoted = re.sub(r"`[^`]*`", "", line)  # inline code is not a link
        for target in LINK.findall(unquoted):
            if not SCHEME.match(target):
                yield number, target


def broken_links(root: Path, page: Path) -> Iterator[str]:
    text = page.read_text(encoding="utf-8")
    for number, target in links(text):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        where = f"{page.relative_to(root)}:{number}: {target}"
        if not resolved.is_relative_to(root.resolve()):
            yield f"{where}: outside the repository"
        elif not resolved.exists():
            yield f"{where}: no such file"
        elif (
            anchor
            and resolved.suffix == ".md"
            and resolved.is_file()
            and anchor.lower() not in anchors(resolved.read_text(encoding="utf-8"))
        ):
            yield f"{where}: no heading with that anchor in {resolved.name}"


def mentioned_paths(text: str) -> set[str]:
    """The paths written in `text`, without a full stop, colon or autolink's `>` after them."""
    return {normal_path(p).rstrip(".:>") for p in PATH.findall(HOST.sub("", text))}


def mentions(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


@dataclass
class Report:
    missing: dict[str, list[str]] = field(default_factory=dict)
    broken: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any(self.missing.values()) or bool(self.broken)

    def lines(self) -> Iterator[str]:
        for kind, names in self.missing.items():
            for name in names:
                yield f"not in README.md or docs/*.md: {kind} {name}"
        for broken in self.broken:
            yield f"broken link: {broken}"


def pages(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def check(root: Path, endpoints: Iterable[str]) -> Report:
    docs = pages(root)
    text = "\n".join(page.read_text(encoding="utf-8") for page in docs)
    makefile = (root / "Makefile").read_text(encoding="utf-8")
    compose = "\n".join(p.read_text(encoding="utf-8") for p in sorted(root.glob("compose*.yaml")))
    nginx = "\n".join(p.read_text(encoding="utf-8") for p in sorted(root.glob("nginx/**/*.conf*")))
    asgi = root / "app" / "config" / "asgi.py"
    settings = (root / "app" / "config" / "settings.py").read_text(encoding="utf-8")
    app_paths = set(endpoints) | asgi_paths(asgi.read_text(encoding="utf-8"))
    variables = make_variables(makefile) | compose_variables(compose) | settings_variables(settings)
    in_docs = mentioned_paths(text)
    report = Report()
    report.missing["make target"] = sorted(
        t for t in make_targets(makefile) if not mentions(text, f"make {t}")
    )
    report.missing["variable"] = sorted(v for v in variables if not mentions(text, v))
    every_path = app_paths | nginx_locations(nginx, app_paths)
    report.missing["endpoint"] = sorted(p for p in every_path if p not in in_docs)
    for page in docs:
        report.broken.extend(broken_links(root, page))
    return report


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else ".").resolve()
    report = check(root, url_paths())
    for line in report.lines():
        print(line, file=sys.stderr)
    if report:
        print("docs check: failed (README.md and docs/ must describe the code)", file=sys.stderr)
        return 1
    print(f"docs check: {len(pages(root))} pages cover every target, variable and endpoint")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
