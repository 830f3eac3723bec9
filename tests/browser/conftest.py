"""The browser harness: headless Chromium (Debian's) driven by Playwright, against the stack
through nginx, as a person's browser reaches it.

- `browser`: one Chromium for the session, launched from BROWSER_EXECUTABLE (no download).
- The browser reaches the site at http://localhost:8080, as a person does after `make up`
  (nginx published on 127.0.0.1:8080): a plain TCP relay in this container passes every byte
  to nginx:8080. A loopback origin is one the browser trusts (a "potentially trustworthy"
  origin): at http://nginx:8080 Chromium logs errors a person never sees (the
  Cross-Origin-Opener-Policy Django sends is ignored there, with a console error).
- `page`: a fresh page per test. Every console error, uncaught exception and Content Security
  Policy violation is recorded and fails the test at its end; a screenshot of the page is saved
  to BROWSER_RESULTS as `<test name>.png` whatever the outcome.
- `open_page(path)`: a page of the site, through nginx, with the site's own headers (its
  Content Security Policy included: no inline script, scripts from files).

The pages tested are the site's own (the live events page, /events/, is one): a document the
harness served itself would not be what a person gets, and Chromium treats it as coming from
the public internet, so its requests to nginx's private address are blocked (Local Network
Access) unless the browser's checks are turned off, which these tests never do.
"""

import contextlib
import os
import re
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.e2e.conftest import BASE_URL
from tests.e2e.docker import Stack

RESULTS = Path(os.environ["BROWSER_RESULTS"])  # compose.yaml's browser service mounts it
SITE = "http://localhost:8080"

# Reported by the page itself: the browser logs a CSP violation, but an init script also
# reports it, with the directive, in case a build does not.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


class Problems(list[str]):
    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.append(f"console error: {message.text} ({message.location.get('url', '')})")

    def page_error(self, error: Exception) -> None:
        self.append(f"uncaught exception: {error}")


class Relay(socketserver.ThreadingTCPServer):
    """Passes each connection's bytes both ways to nginx, untouched."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, listen: tuple[str, int], upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        super().__init__(listen, RelayedConnection)


class RelayedConnection(socketserver.BaseRequestHandler):
    server: Relay

    def handle(self) -> None:
        with socket.create_connection(self.server.upstream) as upstream:
            back = threading.Thread(target=_pipe, args=(upstream, self.request), daemon=True)
            back.start()
            _pipe(self.request, upstream)
            back.join()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):  # a side went away: the relay of it ends
        while data := source.recv(65536):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)  # pass the end on


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    nginx = urlsplit(BASE_URL)
    with Relay(("127.0.0.1", 8080), (nginx.hostname or "nginx", nginx.port or 80)) as relay:
        threading.Thread(target=relay.serve_forever, daemon=True).start()
        yield SITE
        relay.shutdown()


@pytest.fixture(scope="session")
def browser(site: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=os.environ["BROWSER_EXECUTABLE"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, site: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    problems = Problems()
    context = browser.new_context(base_url=site)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()
    page.on("console", problems.console)
    page.on("pageerror", problems.page_error)
    try:
        yield page
    finally:
        RESULTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        page.screenshot(path=RESULTS / f"{name}.png", full_page=True)
        context.close()
    assert problems == [], "\n".join(problems)


@pytest.fixture
def open_page(page: Page) -> Callable[[str], Page]:
    def open_(path: str) -> Page:
        response = page.goto(path)
        assert response is not None, path
        assert response.ok, f"{path}: {response.status}"
        return page

    return open_


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    with Stack.of_this_container() as stack:
        yield stack
