"""The report of a `make bench-events` run: a Markdown table against the goals, and a chart.

    python bench/events_report.py RAW_JSON OUT_DIR

Writes OUT_DIR/events-<stamp>.json (the run as recorded), events-latest.json, events-latest.md
and events-latest.png.
"""

import json
import shutil
import sys
from pathlib import Path
from typing import Any

GOALS = {
    "subscribers on one process": 10_000,
    "deliveries per second per app core": 10_000,
    "p99 latency (ms)": 200,
    "memory per idle subscriber (KiB)": 30,
    "reconnect storm caught up (s)": 10,
}


def figure(value: float | None, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{unit}"


def per_core(cell: dict[str, Any]) -> float | None:
    """Deliveries per second per app core: what one core, fully busy, would carry at this cost."""
    cost = cell.get("app_cpu_ms_per_1000")
    return 1e6 / cost if cost else None


def meets(cell: dict[str, Any]) -> bool:
    """A measured cell within the latency goal, nothing lost, nothing duplicated."""
    return (
        not cell["discarded"]
        and cell["lost"] == 0
        and cell["duplicates"] == 0
        and cell["p99_ms"] is not None
        and cell["p99_ms"] <= GOALS["p99 latency (ms)"]
    )


def summary(run: dict[str, Any]) -> dict[str, Any]:
    """The goals, each with what the run measured."""
    cells = [c for c in run["cells"] if not c["discarded"]]
    good = [c for c in cells if meets(c)]
    best = max((per_core(c) or 0 for c in good), default=0)
    most = max((c["subscribers"] for c in good), default=0)
    # At the most subscribers each transport reached: with 100, a few MB of noise in the
    # process's memory is 30 KiB a subscriber.
    largest = {c["transport"]: c for c in sorted(run["cells"], key=lambda c: c["subscribers"])}
    idle = max((c["idle_bytes_per_subscriber"] for c in largest.values()), default=0) / 1024
    storm = max((s["seconds_until_all_caught_up"] for s in run["storms"]), default=None)
    storms_ok = bool(run["storms"]) and all(
        s["caught_up"] and s["lost"] == 0 for s in run["storms"]
    )
    storms_ok = storms_ok and not any("storm" in f for f in run.get("failures", []))
    return {
        "subscribers on one process": (most, most >= GOALS["subscribers on one process"]),
        "deliveries per second per app core": (
            best,
            best >= GOALS["deliveries per second per app core"],
        ),
        "memory per idle subscriber (KiB)": (
            idle,
            0 < idle <= GOALS["memory per idle subscriber (KiB)"],
        ),
        "reconnect storm caught up (s)": (
            storm,
            storms_ok and storm is not None and storm <= GOALS["reconnect storm caught up (s)"],
        ),
        "events lost": (
            sum(c["lost"] for c in run["cells"]) + sum(s["lost"] for s in run["storms"]),
            all(c["lost"] == 0 for c in run["cells"])
            and all(s["lost"] == 0 for s in run["storms"]),
        ),
    }


def markdown(run: dict[str, Any]) -> str:
    lines = [
        f"# make bench-events, {run['started']}"
        f" ({run['seconds'] // 60} min {run['seconds'] % 60} s)",
        "",
        f"Commit {run['commit'] or 'unknown'}"
        f"{' (quick: small cells only)' if run['quick'] else ''}.",
        "",
        "| transport | subscribers | events/s | deliveries/s | p50 ms | p99 ms | max ms |"
        " app CPU | app CPU ms / 1,000 | per app core | idle KiB each | client CPU | lost |"
        " duplicates |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in run["cells"]:
        flag = " (discarded: client CPU-bound)" if c["discarded"] else ""
        lines.append(
            f"| {c['transport']}{flag} | {c['subscribers']:,} | {c['rate']} |"
            f" {figure(c['deliveries_per_s'])} | {figure(c['p50_ms'], digits=1)} |"
            f" {figure(c['p99_ms'], digits=1)} | {figure(c['max_ms'])} |"
            f" {c['app_cpu_share']:.0%} | {figure(c['app_cpu_ms_per_1000'], digits=1)} |"
            f" {figure(per_core(c))} | {c['idle_bytes_per_subscriber'] / 1024:.1f} |"
            f" {c['client_cpu_share']:.0%} | {c['lost']} | {c['duplicates']} |"
        )
    for f in run.get("failures", []):
        what = f"storm, {f['storm']}" if "storm" in f else f["transport"]
        lines.append(f"| {what} | {f['subscribers']:,} | **failed**: {f['failed']} |")
    lines += [
        "",
        "Reconnect storms (every stream dropped at once by an nginx reload; each subscriber"
        " reconnects with its last id after its `retry`):",
        "",
        "| transport | subscribers | events/s | all caught up | seconds | app queries/s"
        " during (before) | lost | duplicates | resets |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for s in run["storms"]:
        lines.append(
            f"| {s['transport']} | {s['subscribers']:,} | {s['event_rate']} |"
            f" {'yes' if s['caught_up'] else '**no**'} | {s['seconds_until_all_caught_up']:.1f} |"
            f" {s['db_queries_per_s']:.1f} ({s['db_queries_per_s_before']:.1f}) | {s['lost']} |"
            f" {s['duplicates']} | {s['resets']} |"
        )
    lines += [
        "",
        "Writes per second, recording on and off (two runs each, alternating):",
        "",
        "| writers | recording | POST /api/items (wrk, through nginx) | INSERT (straight to"
        " PostgreSQL) |",
        "|---:|---|---:|---:|",
    ]
    for w in run["writes"]:
        lines.append(
            f"| {w['writers']} | {w['recording']} | {w['api_per_s']:,.0f} | {w['sql_per_s']:,.0f} |"
        )
    lines += ["", "Goals:", "", "| goal | target | measured | met |", "|---|---:|---:|---|"]
    targets = {**GOALS, "events lost": 0}
    for name, (value, met) in summary(run).items():
        shown = figure(value, digits=1 if isinstance(value, float) and value < 100 else 0)
        lines.append(f"| {name} | {targets[name]:,} | {shown} | {'yes' if met else '**missed**'} |")
    return "\n".join(lines) + "\n"


def chart(run: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure_, (latency, memory) = plt.subplots(1, 2, figsize=(11, 4.2))
    for transport, marker in (("sse", "o"), ("ws", "s")):
        cells = [c for c in run["cells"] if c["transport"] == transport and not c["discarded"]]
        latency.scatter(
            [c["deliveries_per_s"] for c in cells],
            [c["p99_ms"] for c in cells],
            marker=marker,
            label=transport.upper(),
        )
        for c in cells:
            latency.annotate(
                f"{c['subscribers']:,} x {c['rate']}/s",
                (c["deliveries_per_s"], c["p99_ms"]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
        sizes = sorted({c["subscribers"] for c in run["cells"] if c["transport"] == transport})
        per = [
            next(c for c in run["cells"] if c["transport"] == transport and c["subscribers"] == n)
            for n in sizes
        ]
        memory.plot(
            sizes,
            [c["idle_bytes_per_subscriber"] / 1024 for c in per],
            marker=marker,
            label=transport.upper(),
        )
    latency.axhline(GOALS["p99 latency (ms)"], color="grey", linestyle="--", linewidth=0.8)
    latency.set(
        xscale="log",
        yscale="log",
        xlabel="deliveries per second",
        ylabel="p99 latency from commit (ms)",
        title="Delivery latency (one app core)",
    )
    memory.axhline(
        GOALS["memory per idle subscriber (KiB)"], color="grey", linestyle="--", linewidth=0.8
    )
    memory.set(
        xscale="log",
        xlabel="subscribers",
        ylabel="KiB per idle subscriber",
        title="App memory per idle subscriber",
        ylim=(0, None),
    )
    for axes in (latency, memory):
        axes.legend()
        axes.grid(alpha=0.3)
    figure_.tight_layout()
    figure_.savefig(path, dpi=110)


def main() -> int:
    raw, out = Path(sys.argv[1]), Path(sys.argv[2])
    run = json.loads(raw.read_text())
    stamp = run["started"][:19].replace("-", "").replace(":", "").replace("T", "-")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(raw, out / f"events-{stamp}.json")
    shutil.copyfile(raw, out / "events-latest.json")
    (out / "events-latest.md").write_text(markdown(run))
    chart(run, out / "events-latest.png")
    print(markdown(run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
