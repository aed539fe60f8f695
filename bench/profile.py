"""Where a Lambda's time goes: a full load through the local cloud with every Lambda process under pyinstrument.

Nothing in lambdas/ or local/ changes: the invoker's per-invocation environment hook puts a directory holding
a `sitecustomize.py` first on the child's PYTHONPATH; Python imports it at start-up, it starts pyinstrument
(1 ms sampling) and, at exit, saves the session (`.pyisession`, open with `pyinstrument --load`) and a text tree.
The profile includes the process's imports, as a cold Lambda pays them.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.run import state_of_handler
from lambdas.shared.database import DatabaseCredentials
from local.cloud import LocalCloud, UpOptions
from local.lambda_invoker import FunctionSpec

REPO = Path(__file__).resolve().parent.parent
TOP = 15

_SITECUSTOMIZE = '''
import atexit
import os

_directory = os.environ.get("ONYX_BENCH_PROFILE_DIR")
if _directory:
    from pyinstrument import Profiler

    _profiler = Profiler(interval=0.001, async_mode="disabled")
    _profiler.start()

    def _save():
        session = _profiler.stop()
        name = os.path.join(_directory, os.environ.get("ONYX_BENCH_PROFILE_NAME", str(os.getpid())))
        session.save(name + ".pyisession")
        with open(name + ".txt", "w", encoding="utf-8") as out:
            out.write(_profiler.output_text(unicode=True, color=False))

    atexit.register(_save)
'''


def profile_full_load(source: DatabaseCredentials, warehouse: DatabaseCredentials,
                      synthesized: tuple[Path, dict[str, Any]], directory: Path, out_dir: Path,
                      *, progress: Any) -> dict[str, Any]:
    """Run one full load of `source` into the empty `warehouse` with every Lambda profiled; summarize."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="onyx-profile-hook-") as hook_dir:
        (Path(hook_dir) / "sitecustomize.py").write_text(_SITECUSTOMIZE, encoding="utf-8")
        counter = iter(range(1, 1000))

        def hook(spec: FunctionSpec, event: dict[str, Any]) -> dict[str, str]:
            return {"PYTHONPATH": f"{hook_dir}:{REPO}", "ONYX_BENCH_PROFILE_DIR": str(out_dir),
                    "ONYX_BENCH_PROFILE_NAME": f"{next(counter):02d}-{state_of_handler(spec.handler)}"}

        cloud = LocalCloud(directory=directory, progress=lambda m: progress(f"  {m}"))
        cloud.up(UpOptions(source_url=source.to_url(), warehouse_url=warehouse.to_url(), fork_server=False,
                           overrides={"safetyLagSeconds": "0"}, synthesized=synthesized))
        try:
            if cloud.moto is None or cloud.moto.invoker is None:
                raise RuntimeError("the local cloud is not up")
            cloud.moto.invoker.fault = hook
            progress(f"profiling a full load (pyinstrument in every Lambda process) -> {out_dir}")
            outcome = cloud.execute()
        finally:
            cloud.down()
    summary: dict[str, Any] = {"status": outcome.status, "seconds": outcome.seconds,
                               "state_seconds": outcome.state_seconds, "directory": str(out_dir), "stages": {}}
    for session_file in sorted(out_dir.glob("*.pyisession")):
        summary["stages"][session_file.stem] = summarize_session(session_file)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def summarize_session(path: Path) -> dict[str, Any]:
    """Total seconds; self time by package/module; top functions by self and by cumulative time."""
    from pyinstrument.session import Session

    root = Session.load(str(path)).root_frame()
    if root is None:
        return {"seconds": 0.0, "by_area": [], "top_self": [], "top_cumulative": []}
    total = root.time or 1e-9
    self_time: dict[str, float] = defaultdict(float)
    area_time: dict[str, float] = defaultdict(float)
    cumulative: dict[str, float] = defaultdict(float)

    def walk(frame: Any, ancestors: frozenset[str], caller_area: str) -> None:
        key = _key(frame)
        # A built-in (socket.recv_into, json's scanner...) counts for the area of the code that called it.
        area = caller_area if _is_builtin(frame) else _area(frame.file_path or "")
        if not frame.is_synthetic:
            if key not in ancestors:  # recursion counts once
                cumulative[key] += frame.time
            ancestors = ancestors | {key}
        own = sum(c.time for c in frame.children if c.is_synthetic_leaf)
        if not frame.is_synthetic:
            own += max(0.0, frame.time - sum(c.time for c in frame.children))
        if own > 0 and not frame.is_synthetic:
            self_time[key] += own
            area_time[area] += own
        for child in frame.children:
            if not child.is_synthetic_leaf:
                walk(child, ancestors, area)

    walk(root, frozenset(), "(root)")

    def top(table: dict[str, float], n: int = TOP) -> list[dict[str, Any]]:
        ranked = sorted(table.items(), key=lambda kv: kv[1], reverse=True)[:n]
        return [{"name": name, "seconds": round(s, 3), "share": round(s / total, 3)} for name, s in ranked]

    return {"seconds": round(total, 3), "by_area": top(area_time, 12), "top_self": top(self_time),
            "top_cumulative": top(cumulative, TOP + 10), "text": str(path.with_suffix(".txt"))}


def _is_builtin(frame: Any) -> bool:
    return not frame.file_path or frame.file_path.startswith("<built-in")


def _key(frame: Any) -> str:
    return f"{frame.function} ({_short(frame.file_path or '')}:{frame.line_no})"


def _short(path: str) -> str:
    for marker in ("site-packages/", "/main/", "lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def _area(path: str) -> str:
    """A package (pg8000, pyarrow, botocore...), one of our modules, the standard library, or imports."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0]
    if "<frozen" in path or "importlib" in path:
        return "(imports)"
    if "/lambdas/" in path or "/local/" in path:
        rel = path.split("/main/", 1)[-1]
        return rel.removesuffix(".py").replace("/", ".")
    if "lib/python3" in path:
        return "stdlib:" + path.split("lib/python3", 1)[1].split("/", 2)[1].removesuffix(".py")
    return path or "(native)"


def render_profile(summary: dict[str, Any]) -> str:
    lines = [f"profile of a full load under pyinstrument ({summary['status']}, {summary['seconds']:.1f} s; "
             f"files in {summary['directory']})"]
    for stage, figures in summary["stages"].items():
        lines.append(f"\n{stage}: {figures['seconds']:.2f} s in the process")
        lines.append("  self time by area:")
        lines += [f"    {a['share']:>6.1%} {a['seconds']:>8.2f} s  {a['name']}" for a in figures["by_area"][:8]]
        lines.append("  top functions by self time:")
        lines += [f"    {f['share']:>6.1%} {f['seconds']:>8.2f} s  {f['name']}" for f in figures["top_self"][:10]]
    return "\n".join(lines)
