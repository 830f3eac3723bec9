"""The docs check (tests/docs_check.py): what it finds in the code, what counts as documented,
and that it fails, saying what, when the docs miss something or a link is broken."""

from pathlib import Path

import pytest

from tests import docs_check

MAKEFILE = """\
ASGI_SERVER ?= uvicorn
FORCE ?=
.PHONY: up  ## Start
up:
\tdocker compose up
.PHONY: token-revoke  ## Revoke
token-revoke:
tls/cert.pem:
\tbash docker/tls-cert
"""
COMPOSE = """\
services:
  app:
    environment:
      DEBUG: ${DEBUG:-false}
      PORT: "${HTTP_BIND:-127.0.0.1}:${HTTP_PORT-8080}:8080"
      ESCAPED: $$POSTGRES_USER
"""
NGINX = """\
location ^~ /_errors/ {
    internal;
    location = /_errors/429.json {
    }
}
location /static/ {
    location ~ /\\. {
location = /favicon.ico {
location = /api/events {
location @events_retry {
location /ws/ {
location / {
"""
SETTINGS = 'DEBUG = env.boolean("DEBUG", default=False)\nHOST = env.required(\n    "HTTP_BIND")\n'
ASGI = 'if scope["type"] == "http" and scope["path"] == "/bench/raw":\n'
DOCS = """\
# Title

`make up` and `make token-revoke NAME=ci`; ASGI_SERVER, FORCE, DEBUG, HTTP_BIND and HTTP_PORT.
Endpoints: `GET /`, `GET /api/items/{id}`, <http://127.0.0.1:8080/bench/raw>, /static/, /favicon.ico
and /api/events, /ws/events.

## A section: `with code`

[the page](docs/page.md#second-part) and [here](#a-section-with-code).
"""
PAGE = "# Page\n\n## Second part\n\n[back](../README.md) ![chart](../bench/chart.png)\n"


def test_make_targets_are_the_phony_ones_and_variables_those_a_user_sets() -> None:
    assert docs_check.make_targets(MAKEFILE) == {"up", "token-revoke"}
    assert docs_check.make_variables(MAKEFILE) == {"ASGI_SERVER", "FORCE"}


def test_compose_variables_are_every_interpolation_and_not_escaped_dollars() -> None:
    assert docs_check.compose_variables(COMPOSE) == {"DEBUG", "HTTP_BIND", "HTTP_PORT"}


def test_settings_variables_are_those_read_through_env() -> None:
    assert docs_check.settings_variables(SETTINGS) == {"DEBUG", "HTTP_BIND"}
    real = (Path(__file__).parents[2] / "app" / "config" / "settings.py").read_text()
    assert {"SECRET_KEY", "POSTGRES_HOST", "DB_POOL", "EVENTS_RETENTION"} <= (
        docs_check.settings_variables(real)
    )


def test_a_variable_only_the_settings_read_must_be_documented_too(tmp_path: Path) -> None:
    root = repository(tmp_path)
    (root / "app" / "config" / "settings.py").write_text('X = env.integer("POOL_SIZE", 2)\n')

    report = docs_check.check(root, ENDPOINTS)

    assert list(report.lines()) == ["not in README.md or docs/*.md: variable POOL_SIZE"]


def test_nginx_locations_are_the_paths_nginx_answers_itself() -> None:
    app = {"/api/events", "/ws/events", "/", "/api/items"}

    assert docs_check.nginx_locations(NGINX, app) == {"/static/", "/favicon.ico"}


def test_url_paths_resolve_the_urlconf_with_ninja_routers_and_the_admin_as_one() -> None:
    paths = docs_check.url_paths()

    assert {"/", "/healthz", "/api/info", "/api/items", "/api/items/{}", "/admin/"} <= paths
    assert {"/api/docs", "/api/openapi.json", "/api/events", "/bench/json"} <= paths
    assert not any(p.startswith("/admin/") and p != "/admin/" for p in paths)


def test_asgi_paths_are_those_the_router_answers_before_django() -> None:
    source = (Path(__file__).parents[2] / "app" / "config" / "asgi.py").read_text()

    assert docs_check.asgi_paths(source) == {"/bench/raw", "/ws/events"}


@pytest.mark.parametrize(
    ("written", "path"),
    [
        ("`GET /api/items/{id}`", "/api/items/{}"),
        ("/api/items/<item_id>", "/api/items/{}"),
        ("curl http://127.0.0.1:8080/api/hello?delay=1", "/api/hello"),
        ("(`/bench/queries?queries=N`)", "/bench/queries"),
        ("open <https://localhost:8443/admin/>", "/admin/"),
    ],
)
def test_a_path_counts_with_any_host_query_or_parameter_spelling(written: str, path: str) -> None:
    assert path in docs_check.mentioned_paths(written)


def test_a_path_inside_a_file_name_or_longer_path_does_not_count() -> None:
    found = docs_check.mentioned_paths("see app/config/asgi.py and /api/items/export")

    assert "/config/asgi.py" not in found
    assert "/api/items" not in found


def test_a_target_is_mentioned_only_as_itself() -> None:
    assert docs_check.mentions("run `make token-revoke NAME=x`", "make token-revoke")
    assert not docs_check.mentions("run `make token-revoke NAME=x`", "make token")
    assert not docs_check.mentions("HSTS_SECONDS_MORE", "HSTS_SECONDS")


def test_anchors_follow_githubs_slugs_and_skip_code_blocks() -> None:
    markdown = "# Capacity: `make bench-events`\n```\n# not a heading\n```\n## Faults\n## Faults\n"

    assert docs_check.anchors(markdown) == {"capacity-make-bench-events", "faults", "faults-1"}


def repository(tmp_path: Path, docs: str = DOCS, page: str = PAGE) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "chart.png").write_bytes(b"png")
    (tmp_path / "nginx").mkdir()
    (tmp_path / "app" / "config").mkdir(parents=True)
    (tmp_path / "README.md").write_text(docs)
    (tmp_path / "docs" / "page.md").write_text(page)
    (tmp_path / "Makefile").write_text(MAKEFILE)
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    (tmp_path / "nginx" / "locations.conf").write_text(NGINX)
    (tmp_path / "app" / "config" / "asgi.py").write_text(ASGI)
    (tmp_path / "app" / "config" / "settings.py").write_text(SETTINGS)
    return tmp_path


ENDPOINTS = {"/api/items/{}", "/api/events", "/ws/events", "/"}


def test_docs_that_cover_everything_pass(tmp_path: Path) -> None:
    report = docs_check.check(repository(tmp_path), ENDPOINTS)

    assert list(report.lines()) == []
    assert not report


def test_a_variable_read_only_by_an_override_file_must_be_documented_too(tmp_path: Path) -> None:
    root = repository(tmp_path)
    (root / "compose.tls.yaml").write_text("x: ${TLS_DIR:-./tls}\n")

    report = docs_check.check(root, ENDPOINTS)

    assert list(report.lines()) == ["not in README.md or docs/*.md: variable TLS_DIR"]


def test_a_removed_mention_fails_naming_each_thing_missing(tmp_path: Path) -> None:
    docs = DOCS.replace("`make up` and ", "").replace("DEBUG, ", "").replace("/favicon.ico\n", "")
    report = docs_check.check(repository(tmp_path, docs=docs), ENDPOINTS | {"/readyz"})

    assert report
    assert list(report.lines()) == [
        "not in README.md or docs/*.md: make target up",
        "not in README.md or docs/*.md: variable DEBUG",
        "not in README.md or docs/*.md: endpoint /favicon.ico",
        "not in README.md or docs/*.md: endpoint /readyz",
    ]


def test_a_docs_page_counts_as_much_as_the_readme(tmp_path: Path) -> None:
    root = repository(tmp_path, docs=DOCS.replace("DEBUG, ", ""), page=PAGE + "\nDEBUG\n")

    assert not docs_check.check(root, ENDPOINTS)


@pytest.mark.parametrize(
    ("link", "why"),
    [
        ("[gone](docs/nowhere.md)", "no such file"),
        ("[anchor](docs/page.md#third-part)", "no heading with that anchor in page.md"),
        ("[here](#nowhere)", "no heading with that anchor in README.md"),
        ("[out](../outside.md)", "outside the repository"),
    ],
)
def test_a_broken_relative_link_fails(tmp_path: Path, link: str, why: str) -> None:
    (tmp_path.parent / "outside.md").write_text("# Outside\n")
    report = docs_check.check(repository(tmp_path, docs=DOCS + link + "\n"), ENDPOINTS)

    assert report.broken == [f"README.md:10: {link.split('(')[1][:-1]}: {why}"]


def test_links_in_code_and_to_other_sites_are_not_checked(tmp_path: Path) -> None:
    extra = "`[a](nowhere.md)`\n```\n[b](nowhere.md)\n```\n[c](https://example.com/x.md)\n"

    assert not docs_check.check(repository(tmp_path, docs=DOCS + extra), ENDPOINTS)


def test_main_fails_with_the_list_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = repository(tmp_path, docs=DOCS.replace("HTTP_PORT", "the port"))
    monkeypatch.setattr(docs_check, "url_paths", lambda: ENDPOINTS)

    assert docs_check.main(["docs_check", str(root)]) == 1
    err = capsys.readouterr().err
    assert "not in README.md or docs/*.md: variable HTTP_PORT" in err
    assert "docs check: failed" in err
