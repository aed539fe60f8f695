"""Synthesized apps kept by what they were made from, so an unchanged app is not synthesized again.

A synth starts the CDK's Node.js kernel and costs about ten seconds of CPU; the local cloud synthesizes on every
`up`. The key covers everything the template is made of: the context (cdk.json and the overrides), app.py,
cdk.json, requirements.txt, every file under stacks/ and lambdas/ (the Lambda asset's hash is in the template),
and the versions of the CDK libraries. ONYX_SYNTH_CACHE=off synthesizes every time.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO / ".build" / "synth"
KEEP = 6  # the newest apps kept (each is well under a megabyte: the asset is not bundled locally)
_SOURCES = ("app.py", "cdk.json", "requirements.txt")
_SOURCE_TREES = ("stacks", "lambdas")
_LIBRARIES = ("aws-cdk-lib", "constructs", "cdk-nag", "jsii")
_SKIPPED = ("__pycache__", ".mypy_cache", ".pytest_cache")


def enabled() -> bool:
    return os.environ.get("ONYX_SYNTH_CACHE", "on").lower() not in ("off", "0", "false", "no")


def _files() -> list[Path]:
    files = [REPO / name for name in _SOURCES]
    for tree in _SOURCE_TREES:
        files += [p for p in (REPO / tree).rglob("*")
                  if p.is_file() and not any(part in _SKIPPED for part in p.parts) and p.suffix != ".pyc"]
    return sorted(files)


def key(context: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(context, sort_keys=True).encode())
    for library in _LIBRARIES:
        digest.update(f"{library}=={metadata.version(library)}\0".encode())
    for path in _files():
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


@contextmanager
def exclusive(cache_key: str) -> Iterator[None]:
    """Hold the key's lock (other processes wait): one synth per app, however many ask for it at once."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / f".{cache_key}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def lookup(cache_key: str) -> Path | None:
    """The cached app for this key, if a complete one exists."""
    cached = CACHE_DIR / cache_key
    if not (cached / "manifest.json").is_file():
        return None
    os.utime(cached)  # most recently used: kept longest
    return cached


def store(cache_key: str, outdir: Path) -> None:
    """Keep a copy of a fresh synth (best effort: a cache that cannot be written only costs the next synth)."""
    try:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{cache_key}-", dir=CACHE_DIR))
        shutil.copytree(outdir, staging, dirs_exist_ok=True)
        try:
            staging.rename(CACHE_DIR / cache_key)  # atomic: a reader sees a whole app or none
        except OSError:  # another process stored the same app meanwhile
            shutil.rmtree(staging, ignore_errors=True)
        _evict()
    except OSError:
        return


def _evict() -> None:
    apps = sorted((p for p in CACHE_DIR.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    abandoned = [p for p in CACHE_DIR.iterdir()
                 if p.is_dir() and p.name.startswith(".") and time.time() - p.stat().st_mtime > 3600]
    for old in (*apps[KEEP:], *abandoned):  # abandoned: copies a killed process never finished
        shutil.rmtree(old, ignore_errors=True)
    for lock in CACHE_DIR.glob(".*.lock"):  # a lock is only held for the length of one synth
        if time.time() - lock.stat().st_mtime > 3600:
            lock.unlink(missing_ok=True)
