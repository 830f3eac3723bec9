"""make bench's arithmetic: what it reads from the load generators and the ratios it reports."""

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load(name: str) -> ModuleType:
    # bench/ is a folder of scripts, not a package (and `bench` is also a Django app).
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


driver, report = load("driver"), load("report")

H2LOAD_REPORT = (
    "finished in 6.05s, 873.25 req/s, 329.17KB/s\n"
    "requests: {total} total, {total} started, {total} done, {ok} succeeded, {failed} failed, "
    "0 errored, 0 timeout\n"
)
FIRST = 1_795_734_958_000_000  # µs since the epoch: the first request's start


def h2load_log(rows: list[tuple[float, float]], status: str = "200") -> str:
    """h2load's --log-file: a row per (start s after the first request, latency ms)."""
    return "".join(
        f"{FIRST + int(start * 1e6)}\t{status}\t{int(ms * 1000)}\n" for start, ms in rows
    )


def test_h2load_times_the_requests_started_in_the_window() -> None:
    warm_up = [(0.0, 5000.0), (1.5, 1000.0)]  # the first round, slow, before the window
    window = [(2.0 + i / 100, 1000.0 + i) for i in range(100)]  # 1,000 to 1,099 ms
    after = [(7.0, 9000.0)]
    log = h2load_log(warm_up + window + after)

    figures = driver.parse_h2load(
        H2LOAD_REPORT.format(total=103, ok=103, failed=0), log, 1000, 2, 4
    )

    assert figures["latency_avg_ms"] == pytest.approx(1049.5)
    assert figures["p50_ms"] == pytest.approx(1050)
    assert figures["p99_ms"] == pytest.approx(1099)
    assert figures["errors"] == 0


def test_h2load_rate_counts_the_successes_that_ended_in_the_window() -> None:
    # Ending at 1.9 s (before), 2.5 s and 5.9 s (in), 6.0 s (after a 4 s window from 2 s).
    log = h2load_log([(0.9, 1000.0), (1.5, 1000.0), (4.9, 1000.0), (5.0, 1000.0)])

    figures = driver.parse_h2load(H2LOAD_REPORT.format(total=4, ok=4, failed=0), log, 1000, 2, 4)

    assert figures["rps"] == pytest.approx(2 / 4)


def test_h2load_failures_anywhere_in_the_run_are_errors_and_leave_the_rate() -> None:
    log = h2load_log([(2.0, 1000.0)] * 75) + h2load_log([(0.0, 5.0)] * 25, status="503")

    figures = driver.parse_h2load(
        H2LOAD_REPORT.format(total=100, ok=75, failed=25), log, 1000, 2, 4
    )

    assert figures["errors"] == 25
    assert figures["rps"] == pytest.approx(75 / 4)
    assert figures["latency_avg_ms"] == pytest.approx(1000)  # the failures are not timed


def test_h2load_with_no_answer_at_all_counts_every_connection_as_an_error() -> None:
    figures = driver.parse_h2load(H2LOAD_REPORT.format(total=0, ok=0, failed=0), "", 1000, 2, 4)

    assert figures == {"rps": 0.0, "requests": 0, "errors": 1000}


def test_something_else_than_an_h2load_report_is_refused() -> None:
    with pytest.raises(ValueError, match="not an h2load report"):
        driver.parse_h2load("connection refused", "", 1000, 2, 4)


def record(contender: str, workload: str, rps: float, **figures: Any) -> dict[str, Any]:
    base = {"connections": 64, "latency_avg_ms": 10.0, "p50_ms": 9.0, "p99_ms": 20.0}
    return {"contender": contender, "workload": workload, "rps": rps, "errors": 0} | base | figures


def test_ratios_are_medians_of_the_runs_against_each_other() -> None:
    raw = [record("uvicorn", "json", rps) for rps in (3000, 2000, 2500)]
    raw += [record("gunicorn-sync", "json", rps) for rps in (1000, 900, 1100)]
    raw += [record("uvicorn", "db", 1000), record("uvicorn-nopool", "db", 200)]

    ratios = report.ratios(report.aggregate(raw))

    assert ratios["json_over_gunicorn_sync"] == 2.5
    assert ratios["pool_over_no_pool_db"] == 5.0
    assert ratios["each_over_default"]["gunicorn-sync"] == {"json": 0.4}


def test_the_hello_ratio_is_the_sleep_over_the_mean_latency() -> None:
    raw = [record("uvicorn", "hello", 950, latency_avg_ms=ms) for ms in (1040, 1025, 1100)]
    raw.append(record("gunicorn-sync", "hello", 0.0, latency_avg_ms=None, errors=1000))

    results = report.aggregate(raw)
    ratios = report.ratios(results)

    assert ratios["hello_vs_ideal_uvicorn"] == pytest.approx(1000 / 1040, abs=0.001)
    sync = next(r for r in results if r["contender"] == "gunicorn-sync")
    assert sync["latency_avg_ms"] is None
    assert sync["errors"] == 1000


def test_the_10k_hello_ratio_is_the_10_s_sleep_over_the_mean_latency_with_its_memory() -> None:
    raw = [
        record("daphne", "hello-10k", 990, latency_avg_ms=ms, app_kib_per_waiting_request=kib)
        for ms, kib in ((10_100, 20.0), (10_400, 24.0), (10_200, 22.0))
    ]

    ratios = report.ratios(report.aggregate(raw))

    assert ratios["hello_10k_vs_ideal_daphne"] == pytest.approx(10_000 / 10_200, abs=0.001)
    assert ratios["app_kib_per_waiting_request_daphne"] == 22.0


def test_the_tail_is_judged_by_its_median_and_by_its_worst_run() -> None:
    raw = [record("daphne", "json", 3000, p50_ms=10.0, p99_ms=p99) for p99 in (30.0, 40.0, 90.0)]
    raw += [record("gunicorn-sync", "json", 1000, p99_ms=p99) for p99 in (50.0, 60.0, 55.0)]

    ratios = report.ratios(report.aggregate(raw))

    assert ratios["p99_json_over_gunicorn_sync_daphne"] == pytest.approx(40 / 55, abs=0.001)
    worst = ratios["p99_json_over_gunicorn_sync_worst_run_daphne"]
    assert worst == pytest.approx(90 / 55, abs=0.001)
    assert ratios["p99_over_p50_worst_run_json_daphne"] == 9.0
