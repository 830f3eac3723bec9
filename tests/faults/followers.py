"""Event subscribers through a redeploy: the witness that streams resume with no gap (tests/run
faults runs it, with tests.faults.load, around `make deploy`).

    python -m tests.faults.followers [--max-seconds 240]

An SSE and a WebSocket follower (tests/e2e/followers.py) subscribe through nginx and reconnect
by themselves, while the load writes. On SIGTERM (or after --max-seconds) the head is read from
the database; each follower must reach it and hold every id from its first to the head, once,
in order, with no reset, and must have reconnected at least once (the deploy replaced every
replica it was on). Prints a summary; exits 1 otherwise.
"""

import argparse
import asyncio
import itertools
import json
import signal
import sys

from tests.e2e.docker import Stack
from tests.e2e.followers import Follower, SseFollower, WsFollower
from tests.e2e.test_events import db_head


def problems(follower: Follower, head: int) -> list[str]:
    found = []
    ids = follower.ids
    if not ids or ids != list(range(ids[0], ids[-1] + 1)) or ids[-1] != head:
        gaps = [(a, b) for a, b in itertools.pairwise(ids) if b != a + 1][:5]
        found.append(f"ids not contiguous up to the head {head}: {len(ids)} ids, gaps {gaps}")
    if follower.resets:
        found.append(f"resets: {follower.resets}")
    if follower.gave_up:
        found.append(f"gave up: {follower.gave_up}")
    if follower.connections < 2:
        found.append(f"never reconnected ({follower.connections} connection)")
    return found


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-seconds", type=float, default=240)
    args = parser.parse_args()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.call_later(args.max_seconds, stop.set)

    with Stack.of_this_container() as stack:
        async with SseFollower() as sse, WsFollower() as ws:
            for follower in (sse, ws):
                await follower.until_connected()
            print("followers: subscribed", flush=True)
            await stop.wait()
            head = await asyncio.to_thread(db_head, stack)
            for follower in (sse, ws):
                try:
                    await follower.until_id(head, within=60)
                except AssertionError as exc:
                    print(f"followers: {exc}", file=sys.stderr)
    found = {type(f).__name__: problems(f, head) for f in (sse, ws)}
    summary = {
        name: {"events": len(f.ids), "connections": f.connections, "problems": found[name]}
        for name, f in (("SseFollower", sse), ("WsFollower", ws))
    }
    print(json.dumps({"head": head, **summary}))
    return 1 if any(found.values()) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
