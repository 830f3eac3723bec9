"""The soak's pass/fail rules and its report, apart from the I/O so that they can be tested.

A run passes when every request and SSE session went as expected, the app's memory stayed flat
after warm-up, and PostgreSQL never saw more connections from the app than its pools allow.
"""

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

MB = 1024 * 1024
FLAT_WITHIN = 0.10  # the memory criterion: rolling medians within ±10% of the baseline
WINDOW_SECONDS = 60.0  # the rolling median's span, at most a quarter of the judged span
MIN_WINDOW_SAMPLES = 3


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (0 < q <= 100); 0.0 for no values."""
    if not values:
        return 0.0
    ranked = sorted(values)
    rank = max(1, -(-len(ranked) * q // 100))  # ceil without floats' rounding surprises
    return ranked[int(rank) - 1]


def warmup_seconds(duration: float) -> float:
    """The first fifth of the run (60 s of the default 300 s): pools fill, caches warm."""
    return duration / 5


@dataclass(frozen=True)
class MemoryVerdict:
    flat: bool
    reason: str
    judged_samples: int
    window_samples: int
    baseline_mb: float  # median of the first window after warm-up
    rolling_min_mb: float
    rolling_max_mb: float
    drift_pct: float  # last window's median against the baseline


def memory_flat(samples: Sequence[tuple[float, int]], *, warmup: float) -> MemoryVerdict:
    """Judge (seconds since start, bytes) samples taken at a steady interval.

    A single sample jumps with the garbage collector and allocator, so the rule looks at
    medians: the baseline is the median of the first window after warm-up, and the median of
    every later window of the same length (sliding by one sample) must stay within ±10% of it.
    A leak shows as rolling medians that keep rising; a one-off spike does not move a median.
    """
    judged = [used for at, used in samples if at >= warmup]
    if len(samples) >= 2:
        interval = (samples[-1][0] - samples[0][0]) / (len(samples) - 1)
    else:
        interval = WINDOW_SECONDS
    by_span = int(WINDOW_SECONDS / interval) if interval > 0 else MIN_WINDOW_SAMPLES
    window = max(MIN_WINDOW_SAMPLES, min(by_span, len(judged) // 4))
    if len(judged) < window:
        reason = f"{len(judged)} samples after warm-up: too few to judge"
        return MemoryVerdict(False, reason, len(judged), window, 0.0, 0.0, 0.0, 0.0)
    medians = [statistics.median(judged[i : i + window]) for i in range(len(judged) - window + 1)]
    baseline = medians[0]
    low, high = min(medians), max(medians)
    drift = (medians[-1] / baseline - 1) * 100
    flat = low >= baseline * (1 - FLAT_WITHIN) and high <= baseline * (1 + FLAT_WITHIN)
    reason = (
        f"rolling {window}-sample medians {low / MB:.1f}..{high / MB:.1f} MB, "
        f"baseline {baseline / MB:.1f} MB (±{FLAT_WITHIN:.0%} allowed)"
    )
    return MemoryVerdict(
        flat, reason, len(judged), window, baseline / MB, low / MB, high / MB, drift
    )


def connection_limit(*, pool_max_size: int, processes: int) -> int:
    """The most connections the app may hold: each process's pool plus the event log's two
    (LISTEN and reads, kept outside the pool)."""
    return processes * (pool_max_size + 2)


def criteria(figures: Mapping[str, Any]) -> dict[str, bool]:
    """The named pass/fail criteria of a run's figures (see soak.py for their shape)."""
    pg = figures["pg_connections"]
    return {
        "zero errors": figures["errors_total"] == 0,
        "memory flat": figures["memory"]["flat"],
        "pg connections within pool limits": bool(pg["samples"]) and pg["max"] <= pg["limit"],
    }


def memory_figures(samples: Sequence[tuple[float, int]], *, duration: float) -> dict[str, Any]:
    warmup = warmup_seconds(duration)
    verdict = memory_flat(samples, warmup=warmup)
    used = [value / MB for _, value in samples]
    return {
        "warmup_s": warmup,
        **asdict(verdict),
        "samples": len(used),
        "first_mb": used[0] if used else 0.0,
        "last_mb": used[-1] if used else 0.0,
        "min_mb": min(used, default=0.0),
        "max_mb": max(used, default=0.0),
    }


def markdown(runs: Mapping[str, Mapping[str, Any]]) -> str:
    """One column per ASGI server of the latest soak runs."""
    servers = list(runs)
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, cell: Callable[[Mapping[str, Any]], str]) -> None:
        rows.append((label, [cell(runs[s]) for s in servers]))

    row("result", lambda r: "**pass**" if r["passed"] else "**FAIL**: " + ", ".join(r["failed"]))
    row("finished (revision)", lambda r: f"{r['finished_at']} ({r['revision']})")
    row("duration, target rate", lambda r: f"{r['duration_s']:.0f} s, {r['rate']:g} req/s")
    row(
        "requests (achieved rate)",
        lambda r: f"{r['requests_total']:,} ({r['requests_total'] / r['duration_s']:.1f}/s)",
    )
    row("by kind", lambda r: ", ".join(f"{k} {v:,}" for k, v in sorted(r["requests"].items())))
    row("errors", lambda r: str(r["errors_total"]) + _error_kinds(r["errors"]))
    row(
        "latency p50 / p99",
        lambda r: f"{r['latency_ms']['p50']:.1f} / {r['latency_ms']['p99']:.1f} ms",
    )
    row(
        "SSE sessions, events read",
        lambda r: (
            f"{r['sse']['sessions']:,}, {r['sse']['events']:,}"
            f" ({r['sse']['checked_writes']:,} own writes checked)"
        ),
    )
    row(
        "app memory first / last / min / max",
        lambda r: "{first_mb:.1f} / {last_mb:.1f} / {min_mb:.1f} / {max_mb:.1f} MB".format(
            **r["memory"]
        ),
    )
    row(
        "memory after warm-up",
        lambda r: (
            "rolling medians {rolling_min_mb:.1f}..{rolling_max_mb:.1f} MB,"
            " baseline {baseline_mb:.1f} MB, drift {drift_pct:+.1f}%".format(**r["memory"])
        ),
    )
    row(
        "PostgreSQL connections max (limit)",
        lambda r: "{max} ({limit} = {processes} x ({pool_max_size} pool + 2 events))".format(
            **r["pg_connections"]
        ),
    )
    lines = [
        "| | " + " | ".join(servers) + " |",
        "|---|" + "---|" * len(servers),
        *(f"| {label} | " + " | ".join(cells) + " |" for label, cells in rows),
    ]
    return "\n".join(lines) + "\n"


def _error_kinds(errors: Mapping[str, int]) -> str:
    if not errors:
        return ""
    return " (" + ", ".join(f"{kind}: {count}" for kind, count in sorted(errors.items())) + ")"
