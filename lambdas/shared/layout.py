"""Where things live in the buckets (docs/design.md section 2). Pure functions of run id and date."""

from __future__ import annotations

from datetime import datetime


def _day(at: datetime) -> str:
    return f"{at:%Y/%m/%d}"


def ingestion_data_key(table: str, run_id: str, at: datetime, part: int = 0) -> str:
    """`<table>/<YYYY>/<MM>/<DD>/<run_id>.jsonl`; a run's further parts get `.<n>` before the suffix."""
    suffix = ".jsonl" if part == 0 else f".{part}.jsonl"
    return f"{table}/{_day(at)}/{run_id}{suffix}"


def extract_manifest_key(run_id: str) -> str:
    return f"runs/{run_id}/extract.json"


def processed_data_key(star_table: str, run_id: str, at: datetime, part: int = 0) -> str:
    suffix = ".parquet" if part == 0 else f".{part}.parquet"
    return f"{star_table}/{_day(at)}/{run_id}{suffix}"


def transform_manifest_key(run_id: str) -> str:
    return f"runs/{run_id}/transform.json"
