"""Aggregates a `make bench` run: medians over the runs, the ratios, a Markdown table, a chart.

    python bench/report.py RAW_DIR OUT_DIR

Reads RAW_DIR/*.jsonl (driver.py's records), writes OUT_DIR/<stamp>.json, OUT_DIR/latest.json,
OUT_DIR/latest.md and OUT_DIR/latest.png.
"""

import json
import os
import shutil
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

DEFAULT = "uvicorn"
SLEEP_MS = {"hello": 1000.0, "hello-10k": 10_000.0}
ORDER = [
    "uvicorn",
    "daphne",
    "uvicorn-stock",
    "uvicorn-nopool",
    "gunicorn-uvicorn",
    "gunicorn-sync",
]
CHART_WORKLOADS = ["json", "plaintext", "db", "queries", "fortunes", "updates", "hello"]


def aggregate(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cells: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in raw:
        cells[record["contender"], record["workload"]].append(record)
    results = []
    for (contender, workload), runs in cells.items():
        rps = [run["rps"] for run in runs]
        record = {
            "contender": contender,
            "workload": workload,
            "connections": runs[0]["connections"],
            "runs": len(runs),
            "rps_median": statistics.median(rps),
            "rps_min": min(rps),
            "rps_max": max(rps),
            "latency_avg_ms": median_of(runs, "latency_avg_ms"),
            "p50_ms": median_of(runs, "p50_ms"),
            "p99_ms": median_of(runs, "p99_ms"),
            # The tail's spread over the runs, and its worst shape in any one run.
            "p99_ms_min": min_of(runs, "p99_ms"),
            "p99_ms_max": max_of(runs, "p99_ms"),
            "p99_over_p50_max": max(
                (run["p99_ms"] / run["p50_ms"] for run in runs if run.get("p50_ms")),
                default=None,
            ),
            "errors": sum(run["errors"] for run in runs),
        }
        if "app_kib_per_waiting_request" in runs[0]:
            record["app_kib_per_waiting_request"] = median_of(runs, "app_kib_per_waiting_request")
            record["app_memory_idle_mib"] = median_of(runs, "app_memory_idle_mib")
            record["app_memory_loaded_mib"] = median_of(runs, "app_memory_loaded_mib")
        results.append(record)
    return sorted(results, key=lambda r: (rank(r["contender"]), r["workload"]))


def median_of(runs: list[dict[str, Any]], key: str) -> float | None:
    """The median of a latency over the runs that timed one (none: no request succeeded)."""
    values = [run[key] for run in runs if run.get(key) is not None]
    return statistics.median(values) if values else None


def min_of(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    return min(values) if values else None


def max_of(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    return max(values) if values else None


def rank(contender: str) -> int:
    return ORDER.index(contender) if contender in ORDER else len(ORDER)


def ratios(results: list[dict[str, Any]]) -> dict[str, Any]:
    cell = {(r["contender"], r["workload"]): r for r in results}

    def rps(contender: str, workload: str) -> float | None:
        found = cell.get((contender, workload))
        return found["rps_median"] if found else None

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a is not None and b else None

    out: dict[str, Any] = {}
    for server in ("uvicorn", "daphne"):
        out[f"django_over_bare_{server}"] = ratio(
            rps(server, "json-direct"), rps(server, "raw-direct")
        )
        out[f"nginx_over_direct_{server}"] = ratio(rps(server, "json"), rps(server, "json-direct"))
        # Every connection waiting on a sleep: the ideal rate is connections / sleep, reached
        # when each request takes exactly its sleep; queueing shows as extra latency.
        for workload, sleep_ms in SLEEP_MS.items():
            hello = cell.get((server, workload))
            key = workload.replace("-", "_")
            out[f"{key}_vs_ideal_{server}"] = (
                round(sleep_ms / hello["latency_avg_ms"], 3)
                if hello and hello["latency_avg_ms"]
                else None
            )
        if many := cell.get((server, "hello-10k")):
            out[f"app_kib_per_waiting_request_{server}"] = many.get("app_kib_per_waiting_request")
        # The tail against what most Django sites run: medians, and the worst run's p99 against
        # the sync worker's median; the worst p99/p50 of any run.
        sync_cells = {w: cell.get(("gunicorn-sync", w)) for w in ("json", "db")}
        for workload in ("json", "db"):
            ours = cell.get((server, workload))
            theirs = sync_cells[workload]
            if ours and theirs:
                out[f"p99_{workload}_over_gunicorn_sync_{server}"] = ratio(
                    ours["p99_ms"], theirs["p99_ms"]
                )
                out[f"p99_{workload}_over_gunicorn_sync_worst_run_{server}"] = ratio(
                    ours["p99_ms_max"], theirs["p99_ms"]
                )
            if ours and ours["p99_over_p50_max"] is not None:
                out[f"p99_over_p50_worst_run_{workload}_{server}"] = round(
                    ours["p99_over_p50_max"], 2
                )
    out["pool_over_no_pool_db"] = ratio(rps(DEFAULT, "db"), rps("uvicorn-nopool", "db"))
    out["lean_over_stock_handler"] = {
        w: ratio(rps(DEFAULT, w), rps("uvicorn-stock", w))
        for w in CHART_WORKLOADS
        if ("uvicorn-stock", w) in cell
    }
    out["json_over_gunicorn_sync"] = ratio(rps(DEFAULT, "json"), rps("gunicorn-sync", "json"))
    out["db_over_gunicorn_sync"] = ratio(rps(DEFAULT, "db"), rps("gunicorn-sync", "db"))
    ours, sync = cell.get((DEFAULT, "json")), cell.get(("gunicorn-sync", "json"))
    out["p99_json_over_gunicorn_sync"] = (
        ratio(ours["p99_ms"], sync["p99_ms"]) if ours and sync else None
    )
    # null where the other side served no successful request (its errors are in the table).
    out["default_over_cookiecutter"] = {
        w: ratio(rps(DEFAULT, w), rps("gunicorn-uvicorn", w))
        for w in CHART_WORKLOADS
        if ("gunicorn-uvicorn", w) in cell
    }
    out["each_over_default"] = {
        c: {w: ratio(rps(c, w), rps(DEFAULT, w)) for w in CHART_WORKLOADS if (c, w) in cell}
        for c in sorted({r["contender"] for r in results}, key=rank)
        if c != DEFAULT
    }
    return out


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), "?")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    memory_kb = int(next(line.split()[1] for line in meminfo if line.startswith("MemTotal")))
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 2**20, 1),
        "layout": "app on core 0 (1 worker); nginx and wrk on core 1",
        "app_limits": "cpuset 0, 1 GiB",
        "nginx_limits": "cpuset 1, 256 MiB",
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# make bench, {report['date']}",
        "",
        f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores, "
        f"{report['machine']['memory_gib']} GiB; {report['machine']['layout']}. "
        f"{report['settings']['runs']} runs of {report['settings']['duration_s']:g} s per cell "
        "after a warm-up, wrk; hello: h2load, each run "
        f"{report['settings']['hello_warm_up_s']} s of warm-up on its 1,000 connections, then "
        f"{report['settings']['hello_s']} s measured; hello-10k: "
        f"{report['settings']['hello_10k_warm_up_s']} s of warm-up on its 10,000 connections, "
        f"then {report['settings']['hello_10k_s']} s measured. Medians. A hello ratio to the "
        "ideal is the sleep / mean latency (Little's law: with every connection busy, the rate "
        "a server sustains); h2load opens the connections over one sleep, so that their requests "
        "are spread over it, and times the requests started in the window.",
        "",
        "| contender | workload | conns | req/s (median) | min-max | p50 ms | p99 ms "
        "| p99 min-max | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        lines.append(
            f"| {r['contender']} | {r['workload']} | {r['connections']} | "
            f"{r['rps_median']:,.0f} | {r['rps_min']:,.0f} to {r['rps_max']:,.0f} | "
            f"{milliseconds(r['p50_ms'])} | {milliseconds(r['p99_ms'])} | "
            f"{milliseconds(r['p99_ms_min'])} to {milliseconds(r['p99_ms_max'])} | {r['errors']} |"
        )
    lines += ["", "## Ratios", "", "```json", json.dumps(report["ratios"], indent=2), "```", ""]
    return "\n".join(lines)


def milliseconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def chart(results: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    contenders = sorted({r["contender"] for r in results}, key=rank)
    cell = {(r["contender"], r["workload"]): r["rps_median"] for r in results}
    figure, axes = plt.subplots(figsize=(12, 5.5), dpi=110)
    width = 0.8 / len(contenders)
    for i, contender in enumerate(contenders):
        xs = [n + (i - (len(contenders) - 1) / 2) * width for n in range(len(CHART_WORKLOADS))]
        ys = [cell.get((contender, w), 0) for w in CHART_WORKLOADS]
        bars = axes.bar(xs, ys, width, label=contender)
        axes.bar_label(bars, labels=[f"{y:,.0f}" if y else "" for y in ys], fontsize=6, rotation=90)
    axes.set_xticks(range(len(CHART_WORKLOADS)), CHART_WORKLOADS)
    axes.set_yscale("log")
    axes.set_ylabel("requests per second (median, log scale)")
    axes.set_title(title)
    axes.legend(fontsize=8, ncols=len(contenders))
    figure.tight_layout()
    figure.savefig(path)


def main(raw_dir: Path, out_dir: Path) -> None:
    raw = [json.loads(line) for f in sorted(raw_dir.glob("*.jsonl")) for line in f.open() if line]
    results = aggregate(raw)
    hello: dict[str, Any] = next((r for r in raw if r["workload"] == "hello"), {})
    many: dict[str, Any] = next((r for r in raw if r["workload"] == "hello-10k"), {})
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "settings": {
            "duration_s": float(os.environ.get("BENCH_DURATION", "2")),
            "runs": int(os.environ.get("BENCH_RUNS", "5")),
            # As driver.py ran them (every hello record says the same).
            "hello_s": hello.get("duration_s"),
            "hello_warm_up_s": hello.get("warm_up_s"),
            "hello_10k_s": many.get("duration_s"),
            "hello_10k_warm_up_s": many.get("warm_up_s"),
        },
        "results": results,
        "ratios": ratios(results),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    shutil.copyfile(out_dir / f"{stamp}.json", out_dir / "latest.json")
    (out_dir / "latest.md").write_text(markdown(report))
    chart(results, out_dir / "latest.png", f"make bench, {report['date']}: 2 cores, 1 app worker")
    print(markdown(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
