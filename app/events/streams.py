"""A subscriber's stream, for SSE and WebSocket alike: where it starts, then every event after
that, in order, exactly once, from memory or from the table, then live.

A stream yields, in this order: a Start (the position it starts after) or a Reset (it cannot
resume: it starts after the head), then batches of events, a Heartbeat when idle, and more
Resets if the log moves under it. It ends when the server stops (the client resumes elsewhere)
and raises Unavailable when the table cannot be read (the client resumes later).

Reset reasons (docs/events.md): `ahead` (the id is newer than the newest event: a restored or
replaced database), `behind` (more than EVENTS_REPLAY_MAX events to replay), `pruned` (the
events after it are older than EVENTS_RETENTION and gone), `restored` (the log went back while
subscribed), `invalid` (a Last-Event-ID that is not an event id).
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass

from events.log import Event, event_log


@dataclass(frozen=True, slots=True)
class Start:
    id: int  # the stream continues after this id


@dataclass(frozen=True, slots=True)
class Reset:
    id: int  # the head: the stream continues after it; the client must reload its state
    reason: str


class Heartbeat:
    """Nothing happened for EVENTS_HEARTBEAT_SECONDS."""


HEARTBEAT = Heartbeat()
Message = Start | Reset | Heartbeat | list[Event]


async def follow(since: int | None, *, reset: str | None = None) -> AsyncIterator[Message]:
    """The stream after `since` (None: from the head on). `reset` forces a reset with that
    reason (the caller could not read the client's last id)."""
    log = event_log()
    position, reason = await log.start_position(None if reset else since)
    reason = reset or reason
    yield Reset(position, reason) if reason else Start(position)
    while not log.closing:
        if position > log.head:
            position = log.head
            yield Reset(position, "restored")
            continue
        batch = log.recent_after(position)
        if batch is None:  # older than this process's memory: from the table
            batch = await log.read_after(position)
            if not batch or batch[0].id != position + 1:
                position = log.head
                yield Reset(position, "pruned")
                continue
        if batch:
            yield batch
            position = batch[-1].id
        elif not await log.wait(position):
            yield HEARTBEAT
