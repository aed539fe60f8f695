"""The one Lambda code asset, bundled without Docker: pinned wheels for Lambda's platform plus `lambdas/`."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

REPO: Final = Path(__file__).resolve().parent.parent
LAMBDAS_DIR: Final = REPO / "lambdas"
REQUIREMENTS: Final = REPO / "requirements.txt"
CACHE_DIR: Final = REPO / ".build" / "lambda-deps"

# Lambda's python3.12 runtime runs on Amazon Linux 2023 (glibc 2.34) on x86_64; pyarrow only ships manylinux_2_28.
PIP_TARGET: Final = (
    "--platform",
    "manylinux2014_x86_64",
    "--platform",
    "manylinux_2_28_x86_64",
    "--implementation",
    "cp",
    "--python-version",
    "3.12",
    "--only-binary=:all:",
)
# Not needed at run time; removed so the package stays far below Lambda's 250 MB unzipped limit.
#  - boto3/botocore/s3transfer come with the Lambda runtime (pulled in here only by aws-xray-sdk);
#  - pyarrow's headers, Cython sources, tests and the Flight RPC libraries; pycountry's translations.
PRUNE: Final = (
    "bin",
    "boto3",
    "boto3-*.dist-info",
    "botocore",
    "botocore-*.dist-info",
    "s3transfer",
    "s3transfer-*.dist-info",
    "pyarrow/include",
    "pyarrow/src",
    "pyarrow/tests",
    "pyarrow/*.pyx",
    "pyarrow/*.pxd",
    "pyarrow/*.pxi",
    "pyarrow/includes",
    "pyarrow/libarrow_flight.so*",
    "pyarrow/libarrow_python_flight.so*",
    "pyarrow/_flight.*.so",
    "pyarrow/flight.py",
    "pycountry/locales",
    "pycountry/tests",
)
# Bump when PIP_TARGET or PRUNE change, so cached dependency trees are rebuilt.
BUNDLE_FORMAT: Final = "3"
_IGNORE: Final = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")


def dependencies_key(requirements: Path = REQUIREMENTS) -> str:
    """Cache key of the installed dependencies: the pinned requirements and how they are installed."""
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(repr((PIP_TARGET, PRUNE, BUNDLE_FORMAT)).encode())
    return digest.hexdigest()[:20]


def source_hash(extra_files: Iterable[str] = ()) -> str:
    """Asset hash: the dependencies key plus every file under `lambdas/` (compiled files excluded) and the extra
    files shipped with them."""
    digest = hashlib.sha256(dependencies_key().encode())
    for path in sorted([*_source_files(LAMBDAS_DIR), *(REPO / name for name in extra_files)]):
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _source_files(root: Path) -> Iterable[Path]:
    for path in root.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path


def installed_dependencies(cache_dir: Path = CACHE_DIR, requirements: Path = REQUIREMENTS) -> Path:
    """The pinned requirements installed for Lambda's platform, built once per requirements.txt content."""
    target = cache_dir / dependencies_key(requirements)
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=cache_dir))
    try:
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--disable-pip-version-check",
            "--target",
            str(staging),
            *PIP_TARGET,
            "-r",
            str(requirements),
        ]
        # pip's chatter (index warnings, a resolver note about this venv's boto3) only matters on failure.
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
        _prune(staging)
        try:
            staging.rename(target)  # atomic: a concurrent synth either sees it whole or builds its own
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for stale in cache_dir.iterdir():  # dependencies of older requirements.txt versions
        if stale.is_dir() and stale != target and not stale.name.startswith(".tmp-"):
            shutil.rmtree(stale, ignore_errors=True)
    return target


def _prune(root: Path) -> None:
    for pattern in PRUNE:
        for path in root.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def _link_or_copy(source: str, destination: str) -> None:
    # Hard links make a repeated synth cheap; across file systems fall back to a copy.
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def copy_sources(output: Path, extra_files: Iterable[str] = ()) -> None:
    """`lambdas/` into the asset, and each extra file (a path relative to the repository) under the same path, so
    it is at LAMBDA_TASK_ROOT/<path> in the function, as at <checkout>/<path> where the local cloud runs it."""
    shutil.copytree(LAMBDAS_DIR, output / "lambdas", dirs_exist_ok=True, ignore=_IGNORE)
    for name in extra_files:
        target = output / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)


@jsii.implements(ILocalBundling)
class LocalPythonBundler:
    """Builds the asset on this machine: no Docker needed."""

    def __init__(self, extra_files: Iterable[str] = ()) -> None:
        self.extra_files = tuple(extra_files)

    def try_bundle(self, output_dir: str, *_options: Any, **_keywords: Any) -> bool:
        output = Path(output_dir)
        shutil.copytree(installed_dependencies(), output, dirs_exist_ok=True, copy_function=_link_or_copy)
        copy_sources(output, self.extra_files)
        return True


def lambda_code(extra_files: Iterable[str] = ()) -> lambda_.Code:
    """The code asset every Onyx function runs (handlers `lambdas.<stage>.handler.handler`), with `extra_files`
    (paths relative to the repository: the sslRootCert CA bundle) at the same paths from the asset's root."""
    extra_files = tuple(extra_files)
    return lambda_.Code.from_asset(
        str(LAMBDAS_DIR),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=source_hash(extra_files),
        bundling=BundlingOptions(
            # Never pulled: the local bundler always succeeds, so Docker is not used.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
            local=LocalPythonBundler(extra_files),
        ),
    )


def directory_size(root: Path) -> int:
    """Bytes in all files under root, as Lambda counts the unzipped package (links counted as files)."""
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())
