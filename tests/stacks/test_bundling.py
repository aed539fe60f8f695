"""The Lambda code asset, bundled without Docker: what it contains and that it fits Lambda's limit."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from local.lambda_runtime import ABSENT_ON_LAMBDA
from stacks.bundling import dependencies_key, directory_size

LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # bytes; Lambda's limit for a function and its layers


@pytest.fixture(scope="module")
def asset_dir(synthesized) -> Path:
    assets = json.loads((synthesized.outdir / f"{synthesized.stack.stack_name}.assets.json").read_text())
    (directory,) = [
        asset["source"]["path"] for asset in assets["files"].values() if asset["source"].get("packaging") == "zip"
    ]
    return Path(synthesized.outdir / directory)


def test_asset_fits_lambdas_unzipped_size_limit(asset_dir):
    size = directory_size(asset_dir)
    print(f"unzipped Lambda asset: {size / 1024 / 1024:.1f} MiB")
    assert size < LAMBDA_UNZIPPED_LIMIT


def test_asset_holds_the_lambdas_package_and_linux_wheels(asset_dir):
    assert (asset_dir / "lambdas" / "shared" / "constants.py").is_file()
    assert list((asset_dir / "pyarrow").glob("lib.cpython-312-x86_64-linux-gnu.so"))
    assert list((asset_dir / "pydantic_core").glob("_pydantic_core.cpython-312-x86_64-linux-gnu.so"))
    assert not list(asset_dir.rglob("__pycache__"))


def test_asset_leaves_the_aws_sdk_to_the_runtime(asset_dir):
    assert not (asset_dir / "botocore").exists()
    assert not (asset_dir / "boto3").exists()


def test_asset_leaves_out_what_does_not_run_in_lambda(asset_dir):
    # The operator's tools and the local cloud run on a workstation, never in a function.
    for package in ("analytics", "ops", "local", "stacks", "tests", "bench"):
        assert not (asset_dir / package).exists(), package


def test_what_the_local_runtime_hides_is_absent_from_the_asset(asset_dir):
    # local/lambda_runtime.py makes these unimportable in local handler environments, because Lambda lacks them.
    assert ABSENT_ON_LAMBDA
    for package in ABSENT_ON_LAMBDA:
        assert not (asset_dir / package).exists(), package


def test_dependencies_are_rebuilt_when_requirements_change(tmp_path):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("pg8000==1.31.6\n")
    second.write_text("pg8000==1.31.5\n")
    assert dependencies_key(first) != dependencies_key(second)
    assert dependencies_key(first) == dependencies_key(first)


def _python_312() -> str | None:
    """A Python 3.12 interpreter (Lambda's), if this machine has one (pyenv shims may exist without it)."""
    candidates = [*map(str, Path.home().glob(".pyenv/versions/3.12*/bin/python3.12")), shutil.which("python3.12")]
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "--version"], capture_output=True, check=False).returncode == 0:
            return candidate
    return None


@pytest.mark.skipif(_python_312() is None, reason="no Python 3.12 on this machine to try the bundle with")
def test_bundled_dependencies_import_and_write_parquet_on_python_3_12(asset_dir, tmp_path):
    code = f"""
import sys
sys.path.insert(0, {str(asset_dir)!r})
import io, pg8000.native, pycountry, pydantic
import pyarrow as pa, pyarrow.parquet as pq
from aws_lambda_powertools import Logger, Metrics
from lambdas.shared.constants import TRANSIENT_RETRY
buffer = io.BytesIO()
pq.write_table(pa.table({{"x": [1, 2]}}), buffer)
assert pq.read_table(io.BytesIO(buffer.getvalue())).num_rows == 2
print(pycountry.currencies.get(alpha_3="GBP").name, flush=True)
# Leave without interpreter teardown: under load, pyarrow's thread pool can abort the process at exit
# ("terminate called without an active exception"), which says nothing about the bundle. Lambda never
# tears its interpreter down between invocations.
import os
os._exit(0)
"""
    python = _python_312()
    assert python is not None
    result = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Pound Sterling"
