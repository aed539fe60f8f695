"""`make bench` at a tiny scale: the harness runs end to end and writes the figures it promises.

This proves the harness, not the speed: no figure is asserted against a target here.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench import retention
from bench.report import REQUIRED_KEYS, render
from bench.run import INCREMENTAL, run_bench
from lambdas.shared.totesys import TABLES

SCALE = 200
# What the generator makes at scale 200, seed 1 (deterministic).
SOURCE_ROWS = 1437
STATES = ["Mode", "FindRunningRebuild", "RebuildRunning", "Extract", "HasChanges", "Transform", "Load",
          "AdvanceWatermark", "Done"]


def test_bench_measures_floor_full_load_and_incremental_and_writes_json(pg_server, synthesized, tmp_path):
    result = run_bench(SCALE, server=pg_server, json_dir=tmp_path / "results", progress=lambda _: None,
                       synthesized=synthesized, settle_seconds=0.2)

    files = list((tmp_path / "results").glob("*.json"))
    assert files == [Path(result["json_path"])]
    written = json.loads(files[0].read_text())
    assert set(REQUIRED_KEYS) <= set(written)
    assert written["scale"] == SCALE
    assert written["schema_version"] == 2

    assert written["machine"]["cpu_count"] >= 1
    assert written["versions"]["postgres"]
    assert written["versions"]["packages"]["pyarrow"]

    source = written["source"]
    assert source["seeded"] is True
    assert source["total_rows"] == SOURCE_ROWS
    assert set(source["rows"]) == {t.name for t in TABLES}

    floor = written["floor"]
    assert floor["rows"] == SOURCE_ROWS
    assert {name: t["rows"] for name, t in floor["tables"].items()} == source["rows"]
    assert floor["seconds"] > 0
    assert len(floor["samples"]) == 2  # before and after the full load; the figure is their mean
    assert floor["seconds"] == round(sum(floor["samples"]) / 2, 3)
    assert [other["rows"] for other in floor["others"]] == [SOURCE_ROWS] * len(floor["others"])
    assert floor["keyless"] is False
    keyless = written["floor_keyless"]  # the same rows into tables without keys: the bytes moved, nothing else
    assert keyless["keyless"] is True
    assert keyless["rows"] == SOURCE_ROWS
    assert keyless["method"] == floor["method"]
    assert keyless["others"] == []
    assert len(keyless["samples"]) == 2
    assert keyless["seconds"] == round(sum(keyless["samples"]) / 2, 3)

    full = written["full_load"]
    assert full["status"] == "SUCCEEDED"
    assert full["extracted"] == source["rows"]
    assert full["rows"] == SOURCE_ROWS
    assert [s["state"] for s in full["states"]] == STATES
    lambdas = full["invocations"]
    assert [i["state"] for i in lambdas] == ["Extract", "Transform", "Load", "AdvanceWatermark"]
    assert all(i["ok"] and i["peak_rss_mb"] > 0 and i["seconds"] > 0 for i in lambdas)
    assert {i["memory_mb"] for i in lambdas if i["state"] == "Transform"} == {2048}

    # The first invocation of each function is a cold start: AdvanceWatermark has a function of its own.
    assert [(s["state"], s["cold_starts"]) for s in full["states"] if s["invocations"]] == [
        ("Extract", 1), ("Transform", 1), ("Load", 1), ("AdvanceWatermark", 1)]
    assert [i["memory_mb"] for i in lambdas] == [1024, 2048, 1024, 256]
    assert all(s["init_seconds"] > 0 for s in full["states"] if s["cold_starts"])

    incremental, cold = written["incremental"], written["incremental_cold"]
    for run in (incremental, cold):
        assert run["status"] == "SUCCEEDED"
        assert run["changed_rows"] == run["rows"] == sum(run["extracted"].values())
        assert run["activity"] == {
            "new_sales_orders": INCREMENTAL.new_sales_orders, "new_purchase_orders": INCREMENTAL.new_purchase_orders,
            "amended_orders": INCREMENTAL.amended_orders, "payments_made": INCREMENTAL.payments_made,
            "address_changes": 0, "department_changes": 0}
        # New orders bring one transaction each; amendments and payments touch no purchase order or transaction.
        assert run["extracted"]["purchase_order"] == 60
        assert run["extracted"]["transaction"] == 210
        # Amendments and payments may fall on the same or on new rows at this tiny scale: at most 1,000 rows.
        assert 150 < run["extracted"]["sales_order"] <= 150 + 125
        assert 210 < run["extracted"]["payment"] <= 210 + 125 + 120
        assert run["rows"] <= 1000
    assert [s["cold_starts"] for s in incremental["states"] if s["invocations"]] == [0, 0, 0, 0]
    assert [s["cold_starts"] for s in cold["states"] if s["invocations"]] == [1, 1, 1, 1]
    assert all(i["cold_start"] for i in cold["invocations"])

    assert written["ratio_full_load_to_floor"] == round(full["seconds"] / floor["seconds"], 2)
    assert written["ratio_full_load_to_keyless_floor"] == round(full["seconds"] / keyless["seconds"], 2)
    assert set(written["targets"]) == {"full_load_to_floor", "full_load_to_keyless_floor", "incremental_seconds",
                                       "peak_rss_mb"}
    assert written["targets"]["full_load_to_keyless_floor"]["limit"] == 3.0
    assert written["targets"]["peak_rss_mb"]["value"] == max(
        i["peak_rss_mb"] for run in (full, incremental, cold) for i in run["invocations"])
    assert written["passed"] == all(t["pass"] for t in written["targets"].values())

    # The lake the three runs left: a manifest and a watermark each, and their data files (bench/retention.py).
    lake = written["retention"]["kinds"]
    assert written["retention"]["bucket"].startswith("onyx-dev-")
    assert (lake["manifests"]["objects"], lake["watermarks"]["objects"]) == (3, 3)
    # One file per table a run extracted rows of: 11 in the full load, the 4 changed in each incremental.
    assert lake["data"]["objects"] == sum(rows > 0 for run in (full, incremental, cold)
                                          for rows in run["extracted"].values()) == 11 + 4 + 4
    assert lake["total"]["objects"] == 3 + 3 + lake["data"]["objects"]
    assert "data files (<table>/.../*.jsonl)" in retention.render(written["retention"])

    table = render(result)
    assert "floor: COPY TO | COPY FROM" in table
    assert f"(before / after the full load: {floor['samples'][0]:.2f} / {floor['samples'][1]:.2f} s)" in table
    assert "full load / floor = " in table
    assert "floor, no keys (" in table
    assert f"full load / floor without keys = {written['ratio_full_load_to_keyless_floor']:.2f}x" in table
    assert "target full load <= 3x floor w/o keys" in table
    assert "incremental, every Lambda cold: end to end" in table
    assert "  Transform (cold start)" in table
    # A result of schema version 1 (before the keyless floor) still renders, without the keyless lines.
    newer = ("floor_keyless", "ratio_full_load_to_keyless_floor")
    old = {key: value for key, value in result.items() if key not in newer}
    old["targets"] = {key: value for key, value in result["targets"].items() if key != "full_load_to_keyless_floor"}
    assert "without keys" not in render(old)
    assert "w/o keys" not in render(old)
