"""Faults inside a local Lambda invocation, for the hardening campaign.

The campaign's invoker fault puts this directory first on PYTHONPATH of one invocation and names a fault
in ONYX_HARDENING_FAULT (and a planted bug in ONYX_HARDENING_PLANT). Python imports this module at
start-up, before the handler; without those variables it does nothing. A crash is `os._exit`: the
process dies as a Lambda sandbox would, with no exception handler, no cleanup and no result.

Faults (the named points of the campaign):
- extract_before_manifest: the run's files are written, its manifest is not.
- transform_before_manifest: the Parquet files and the transform state are written, transform.json is not.
- load_mid: the dimensions are merged in the load's open transaction, then the process dies.
- commit_before_watermark: the AdvanceWatermark step dies before the watermark object is written.

Planted bugs (to show the campaign finds them):
- watermark_at_extract: extract advances the watermarks as soon as its manifest is written (before load).
- no_in_flight_bound: extract's high ignores transactions still in flight.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

CRASH_EXIT_CODE = 70


def _crash(*_args: object, **_kwargs: object) -> None:
    os._exit(CRASH_EXIT_CODE)


def _replace(module_name: str, attribute: str, value: Any) -> Any:
    """Put `value` in place of a module's global (looked up at call time by the module's code)."""
    module = importlib.import_module(module_name)
    original = getattr(module, attribute)
    setattr(module, attribute, value)
    return original


def _install_fault(fault: str) -> None:
    if fault == "extract_before_manifest":
        _replace("lambdas.extract.run", "write_manifest", _crash)
    elif fault == "transform_before_manifest":
        _replace("lambdas.transform.runner", "put_json", _crash)
    elif fault == "load_mid":
        def load_table(conn: Any, schema: str, table: Any, source: Any, *, newest: bool) -> Any:
            if table.is_fact:  # every dimension is merged, uncommitted
                _crash()
            return original(conn, schema, table, source, newest=newest)

        original = _replace("lambdas.load.runner", "_load_table", load_table)
    elif fault == "commit_before_watermark":
        _replace("lambdas.extract.run", "advance_watermarks", _crash)
    else:
        raise ValueError(f"unknown hardening fault {fault!r}")


def _install_plant(plant: str) -> None:
    if plant == "watermark_at_extract":
        from lambdas.extract.watermarks import advance_watermarks

        def write_and_commit(s3: Any, bucket: str, manifest: Any) -> Any:
            written = write_manifest(s3, bucket, manifest)
            advance_watermarks(s3, bucket, manifest.run_id, manifest.highs)
            return written

        write_manifest = _replace("lambdas.extract.run", "write_manifest", write_and_commit)
    elif plant == "no_in_flight_bound":
        sql = importlib.import_module("lambdas.extract.window")._HORIZON_SQL
        _replace("lambdas.extract.window", "_HORIZON_SQL", sql.replace("least(now(), oldest_start)", "now()"))
    else:
        raise ValueError(f"unknown planted bug {plant!r}")


if os.environ.get("ONYX_HARDENING_FAULT"):
    _install_fault(os.environ["ONYX_HARDENING_FAULT"])
if os.environ.get("ONYX_HARDENING_PLANT"):
    _install_plant(os.environ["ONYX_HARDENING_PLANT"])
