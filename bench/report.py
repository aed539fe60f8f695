"""The figures of one `make bench` run: the printed table, the targets, and `bench/results/<timestamp>.json`.

The JSON is what runs are compared by: machine facts, versions, scale and every figure, under fixed keys
(`REQUIRED_KEYS`, checked by the harness's test).
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 2  # 2: the keyless floor and the full load's ratio to it
# The targets of issue 9, at scale 1,000,000; issue 18's against the keyless floor.
MAX_FULL_LOAD_TO_FLOOR = 3.0
MAX_FULL_LOAD_TO_KEYLESS_FLOOR = 3.0
MAX_INCREMENTAL_SECONDS = 3.0
MAX_PEAK_RSS_MB = 1024.0
PACKAGES = ("boto3", "botocore", "moto", "pyarrow", "pg8000", "aws-lambda-powertools", "pydantic", "aws-cdk-lib",
            "pyinstrument")
REQUIRED_KEYS = ("schema_version", "timestamp", "machine", "versions", "scale", "source", "floor", "floor_keyless",
                 "full_load", "incremental", "incremental_cold", "ratio_full_load_to_floor",
                 "ratio_full_load_to_keyless_floor", "targets", "passed")


def machine_facts() -> dict[str, Any]:
    return {"cpu_count": os.cpu_count(), "cpu_model": _cpu_model(), "memory_mb": _memory_mb(),
            "platform": platform.platform(), "machine": platform.machine(), "load_average": load_average()}


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages: other work on the machine skews every figure, so it is recorded."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_mb() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def versions(postgres: str | None) -> dict[str, Any]:
    packages: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {"python": platform.python_version(), "postgres": postgres, "packages": packages}


def targets(floor_seconds: float, full_load: dict[str, Any], incremental: dict[str, Any],
            *other_runs: dict[str, Any], keyless_floor_seconds: float | None = None) -> dict[str, Any]:
    """Each target of the issue: its limit, the measured value, and whether it holds. The incremental
    target is held by the run with warm Lambdas; the peak RSS one by every run."""
    ratio = full_load["seconds"] / floor_seconds if floor_seconds else None
    keyless = full_load["seconds"] / keyless_floor_seconds if keyless_floor_seconds else None
    peaks = [i["peak_rss_mb"] for run in (full_load, incremental, *other_runs) for i in run["invocations"]]
    peak = max(peaks, default=0.0)
    return {
        "full_load_to_floor": {"limit": MAX_FULL_LOAD_TO_FLOOR, "value": _round(ratio, 2),
                               "pass": ratio is not None and ratio <= MAX_FULL_LOAD_TO_FLOOR},
        "full_load_to_keyless_floor": {"limit": MAX_FULL_LOAD_TO_KEYLESS_FLOOR, "value": _round(keyless, 2),
                                       "pass": keyless is not None and keyless <= MAX_FULL_LOAD_TO_KEYLESS_FLOOR},
        "incremental_seconds": {"limit": MAX_INCREMENTAL_SECONDS, "value": incremental["seconds"],
                                "pass": incremental["succeeded"] and incremental["seconds"] <= MAX_INCREMENTAL_SECONDS},
        "peak_rss_mb": {"limit": MAX_PEAK_RSS_MB, "value": peak, "pass": bool(peaks) and peak <= MAX_PEAK_RSS_MB},
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def write_json(result: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromisoformat(result["timestamp"]).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{stamp}-scale{result['scale']}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return path


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _verdict(target: dict[str, Any]) -> str:
    return "PASS" if target["pass"] else "FAIL"


def render(result: dict[str, Any]) -> str:
    """The table `make bench` prints."""
    machine, floor, full, inc = result["machine"], result["floor"], result["full_load"], result["incremental"]
    source, goals = result["source"], result["targets"]
    rows = source["total_rows"]
    width = 44 + 10 + 12 + 12 + 11 + 9 + 8
    lines = [
        f"Onyx bench  scale {result['scale']:,}  ({rows:,} source rows)  {result['timestamp']}",
        f"machine     {machine['cpu_count']} CPU ({machine['cpu_model']}), {machine['memory_mb']:,} MB RAM; "
        f"Python {result['versions']['python']}, PostgreSQL {result['versions']['postgres']}",
        f"load avg    at start {_loads(machine.get('load_average'))}, "
        f"at end {_loads(machine.get('load_average_at_end'))} (other work on the machine skews the figures)",
        "",
        f"{'step':<44}{'seconds':>10}{'rows':>12}{'rows/s':>12}{'process s':>11}{'RSS MB':>9}{'init s':>8}",
        "-" * width,
    ]

    def line(label: str, seconds: float | None, count: int | None = None, *, process: float | None = None,
             rss: float | None = None, init: float | None = None) -> None:
        rate = f"{count / seconds:>12,.0f}" if count and seconds else f"{'':>12}"
        lines.append(f"{label:<44}{_num(seconds, '.2f'):>10}{_num(count, ','):>12}{rate}"
                     f"{_num(process, '.2f'):>11}{_num(rss, ',.0f'):>9}{_num(init or None, '.2f'):>8}")

    if source["seeded"]:
        line("seed generated source", source["seed_seconds"], rows)
    else:
        line("source reused (not seeded)", None, rows)
    floors = [("floor: COPY TO | COPY FROM", floor)]
    if result.get("floor_keyless"):  # runs recorded before schema version 2 measured the keyed floor only
        floors.append(("floor, no keys", result["floor_keyless"]))
    for name, measured in floors:
        samples = measured.get("samples", [measured["seconds"]])
        mean = f", mean of {len(samples)}" if len(samples) > 1 else ""
        line(f"{name} ({measured['method']}{mean})", measured["seconds"], measured["rows"])
        if len(samples) > 1:
            lines.append(f"  (before / after the full load: {' / '.join(f'{s:.2f}' for s in samples)} s)")
        for other in measured.get("others", []):
            line(f"  (same, through {other['method']})", other["seconds"], other["rows"])
    # Runs recorded before the local cloud kept Lambdas warm carry no cold-start figures: no "warm" label.
    runs = [("full load", full), ("incremental, warm" if "cold_starts" in inc["states"][0] else "incremental", inc)]
    if result.get("incremental_cold"):
        runs.append(("incremental, every Lambda cold", result["incremental_cold"]))
    for label, run in runs:
        status = "" if run["succeeded"] else f" [{run['status']}]"
        line(f"{label}: end to end{status}", run["seconds"], run["rows"])
        for state in run["states"]:
            cold = " (cold start)" if state.get("cold_starts") else ""
            line(f"  {state['state']}{cold}", state["seconds"], state["rows"], process=state["process_seconds"],
                 rss=state["peak_rss_mb"], init=state.get("init_seconds"))
    lines.append("-" * width)
    ratios = (("floor", "ratio_full_load_to_floor"), ("floor without keys", "ratio_full_load_to_keyless_floor"))
    for label, key in ratios:
        if key in result:
            ratio = result[key]
            lines.append(f"full load / {label} = {ratio:.2f}x" if ratio is not None else f"full load / {label} = n/a")
    checks = (
        (f"full load <= {goals['full_load_to_floor']['limit']:.0f}x floor", goals["full_load_to_floor"], "x"),
        *(((f"full load <= {goals['full_load_to_keyless_floor']['limit']:.0f}x floor w/o keys",
            goals["full_load_to_keyless_floor"], "x"),) if "full_load_to_keyless_floor" in goals else ()),
        (f"incremental <= {goals['incremental_seconds']['limit']:.0f} s", goals["incremental_seconds"], " s"),
        (f"every Lambda peak RSS <= {goals['peak_rss_mb']['limit']:.0f} MB", goals["peak_rss_mb"], " MB"),
    )
    for label, target, unit in checks:
        lines.append(f"  target {label:<34}{_num(target['value'], ',.2f')}{unit:<4}{_verdict(target)}")
    lines.append(f"overall: {'PASS' if result['passed'] else 'FAIL'}"
                 + (f"   (figures: {result['json_path']})" if result.get("json_path") else ""))
    return "\n".join(lines)


def _loads(values: list[float] | None) -> str:
    return "/".join(f"{v:.2f}" for v in values) if values else "n/a"


def _num(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)
