"""How the containers run, read from the engine: least privilege, limits, secrets kept out of
every environment and image layer, the networks that keep the database out of reach; and CSRF
working behind nginx."""

import json
import re
from http import HTTPStatus
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import BASE_URL
from tests.e2e.docker import Stack

SERVICES = ["app", "db", "nginx", "backup"]


@pytest.fixture(scope="module")
def inspected(stack: Stack) -> dict[str, dict[str, Any]]:
    return {service: stack.inspect(service) for service in SERVICES}


@pytest.mark.parametrize("service", SERVICES)
def test_runs_with_least_privilege(inspected: dict[str, dict[str, Any]], service: str) -> None:
    container = inspected[service]
    host = container["HostConfig"]

    assert container["Config"]["User"] not in {"", "0", "root", "0:0"}
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert not host["CapAdd"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["Privileged"] is False
    assert host["Memory"] > 0
    assert host["NanoCpus"] > 0 or host["CpuQuota"] > 0
    assert host["PidsLimit"] > 0
    assert host["LogConfig"]["Config"]["max-size"]
    assert container["State"]["Health"]["Status"] == "healthy"


@pytest.mark.parametrize("service", ["app", "db", "backup"])
def test_has_an_init_process_for_signals(
    inspected: dict[str, dict[str, Any]], service: str
) -> None:
    assert inspected[service]["HostConfig"]["Init"] is True


@pytest.mark.parametrize("service", SERVICES)
def test_server_processes_are_not_root(stack: Stack, service: str) -> None:
    """Every process in the container, workers included, runs under a non-zero uid."""
    script = "for s in /proc/[0-9]*/status; do grep -m1 '^Uid:' \"$s\"; done"
    uids = {line.split()[1] for line in stack.exec(service, "sh", "-c", script).splitlines()}

    assert uids, "no process found"
    assert "0" not in {uid.decode() for uid in uids}


def test_only_nginx_publishes_ports_and_the_database_is_out_of_its_reach(
    inspected: dict[str, dict[str, Any]],
) -> None:
    for service in ("app", "db", "backup"):
        assert not inspected[service]["HostConfig"]["PortBindings"], service
    networks = {s: set(c["NetworkSettings"]["Networks"]) for s, c in inspected.items()}
    assert not networks["db"] & networks["nginx"]


def test_backups_are_on_a_volume_of_their_own_and_the_scheduler_only_reads_the_data(
    inspected: dict[str, dict[str, Any]],
) -> None:
    """The backup location is not the database's volume (a lost data volume keeps its backups);
    the backup service reads the data files, writes only the backups, and has no network."""
    mounts = {
        service: {m["Destination"]: m for m in inspected[service]["Mounts"]}
        for service in ("db", "backup")
    }
    data, backups = "/var/lib/postgresql/data", "/var/lib/pgbackrest"
    assert mounts["db"][backups]["Name"] != mounts["db"][data]["Name"]
    assert mounts["db"][data]["RW"]
    assert mounts["db"][backups]["RW"]
    assert mounts["backup"][data]["Name"] == mounts["db"][data]["Name"]
    assert mounts["backup"][data]["RW"] is False
    assert mounts["backup"][backups]["Name"] == mounts["db"][backups]["Name"]
    assert inspected["backup"]["HostConfig"]["NetworkMode"] == "none"


@pytest.mark.parametrize(
    ("service", "secret"),
    [("app", "secret_key"), ("app", "postgres_password"), ("db", "postgres_password")],
)
def test_secrets_are_files_in_no_environment_or_image_layer(
    stack: Stack, inspected: dict[str, dict[str, Any]], service: str, secret: str
) -> None:
    value = stack.exec(service, "cat", f"/run/secrets/{secret}").decode()
    assert len(value) >= 32

    environment = dict(item.split("=", 1) for item in inspected[service]["Config"]["Env"])
    assert value not in json.dumps(inspected[service])
    assert f"{secret.upper()}_FILE" in environment
    assert secret.upper() not in environment
    image, history = stack.image(service)
    assert value not in json.dumps(image)
    assert value not in json.dumps(history)


async def csrf_form(client: httpx.AsyncClient) -> dict[str, str]:
    page = await client.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, "no CSRF token in the admin login form"
    return {"csrfmiddlewaretoken": token.group(1)}


async def test_csrf_accepts_a_same_origin_post_through_nginx(client: httpx.AsyncClient) -> None:
    """Django compares the Origin with the Host nginx passes on: a form posted from the page
    nginx served passes. (Logout: a CSRF-protected POST that nginx does not rate-limit.)"""
    form = await csrf_form(client)

    response = await client.post("/admin/logout/", data=form, headers={"Origin": BASE_URL})

    assert response.status_code in {HTTPStatus.OK, HTTPStatus.FOUND}


@pytest.mark.parametrize(
    ("origin", "with_token"),
    [("http://evil.example", True), (BASE_URL, False), ("null", True)],
)
async def test_csrf_refuses_a_foreign_origin_or_a_missing_token(
    client: httpx.AsyncClient, origin: str, with_token: bool
) -> None:
    form = await csrf_form(client) if with_token else {}

    response = await client.post("/admin/logout/", data=form, headers={"Origin": origin})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.headers["content-type"] == "application/problem+json"
