"""A minimal Docker Engine API client over the socket, to stop and start the stack's services.

The e2e container finds its own compose project from its own labels, so it acts only on the
stack it belongs to.
"""

import json
import socket
import time
from types import TracebackType
from typing import Any, Self

import httpx

SOCKET = "/var/run/docker.sock"


class Stack:
    def __init__(self, api: httpx.Client, project: str) -> None:
        self.api = api
        self.project = project

    @classmethod
    def of_this_container(cls) -> "Stack":
        api = httpx.Client(
            transport=httpx.HTTPTransport(uds=SOCKET), base_url="http://docker", timeout=60
        )
        me = api.get(f"/containers/{socket.gethostname()}/json").raise_for_status().json()
        return cls(api, me["Config"]["Labels"]["com.docker.compose.project"])

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.api.close()

    def container(self, service: str) -> dict[str, Any]:
        labels = [f"com.docker.compose.project={self.project}"]
        labels.append(f"com.docker.compose.service={service}")
        found: list[dict[str, Any]] = (
            self.api.get("/containers/json", params={"all": "true", "filters": _filters(labels)})
            .raise_for_status()
            .json()
        )
        if len(found) != 1:
            raise LookupError(f"expected one {service} container in {self.project}: {found}")
        return found[0]

    def inspect(self, service: str) -> dict[str, Any]:
        """The engine's full record of the service's container (State, RestartCount, ...)."""
        cid = self.container(service)["Id"]
        details: dict[str, Any] = self.api.get(f"/containers/{cid}/json").raise_for_status().json()
        return details

    def kill(self, service: str, signal: str = "SIGKILL") -> None:
        """What `docker compose kill` does: the engine signals the container's PID 1."""
        cid = self.container(service)["Id"]
        self.api.post(f"/containers/{cid}/kill", params={"signal": signal}).raise_for_status()

    def stop(self, service: str, *, timeout: int = 10) -> None:
        cid = self.container(service)["Id"]
        self.api.post(f"/containers/{cid}/stop", params={"t": timeout}).raise_for_status()

    def start(self, service: str) -> None:
        cid = self.container(service)["Id"]
        response = self.api.post(f"/containers/{cid}/start")
        if response.status_code != httpx.codes.NOT_MODIFIED:  # 304: already running
            response.raise_for_status()

    def exec(self, service: str, *command: str) -> bytes:
        """Run `command` in the service's container; its output (multiplexed stream frames
        stripped); raise if it fails."""
        cid = self.container(service)["Id"]
        created = self.api.post(
            f"/containers/{cid}/exec",
            json={"Cmd": list(command), "AttachStdout": True, "AttachStderr": True},
        ).raise_for_status()
        exec_id = created.json()["Id"]
        output = self.api.post(f"/exec/{exec_id}/start", json={"Detach": False}).content
        result = self.api.get(f"/exec/{exec_id}/json").raise_for_status().json()
        if result["ExitCode"] != 0:
            raise RuntimeError(f"{command} in {service} exited {result['ExitCode']}: {output!r}")
        return _demultiplex(output)

    def image(self, service: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The service's image: its configuration and the history of its layers."""
        image_id = self.inspect(service)["Image"]
        config: dict[str, Any] = self.api.get(f"/images/{image_id}/json").raise_for_status().json()
        history: list[dict[str, Any]] = (
            self.api.get(f"/images/{image_id}/history").raise_for_status().json()
        )
        return config, history

    def wait_healthy(self, service: str, *, within: float) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            cid = self.container(service)["Id"]
            state = self.api.get(f"/containers/{cid}/json").raise_for_status().json()["State"]
            if state.get("Health", {}).get("Status") == "healthy":
                return
            time.sleep(0.5)
        raise TimeoutError(f"{service} not healthy within {within}s")


def _demultiplex(raw: bytes) -> bytes:
    """The payload of the engine's stream frames (8-byte header: stream, 0, 0, 0, size)."""
    payload = bytearray()
    while len(raw) >= 8:
        size = int.from_bytes(raw[4:8], "big")
        payload += raw[8 : 8 + size]
        raw = raw[8 + size :]
    return bytes(payload)


def _filters(labels: list[str]) -> str:
    return json.dumps({"label": labels})
