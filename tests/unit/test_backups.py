"""The checks of the backup tests (tests/faults/backups.py): what counts as a consistent restore."""

import pytest

from tests.faults.backups import Write, check_rpo, check_within, parse, stored_prefix

ACKED = [Write(f"w-{i}", sent=10.0 + i, acked=10.5 + i) for i in range(5)]


def test_parse_reads_the_writers_lines() -> None:
    lines = [
        '{"name": "w-0", "sent": 1.0, "acked": 1.5}',
        "",
        '{"name": "w-1", "sent": 2, "acked": 3}',
    ]
    assert parse(lines) == [Write("w-0", 1.0, 1.5), Write("w-1", 2, 3)]


def test_a_prefix_of_the_writes_counts() -> None:
    assert stored_prefix(ACKED, {"w-0", "w-1"}) == 2
    assert stored_prefix(ACKED, set()) == 0


def test_a_hole_fails() -> None:
    with pytest.raises(AssertionError, match="hole"):
        stored_prefix(ACKED, {"w-0", "w-2"})


def test_a_row_never_acknowledged_fails() -> None:
    with pytest.raises(AssertionError, match="never acknowledged"):
        stored_prefix(ACKED, {"w-0", "other"})


def test_within_needs_every_write_acknowledged_before_the_start() -> None:
    assert check_within(ACKED, {"w-0", "w-1", "w-2"}, kept_by=12.5, sent_by=12.0) == 3
    with pytest.raises(AssertionError, match="not restored"):
        check_within(ACKED, {"w-0"}, kept_by=12.5, sent_by=14.0)


def test_within_refuses_a_write_sent_after_the_end() -> None:
    with pytest.raises(AssertionError, match="sent after"):
        check_within(ACKED, {"w-0", "w-1", "w-2", "w-3"}, kept_by=10.5, sent_by=12.0)


def test_rpo_is_the_age_of_the_first_lost_write() -> None:
    assert check_rpo(ACKED, {w.name for w in ACKED}, fault=20.0, max_seconds=1) == 0.0
    assert check_rpo(ACKED, {"w-0", "w-1", "w-2"}, fault=20.0, max_seconds=10) == pytest.approx(6.5)
    with pytest.raises(AssertionError, match="lost over"):
        check_rpo(ACKED, {"w-0"}, fault=20.0, max_seconds=5)
