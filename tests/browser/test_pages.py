"""The pages a person uses, in a real browser: the landing page and its live panel, the admin,
the API docs. Each test fails on any console error, uncaught exception or CSP violation
(conftest.py) and leaves a screenshot of each page it visits in BROWSER_RESULTS."""

import os
import re
import secrets
from collections.abc import Iterator
from http import HTTPStatus
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import RESULTS, SITE
from tests.e2e.conftest import AUTHORIZATION, BASE_URL
from tests.e2e.docker import Stack

LIVE_WITHIN = 5_000  # ms: an item written through the API is on the page within this
BENCH = [
    "/bench/json",
    "/bench/plaintext",
    "/bench/db",
    "/bench/queries?queries=5",
    "/bench/fortunes",
    "/bench/updates?queries=5",
    "/bench/raw",
]
STREAMS = {"/api/events"}  # linked, but a stream never ends: checked by the live panel instead


def screenshot(page: Page, name: str) -> None:
    page.screenshot(path=RESULTS / f"{name}.png", full_page=True)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=BASE_URL, timeout=30, headers=AUTHORIZATION) as http:
        yield http


@pytest.fixture(scope="session")
def admin(stack: Stack) -> tuple[str, str]:
    """A superuser, made in the running app as `make superuser` would."""
    username, password = f"admin-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    stack.exec(
        "app",
        "python",
        "manage.py",
        "shell",
        "-c",
        "from django.contrib.auth.models import User;"
        f"User.objects.create_superuser({username!r}, password={password!r})",
    )
    return username, password


@pytest.fixture
def signed_in(page: Page, admin: tuple[str, str]) -> Page:
    """The admin logged in through the login form (CSRF token and session cookie, as a person
    logs in)."""
    username, password = admin
    page.goto("/admin/login/?next=/admin/")
    screenshot(page, "admin-login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    return page


def test_landing_page_shows_the_server_and_links_only_working_examples(
    page: Page, http: httpx.Client
) -> None:
    info = http.get("/api/info").json()
    response = page.goto("/")
    assert response is not None
    assert response.ok

    expect(page.get_by_role("heading", name="Async Django stack", level=1)).to_be_visible()
    expect(page.locator("#asgi-server")).to_have_text(os.environ["E2E_ASGI_SERVER"])
    expect(page.locator("#instance")).to_have_text(info["instance"])
    expect(page.get_by_role("status", name="Stream")).to_have_text("open")
    # Every example the page links answers, /bench/ ones included (no /api/items/1 that a
    # fresh stack does not have).
    hrefs = page.locator("a[href]").evaluate_all("links => links.map(a => a.href)")
    paths = {urlsplit(h).path + (f"?{q}" if (q := urlsplit(h).query) else "") for h in hrefs}
    assert set(BENCH) <= paths
    for href in hrefs:
        url = urlsplit(href)
        assert f"{url.scheme}://{url.netloc}" == SITE, href  # nothing from elsewhere
        if url.path in STREAMS:
            continue
        answer = page.request.get(href)  # redirects followed: /admin/ to its login page
        assert answer.status == HTTPStatus.OK, f"{href}: {answer.status}"
    # The "Try it" commands wrap instead of running off the edge, so they can be copied whole.
    block = page.locator("pre").filter(has_text="make -s token")
    assert block.evaluate("pre => pre.scrollWidth <= pre.clientWidth")
    expect(block).to_contain_text("/api/events")
    # The icon a browser asks for by itself, on pages that name none.
    icon = page.request.get("/favicon.ico")
    assert icon.status == HTTPStatus.OK
    assert icon.headers["content-type"] == "image/svg+xml"
    screenshot(page, "landing")


def test_live_panel_shows_an_item_created_changed_and_deleted_through_the_api(
    page: Page, http: httpx.Client
) -> None:
    page.goto("/")
    items = page.get_by_role("list", name="Items")
    events = page.get_by_role("list", name="Events")
    expect(page.get_by_role("status", name="Stream")).to_have_text("open")
    name = f"Live {secrets.token_hex(3)}"

    created = http.post("/api/items", json={"name": name, "description": "first"})
    assert created.status_code == HTTPStatus.CREATED, created.text
    item_id = created.json()["id"]
    row = items.get_by_role("listitem").filter(has_text=name)
    expect(row).to_have_text(f"#{item_id} {name}: first", timeout=LIVE_WITHIN)
    expect(events).to_contain_text(f"item.created {name}", timeout=LIVE_WITHIN)
    expect(row.get_by_role("link")).to_have_attribute("href", f"/api/items/{item_id}")
    # The one-item example now links an item that exists.
    example = page.locator("#item-example").get_by_role("link")
    expect(example).to_have_attribute("href", re.compile(r"^/api/items/\d+$"))

    changed = http.patch(f"/api/items/{item_id}", json={"description": "second"})
    assert changed.status_code == HTTPStatus.OK, changed.text
    expect(row).to_have_text(f"#{item_id} {name}: second", timeout=LIVE_WITHIN)
    screenshot(page, "landing-live")

    deleted = http.delete(f"/api/items/{item_id}")
    assert deleted.status_code == HTTPStatus.NO_CONTENT, deleted.text
    expect(row).to_have_count(0, timeout=LIVE_WITHIN)
    expect(events).to_contain_text(f"item.deleted {name}", timeout=LIVE_WITHIN)


def test_landing_form_creates_an_item_with_the_admin_session_and_its_csrf_token(
    signed_in: Page, http: httpx.Client, admin: tuple[str, str]
) -> None:
    page = signed_in
    page.goto("/")
    expect(page.get_by_text(f"Signed in as {admin[0]}")).to_be_visible()
    expect(page.get_by_role("status", name="Stream")).to_have_text("open")
    name = f"From the form {secrets.token_hex(3)}"
    form = page.get_by_role("form", name="Create an item")

    form.get_by_label("Name").fill(name)
    form.get_by_label("Description").fill("made in a browser")
    form.get_by_role("button", name="Create").click()

    expect(page.get_by_role("status", name="Create result")).to_have_text(
        re.compile(r"^Created item #\d+")
    )
    expect(page.get_by_role("list", name="Items")).to_contain_text(
        f"{name}: made in a browser", timeout=LIVE_WITHIN
    )
    screenshot(page, "landing-form")
    said = page.get_by_role("status", name="Create result").inner_text()
    item_id = int(re.findall(r"#(\d+)", said)[0])
    stored = http.get(f"/api/items/{item_id}").json()
    assert (stored["name"], stored["description"]) == (name, "made in a browser")


def test_admin_lists_creates_and_edits_an_item_through_its_forms(
    signed_in: Page, http: httpx.Client
) -> None:
    page = signed_in
    name = f"Admin {secrets.token_hex(3)}"
    screenshot(page, "admin-index")

    page.get_by_role("table", name="Items").get_by_role("rowheader", name="Items").get_by_role(
        "link"
    ).click()
    expect(page.get_by_role("heading", name="Select item to change")).to_be_visible()
    screenshot(page, "admin-items")
    page.get_by_role("link", name="Add item").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Description").fill("added in the admin")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_have_count(1)  # listed

    row.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Change item")).to_be_visible()
    item_id = int(re.findall(r"/item/(\d+)/change/", page.url)[0])
    page.get_by_label("Description").fill("edited in the admin")
    screenshot(page, "admin-change")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")

    stored = http.get(f"/api/items/{item_id}").json()
    assert (stored["name"], stored["description"]) == (name, "edited in the admin")


def test_api_docs_load_swagger_ui_from_this_site_and_try_it_out_calls_info(
    page: Page,
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    response = page.goto("/api/docs")
    assert response is not None
    assert response.ok

    operation = page.locator(".opblock").filter(has_text="/api/info")
    expect(operation).to_be_visible()
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()

    answer = operation.locator(".live-responses-table .response")
    expect(answer.locator(".response-col_status")).to_have_text("200")
    expect(answer.locator(".response-col_description")).to_contain_text('"asgi_server"')
    screenshot(page, "api-docs")
    # Swagger UI, its stylesheet and the schema all came from this site: no CDN.
    assert any("/static/ninja/" in url for url in requested), requested
    assert all(url.startswith(SITE) or url.startswith("data:") for url in requested), requested
