"""The soak's pass/fail rules: a leak fails, garbage-collector jitter does not."""

from collections.abc import Sequence
from typing import Any

import pytest

from tests.soak import verdict
from tests.soak.verdict import MB


def every_5s(values_mb: Sequence[float]) -> list[tuple[float, int]]:
    return [(5.0 * i, int(mb * MB)) for i, mb in enumerate(values_mb)]


def test_memory_flat_with_jitter_and_one_spike_passes() -> None:
    # 5 minutes, warm-up growth in the first minute, then ±4% jitter and a single 40% spike.
    values = [60 + i for i in range(12)] + [100 + (4 if i % 2 else -4) for i in range(49)]
    values[40] = 140

    judged = verdict.memory_flat(every_5s(values), warmup=60)

    assert judged.flat, judged.reason
    assert judged.window_samples == 12
    assert judged.baseline_mb == pytest.approx(100, abs=4)


def test_memory_rising_steadily_after_warmup_fails() -> None:
    # 20% growth over the four judged minutes: a leak, though each step is small.
    values = [100.0] * 12 + [100 + 20 * i / 48 for i in range(49)]

    judged = verdict.memory_flat(every_5s(values), warmup=60)

    assert not judged.flat
    assert judged.drift_pct > 10


def test_memory_growth_during_warmup_only_passes() -> None:
    values = [20 + 7 * i for i in range(12)] + [100.0] * 49

    assert verdict.memory_flat(every_5s(values), warmup=60).flat


def test_memory_with_too_few_samples_after_warmup_fails() -> None:
    judged = verdict.memory_flat(every_5s([100, 100, 100, 100]), warmup=15)

    assert not judged.flat
    assert "too few" in judged.reason


def test_connection_limit_is_each_process_pool_and_its_event_log_connections() -> None:
    assert verdict.connection_limit(pool_max_size=10, processes=1) == 12
    assert verdict.connection_limit(pool_max_size=10, processes=4) == 48


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]

    assert verdict.percentile(values, 50) == 50
    assert verdict.percentile(values, 99) == 99
    assert verdict.percentile([7.0], 99) == 7
    assert verdict.percentile([], 50) == 0


def figures(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "errors_total": 0,
        "memory": {"flat": True},
        "pg_connections": {"samples": 60, "max": 11, "limit": 11},
    }
    return base | changes


def test_criteria_pass_at_the_limits() -> None:
    assert all(verdict.criteria(figures()).values())


@pytest.mark.parametrize(
    ("changes", "failed"),
    [
        ({"errors_total": 1}, "zero errors"),
        ({"memory": {"flat": False}}, "memory flat"),
        ({"pg_connections": {"samples": 60, "max": 12, "limit": 11}}, "pg connections"),
        ({"pg_connections": {"samples": 0, "max": 0, "limit": 11}}, "pg connections"),
    ],
)
def test_criteria_fail_on_errors_growth_or_too_many_connections(
    changes: dict[str, Any], failed: str
) -> None:
    judged = verdict.criteria(figures(**changes))

    assert [name for name, ok in judged.items() if not ok] == [
        name for name in judged if name.startswith(failed)
    ]
