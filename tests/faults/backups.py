"""Writes and checks for the backup and restore tests (tests/run faults, step "backups"):

python -m tests.faults.backups write PREFIX SECONDS
    acknowledged writes through nginx, one after another, for SECONDS: one JSON line per write
    ({"name", "sent", "acked"}: epoch seconds); exits 1 if one is not acknowledged (201).
python -m tests.faults.backups exactly PREFIX <acked.jsonl
    the stored items named PREFIX* are exactly the acknowledged ones on stdin.
python -m tests.faults.backups within PREFIX KEPT_BY SENT_BY <acked.jsonl
    the stored ones are the first acknowledged ones, in order, with no hole: every one
    acknowledged by KEPT_BY stored, none sent after SENT_BY (a backup's start and end).
python -m tests.faults.backups rpo PREFIX FAULT MAX_SECONDS <acked.jsonl
    the stored ones are the first acknowledged ones, with no hole, and the writes lost span at
    most MAX_SECONDS before FAULT (the RPO, printed).
"""

import json
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus

import httpx

BASE_URL = os.environ.get("E2E_BASE_URL", "http://nginx:8080")


@dataclass(frozen=True)
class Write:
    name: str
    sent: float
    acked: float


def parse(lines: Iterable[str]) -> list[Write]:
    return [Write(**json.loads(line)) for line in lines if line.strip()]


def stored_prefix(acked: list[Write], stored: set[str]) -> int:
    """How many of `acked` (in order) are stored; AssertionError if stored ones are not exactly
    the first ones (a hole, or a name that was never acknowledged)."""
    names = [w.name for w in acked]
    unknown = stored - set(names)
    assert not unknown, f"stored but never acknowledged: {sorted(unknown)[:5]}"
    kept = sum(1 for name in names if name in stored)
    holes = [name for name in names[:kept] if name not in stored]
    assert not holes, f"a hole: {holes[:5]} lost while later writes were kept"
    return kept


def check_within(acked: list[Write], stored: set[str], kept_by: float, sent_by: float) -> int:
    kept = stored_prefix(acked, stored)
    must = [w.name for w in acked if w.acked <= kept_by]
    missing = [name for name in must if name not in stored]
    assert not missing, f"acknowledged by {kept_by} but not restored: {missing[:5]}"
    late = [w.name for w in acked[:kept] if w.sent > sent_by]
    assert not late, f"sent after {sent_by} but restored: {late[:5]}"
    return kept


def check_rpo(acked: list[Write], stored: set[str], fault: float, max_seconds: float) -> float:
    """The RPO: how long before the fault the first lost acknowledged write was (0: none)."""
    kept = stored_prefix(acked, stored)
    if kept == len(acked):
        return 0.0
    rpo = fault - acked[kept].acked
    assert rpo <= max_seconds, f"{len(acked) - kept} writes lost over {rpo:.1f} s > {max_seconds} s"
    return rpo


def write(prefix: str, seconds: float) -> int:
    headers = {"Authorization": f"Bearer {os.environ['E2E_TOKEN']}"}
    deadline = time.time() + seconds
    with httpx.Client(base_url=BASE_URL, timeout=10, headers=headers) as http:
        n = 0
        while time.time() < deadline:
            name = f"{prefix}-{n:06d}"
            sent = time.time()
            response = http.post("/api/items", json={"name": name})
            if response.status_code != HTTPStatus.CREATED:
                print(f"{name}: {response.status_code} {response.text[:200]}", file=sys.stderr)
                return 1
            print(json.dumps({"name": name, "sent": sent, "acked": time.time()}), flush=True)
            n += 1
    return 0


def stored(prefix: str) -> set[str]:
    with httpx.Client(base_url=BASE_URL, timeout=30) as http:
        export = http.get("/api/items/export")
        export.raise_for_status()
    names = (json.loads(line)["name"] for line in export.text.splitlines() if line)
    return {name for name in names if name.startswith(prefix)}


def main(argv: list[str]) -> int:
    command, prefix, *rest = argv
    if command == "write":
        return write(prefix, float(rest[0]))
    acked = [w for w in parse(sys.stdin) if w.name.startswith(prefix)]
    have = stored(prefix)
    try:
        if command == "exactly":
            assert have == {w.name for w in acked}, (
                f"{len(have)} stored, {len(acked)} acknowledged: "
                f"extra {sorted(have - {w.name for w in acked})[:5]}, "
                f"missing {sorted({w.name for w in acked} - have)[:5]}"
            )
            print(f"backups: {prefix}*: exactly the {len(acked)} acknowledged writes are stored")
        elif command == "within":
            kept = check_within(acked, have, float(rest[0]), float(rest[1]))
            print(f"backups: {prefix}*: the first {kept} of {len(acked)} writes, no hole")
        elif command == "rpo":
            rpo = check_rpo(acked, have, float(rest[0]), float(rest[1]))
            print(
                f"backups: {prefix}*: {len(have)} of {len(acked)} acknowledged writes restored, "
                f"no hole; RPO {rpo:.1f} s (writes acknowledged in the last {rpo:.1f} s "
                "before the fault were lost)"
            )
        else:
            print(f"unknown command {command}", file=sys.stderr)
            return 2
    except AssertionError as error:
        print(f"backups: {prefix}*: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
