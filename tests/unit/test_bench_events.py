"""make bench-events' clients and arithmetic: what its minimal SSE and WebSocket parsers read,
how lost events are counted, and what the report calls met or missed."""

import json
from typing import Any

from tests.unit.test_bench_tools import load

events, events_report = load("events"), load("events_report")

AT = "2026-12-01T23:35:39.123Z"


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True


def sse_event(event_id: int) -> bytes:
    data = json.dumps({"at": AT, "id": event_id, "item": {"id": 1}, "type": "item.created"})
    return f"id: {event_id}\nevent: item.created\ndata: {data}\n\n".encode()


async def test_the_sse_client_counts_gaps_duplicates_and_resets_across_reads() -> None:
    tally = events.Tally(measuring=True)
    client = events.SseSubscriber(tally, None)
    client.connection_made(Transport())
    stream = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
        b"retry: 2500\n: subscribed on app\n\nid: 10\n\n"
        + sse_event(11)
        + sse_event(13)
        + sse_event(13)
        + b": heartbeat\n\n"
        + b'id: 20\nevent: reset\ndata: {"type": "reset", "id": 20, "reason": "behind"}\n\n'
        + sse_event(21)
    )
    for start in range(0, len(stream), 7):  # frames split across reads
        client.data_received(stream[start : start + 7])

    assert client.subscribed.done()
    assert client.retry == 2.5
    assert (client.last, client.gaps, client.duplicates, client.resets) == (21, 1, 1, 1)
    assert tally.deliveries == 3
    assert tally.committed_at[11] == events.event_time(f'"at": "{AT}"'.encode())


async def test_the_sse_client_fails_on_an_answer_that_is_not_a_stream() -> None:
    client = events.SseSubscriber(events.Tally(), None)
    client.connection_made(Transport())
    client.data_received(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: x\r\n\r\n{}")

    assert isinstance(client.subscribed.exception(), ConnectionError)


def ws_frame(opcode: int, payload: bytes) -> bytes:
    assert len(payload) < 65536
    if len(payload) < 126:
        return bytes([0x80 | opcode, len(payload)]) + payload
    return bytes([0x80 | opcode, 126]) + len(payload).to_bytes(2) + payload


async def test_the_websocket_client_reads_frames_and_answers_pings() -> None:
    tally = events.Tally(measuring=True)
    client = events.WsSubscriber(tally, 5)
    transport = Transport()
    client.connection_made(transport)
    assert transport.written[0].startswith(b"GET /ws/events?since=5 HTTP/1.1\r\n")
    event = json.dumps({"at": AT, "id": 6, "item": {"id": 1, "description": "x" * 300}})
    stream = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        + ws_frame(1, b'{"type": "subscribed", "id": 5, "instance": "app"}')
        + ws_frame(1, event.encode())
        + ws_frame(9, b"ping!")
        + ws_frame(1, event.replace('"id": 6', '"id": 8').encode())
    )
    client.data_received(stream[:40])
    client.data_received(stream[40:])

    assert (client.last, client.gaps, tally.deliveries) == (8, 1, 2)
    pong = transport.written[-1]
    assert pong[0] == 0x8A  # FIN + pong
    assert pong[1] == 0x80 | 5  # masked, 5 bytes
    mask = pong[2:6]
    assert bytes(b ^ mask[i % 4] for i, b in enumerate(pong[6:])) == b"ping!"


async def test_lost_events_are_gaps_and_ids_never_reached() -> None:
    tally = events.Tally()
    on_time, behind = events.SseSubscriber(tally, 10), events.SseSubscriber(tally, 10)
    on_time.gaps, behind.last = 2, 7

    assert events.verdict([on_time, behind], 10) == {
        "lost": 2 + 3,
        "duplicates": 0,
        "resets": 0,
        "subscribers_behind": 1,
    }


def cell(**changes: Any) -> dict[str, Any]:
    base = {
        "transport": "sse",
        "subscribers": 10_000,
        "rate": 1,
        "deliveries_per_s": 10_000.0,
        "p50_ms": 20.0,
        "p99_ms": 150.0,
        "max_ms": 300.0,
        "app_cpu_share": 0.5,
        "app_cpu_ms_per_1000": 50.0,
        "idle_bytes_per_subscriber": 20 * 1024,
        "client_cpu_share": 0.4,
        "discarded": False,
        "lost": 0,
        "duplicates": 0,
    }
    return {**base, **changes}


def test_the_report_counts_only_measured_cells_within_the_latency_goal() -> None:
    storm = {"caught_up": True, "lost": 0, "seconds_until_all_caught_up": 8.0}
    run = {
        "cells": [
            cell(),
            cell(rate=10, app_cpu_ms_per_1000=10.0, discarded=True),  # client-bound: ignored
            cell(subscribers=100, app_cpu_ms_per_1000=20.0, p99_ms=900.0),  # too slow
        ],
        "storms": [storm],
    }

    summary = events_report.summary(run)

    assert summary["subscribers on one process"] == (10_000, True)
    assert summary["deliveries per second per app core"] == (20_000.0, True)  # 1e6 / 50
    assert summary["memory per idle subscriber (KiB)"] == (20.0, True)
    assert summary["reconnect storm caught up (s)"] == (8.0, True)
    assert summary["events lost"] == (0, True)


def test_a_lost_event_or_a_slow_storm_is_a_miss() -> None:
    run = {
        "cells": [cell(lost=1)],
        "storms": [{"caught_up": True, "lost": 0, "seconds_until_all_caught_up": 12.5}],
    }

    summary = events_report.summary(run)

    assert summary["events lost"] == (1, False)
    assert summary["subscribers on one process"] == (0, False)  # the only cell lost one
    assert summary["reconnect storm caught up (s)"] == (12.5, False)
