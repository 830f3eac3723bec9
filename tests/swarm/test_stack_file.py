"""stack.yaml (Swarm) against compose.yaml (Compose): the same services, environment, secrets,
commands, healthchecks, limits and hardening, or a difference listed below with its reason.

A service, a setting or a key added to compose.yaml fails here until stack.yaml has it too (or
it is listed): the two files cannot drift apart silently. Lint-level: the files only, no Docker.
"""

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
STACK = yaml.safe_load((ROOT / "stack.yaml").read_text())

# compose.yaml's services with a `profiles:` key are the test runners (tests, e2e, browser):
# make test's, not the deployed stack's.
DEPLOYED = sorted(name for name, spec in COMPOSE["services"].items() if "profiles" not in spec)

# Backups (docs/backups.md: pgBackRest, WAL archiving, the backup service) are not on Swarm yet:
# the swarm stack runs PostgreSQL's own image without archiving. Each piece is listed here, so
# that anything else compose.yaml adds still fails this test (docs/swarm.md, "Not yet").
NOT_ON_SWARM_YET = "backups are not on Swarm yet (docs/swarm.md): no pgBackRest, no archiving"
ONLY_IN_COMPOSE = {"backup": NOT_ON_SWARM_YET}
ONLY_IN_COMPOSE_SETTINGS: dict[tuple[str, ...], str] = {
    ("db", "command"): NOT_ON_SWARM_YET,
    ("db", "volumes", "${BACKUP_DIR:-backups}:/var/lib/pgbackrest"): NOT_ON_SWARM_YET,
    # The socket directory is a volume in compose.yaml only to be shared with `backup`.
    ("db", "volumes", "pgsocket:/var/run/postgresql"): NOT_ON_SWARM_YET,
    ("db", "secrets", "backup_s3_key"): NOT_ON_SWARM_YET,
    ("db", "secrets", "backup_s3_key_secret"): NOT_ON_SWARM_YET,
    **{("db", "environment", name): NOT_ON_SWARM_YET for name in COMPOSE["x-backup-env"]},
}
# The db's image with pgBackRest: on Swarm, PostgreSQL's own image (STACK_DB_IMAGE) for now.
NOT_BUILT_YET = {"db": NOT_ON_SWARM_YET}
# The socket directory: a task volume on Swarm, as every writable path (see REPLACED's tmpfs).
ONLY_IN_STACK_SETTINGS: dict[tuple[str, ...], str] = {
    ("db", "writable", "/var/run/postgresql"): NOT_ON_SWARM_YET
}
SECRETS_ONLY_IN_COMPOSE = {"backup_s3_key", "backup_s3_key_secret"}
VOLUMES_ONLY_IN_COMPOSE = {"backups", "pgsocket"}
SWARM_SERVICES = [name for name in DEPLOYED if name not in ONLY_IN_COMPOSE]

# The services docker/swarm/up builds and releases (compose.yaml's build sections). A service
# that compose.yaml starts to build must be built and pushed by docker/swarm/up too.
BUILT_BY_SWARM_UP = {"app", "migrate", "nginx"}

# Keys compared one to one (after the normalisation in `compared`).
SAME = [
    "environment",
    "secrets",
    "command",
    "healthcheck",
    "read_only",
    "cap_drop",
    "init",
    "user",
    "ulimits",
    "sysctls",
    "stop_grace_period",
    "logging",
    "networks",
    "limits",
    "writable",
    "volumes",
    "ports",
]

# compose.yaml keys that Swarm has otherwise, each with where stack.yaml has it, or why not.
REPLACED = {
    "build": "Swarm builds nothing: docker/swarm/up builds compose.yaml's build sections and "
    "tags the images by content (stack.yaml's STACK_*_IMAGE)",
    "image": "the released, content-tagged image (STACK_*_IMAGE), pushed to REGISTRY",
    "cpus": "deploy.resources.limits.cpus (stack deploy refuses service-level cpus)",
    "mem_limit": "deploy.resources.limits.memory (stack deploy refuses mem_limit)",
    "pids_limit": "deploy.resources.limits.pids",
    "tmpfs": "anonymous volumes on the same paths (a stack file's tmpfs takes no mode or owner, "
    "so the images' non-root users could not write to it)",
    "restart": "deploy.restart_policy (stack deploy turns restart: no into restart forever)",
    "depends_on": "no conditions in Swarm: docker/swarm/up waits for a healthy db, runs the "
    "migrate job to completion, then updates the app; nginx finds the app by DNS when it is up",
    "scale": "deploy.replicas (APP_REPLICAS, 2 by default: make swarm-up spreads them)",
    "security_opt": "no-new-privileges: no such service option before Docker 27 (API 1.46); "
    "every image runs as a non-root user with no capability",
    "shm_size": "no such service option in Swarm: the engine's default /dev/shm (64 MB)",
}

# Values that differ on purpose: (service, key, item) -> reason.
DIFFERENT = {
    ("app", "environment", "FORWARDED_ALLOW_IPS"): "the backend overlay's own subnet, "
    "SWARM_BACKEND_SUBNET (10.213.8.0/24), so that a Compose stack and a single-node swarm "
    "stack can run on one engine",
    ("nginx", "ports", "host"): "host mode, on every address of the edge node: Swarm binds no "
    "single address (HTTP_BIND), and the routing mesh needs IPVS",
}


def compared(spec: dict[str, Any]) -> dict[str, Any]:
    """The settings of one service, in one shape for both files."""
    deploy = spec.get("deploy", {})
    limits = deploy.get("resources", {}).get("limits", {})
    mounts = spec.get("volumes", [])
    named = sorted(m for m in mounts if isinstance(m, str))
    # Writable paths: compose.yaml's tmpfs (options after the colon), stack.yaml's volumes
    # without a source.
    writable = sorted(
        [path.split(":")[0] for path in spec.get("tmpfs", [])]
        + [m["target"] for m in mounts if isinstance(m, dict) and "source" not in m]
    )
    ports = [
        {"target": int(port.rsplit(":", 1)[-1]) if isinstance(port, str) else port["target"]}
        for port in spec.get("ports", [])
    ]
    return {
        "environment": spec.get("environment", {}),
        "secrets": spec.get("secrets", []),
        "command": spec.get("command"),
        "healthcheck": spec.get("healthcheck"),
        "read_only": spec.get("read_only", False),
        "cap_drop": spec.get("cap_drop", []),
        "init": spec.get("init", False),
        "user": spec.get("user"),
        "ulimits": spec.get("ulimits"),
        "sysctls": spec.get("sysctls"),
        "stop_grace_period": spec.get("stop_grace_period"),
        "logging": spec.get("logging"),
        "networks": sorted(spec.get("networks", [])),
        "limits": {
            "cpus": str(limits.get("cpus", spec.get("cpus", ""))),
            "memory": str(limits.get("memory", spec.get("mem_limit", ""))),
            "pids": str(limits.get("pids", spec.get("pids_limit", ""))),
        },
        "writable": writable,
        "volumes": named,
        "ports": ports,
    }


def _listed(listing: dict[Any, str], service: str, key: str, item: Any) -> bool:
    return isinstance(item, str) and (service, key, item) in listing


def test_every_deployed_compose_service_is_in_the_stack() -> None:
    missing = [
        name for name in DEPLOYED if name not in STACK["services"] and name not in ONLY_IN_COMPOSE
    ]
    assert not missing, (
        f"compose.yaml has {missing}, stack.yaml has not: add them to stack.yaml (and to this"
        " test's lists if Swarm needs them otherwise)"
    )


def test_the_stack_has_no_service_compose_lacks() -> None:
    assert sorted(STACK["services"]) == [name for name in DEPLOYED if name not in ONLY_IN_COMPOSE]


def test_swarm_up_builds_every_image_compose_builds() -> None:
    built = {
        name
        for name in SWARM_SERVICES
        if "build" in COMPOSE["services"][name] and name not in NOT_BUILT_YET
    }
    assert built == BUILT_BY_SWARM_UP, (
        f"compose.yaml builds {sorted(built)}; docker/swarm/up builds and releases"
        f" {sorted(BUILT_BY_SWARM_UP)}: make it build the others too (and update this list)"
    )


@pytest.mark.parametrize("service", SWARM_SERVICES)
def test_every_compose_key_is_compared_or_replaced(service: str) -> None:
    unknown = sorted(set(COMPOSE["services"][service]) - set(SAME) - set(REPLACED))
    assert not unknown, (
        f"compose.yaml's {service} sets {unknown}: mirror it in stack.yaml and compare it here,"
        " or list it in REPLACED with the reason"
    )


@pytest.mark.parametrize("key", SAME)
@pytest.mark.parametrize("service", SWARM_SERVICES)
def test_service_setting_is_the_same_in_both(service: str, key: str) -> None:
    if service not in STACK["services"]:
        pytest.fail(f"stack.yaml has no {service} (see the test above)")
    if (service, key) in ONLY_IN_COMPOSE_SETTINGS:
        return  # the whole setting, listed with its reason
    ours = compared(COMPOSE["services"][service])[key]
    theirs = compared(STACK["services"][service])[key]
    if isinstance(ours, list):
        ours = [i for i in ours if not _listed(ONLY_IN_COMPOSE_SETTINGS, service, key, i)]
        theirs = [i for i in theirs if not _listed(ONLY_IN_STACK_SETTINGS, service, key, i)]
    if isinstance(ours, dict) and key == "environment":
        ours = {
            name: value
            for name, value in ours.items()
            if (service, key, name) not in ONLY_IN_COMPOSE_SETTINGS
        }
    if isinstance(ours, dict) and key == "environment":
        for item in set(ours) | set(theirs):
            if (service, key, item) in DIFFERENT:
                assert item in ours, f"{item} is listed as different, not missing"
                assert item in theirs, f"{item} is listed as different, not missing"
                continue
            assert ours.get(item) == theirs.get(item), (
                f"{service}.{key}.{item}: compose.yaml {ours.get(item)!r}, stack.yaml"
                f" {theirs.get(item)!r}"
            )
        return
    assert ours == theirs, f"{service}.{key}: compose.yaml {ours!r}, stack.yaml {theirs!r}"


def test_nginx_publishes_in_host_mode() -> None:
    (port,) = STACK["services"]["nginx"]["ports"]
    assert port["mode"] == "host", DIFFERENT[("nginx", "ports", "host")]


def test_every_service_is_found_by_dns_round_robin() -> None:
    # No virtual IPs: this kernel (and many) has no IPVS; nginx balances over the replicas.
    modes = {name: spec["deploy"].get("endpoint_mode") for name, spec in STACK["services"].items()}
    assert set(modes.values()) == {"dnsrr"}, modes


def test_the_migrations_are_a_job_that_is_never_restarted() -> None:
    deploy = STACK["services"]["migrate"]["deploy"]
    assert deploy["mode"] == "replicated-job"
    assert deploy["restart_policy"] == {"condition": "none"}


def test_the_app_updates_start_first_and_rolls_back() -> None:
    update = STACK["services"]["app"]["deploy"]["update_config"]
    assert update["order"] == "start-first"
    assert update["failure_action"] == "rollback"
    assert STACK["services"]["app"]["deploy"]["rollback_config"]["order"] == "start-first"


def test_secrets_are_the_same_files_under_versioned_names() -> None:
    assert sorted(STACK["secrets"]) == sorted(set(COMPOSE["secrets"]) - SECRETS_ONLY_IN_COMPOSE)
    for name, secret in STACK["secrets"].items():
        assert secret["file"] == COMPOSE["secrets"][name]["file"]
        assert secret["name"].startswith("${STACK_"), secret


def test_the_stack_pins_the_schema_and_keeps_the_volumes() -> None:
    assert STACK["version"] == "3.12"
    assert sorted(STACK["volumes"]) == sorted(set(COMPOSE["volumes"]) - VOLUMES_ONLY_IN_COMPOSE)
