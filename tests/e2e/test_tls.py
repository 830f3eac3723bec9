"""make up TLS=1: HTTPS with HTTP/2 on 8443, plain HTTP redirecting to it, and Django's deploy
checks clean. Run by `make test` against the stack with compose.tls.yaml and a throwaway
certificate (tests/run's `tls` step), as the e2e service: nginx is `nginx` here, not localhost,
so the certificate is checked against its issuer, not its name."""

import socket
import ssl
from collections.abc import Iterator
from http import HTTPStatus

import httpx
import pytest

from tests.e2e.docker import Stack

pytestmark = pytest.mark.tls

HTTP = "http://nginx:8080"
HTTPS = "https://nginx:8443"


@pytest.fixture(scope="module")
def trusted(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """Trusts the stack's own certificate, read from nginx, and nothing else."""
    cert = tmp_path_factory.mktemp("tls") / "cert.pem"
    cert.write_bytes(stack.exec("nginx", "cat", "/etc/nginx/tls/cert.pem"))
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False  # issued for localhost and 127.0.0.1
    return context


@pytest.fixture
def https(trusted: ssl.SSLContext) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=HTTPS, verify=trusted, timeout=10) as client:
        yield client


def test_plain_http_redirects_to_https_but_health_probes_stay() -> None:
    with httpx.Client(base_url=HTTP, timeout=10) as http:
        redirected = http.get("/api/info?x=1")
        health = http.get("/healthz")

    assert redirected.status_code == HTTPStatus.PERMANENT_REDIRECT
    assert redirected.headers["location"] == "https://nginx:8443/api/info?x=1"
    assert health.status_code == HTTPStatus.OK


def test_https_negotiates_http2_with_a_certificate_the_client_can_verify(
    trusted: ssl.SSLContext,
) -> None:
    trusted.set_alpn_protocols(["h2", "http/1.1"])
    with (
        socket.create_connection(("nginx", 8443), timeout=10) as raw,
        trusted.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.selected_alpn_protocol() == "h2"
        assert tls.version() in {"TLSv1.2", "TLSv1.3"}


def test_the_app_sees_https_and_sends_hsts_once(https: httpx.Client) -> None:
    response = https.get("/api/info")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["client"]["scheme"] == "https"
    assert len(response.headers.get_list("strict-transport-security")) == 1
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_cookies_are_secure_and_the_admin_form_posts_over_https(https: httpx.Client) -> None:
    page = https.get("/admin/login/")
    cookie = page.headers["set-cookie"]

    assert page.status_code == HTTPStatus.OK
    assert "csrftoken=" in cookie
    assert "Secure" in cookie
    token = page.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    logout = https.post(
        "/admin/logout/",
        data={"csrfmiddlewaretoken": token},
        headers={"Origin": "https://localhost:8443", "Host": "localhost:8443"},
    )
    assert logout.status_code in {HTTPStatus.OK, HTTPStatus.FOUND}


def test_django_deploy_checks_are_clean(stack: Stack) -> None:
    output = stack.exec(
        "app", "python", "manage.py", "check", "--deploy", "--fail-level", "WARNING"
    ).decode()

    assert "System check identified no issues" in output
