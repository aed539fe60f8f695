"""Synthesized apps are kept by what they were made from: an unchanged app is reused, any change synthesizes."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from local import synth_cache
from local.deploy import NO_SAFETY_LAG, synthesize


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small app tree and an empty cache of its own."""
    for name, text in {"app.py": "app", "cdk.json": "{}", "requirements.txt": "pyarrow==1",
                       "stacks/pipeline.py": "machine", "lambdas/load/runner.py": "load"}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(synth_cache, "REPO", tmp_path)
    monkeypatch.setattr(synth_cache, "CACHE_DIR", tmp_path / ".build" / "synth")
    return tmp_path


def _app(directory: Path, stack: str = "Onyx-dev") -> Path:
    directory.mkdir(parents=True)
    (directory / "manifest.json").write_text(json.dumps({"stack": stack}))
    return directory


@pytest.mark.parametrize("change", ["stacks/pipeline.py", "lambdas/load/runner.py", "app.py", "requirements.txt",
                                   "stacks/new_module.py"])
def test_the_key_changes_with_any_source_of_the_template(tree, change):
    before = synth_cache.key({"env": "dev"})
    (tree / change).write_text("changed")

    assert synth_cache.key({"env": "dev"}) != before


def test_the_key_changes_with_the_context_and_not_with_compiled_files(tree):
    before = synth_cache.key({"env": "dev"})
    (tree / "stacks" / "__pycache__").mkdir()
    (tree / "stacks" / "__pycache__" / "pipeline.cpython-311.pyc").write_bytes(b"\0")

    assert synth_cache.key({"env": "dev"}) == before
    assert synth_cache.key({"env": "dev", "safetyLagSeconds": "0"}) != before


def test_a_stored_app_is_found_by_its_key_and_only_whole(tree):
    synth_cache.store("k1", _app(tree / "out"))
    (synth_cache.CACHE_DIR / "k2").mkdir()  # no manifest: not an app

    found = synth_cache.lookup("k1")
    assert found is not None
    assert json.loads((found / "manifest.json").read_text()) == {"stack": "Onyx-dev"}
    assert synth_cache.lookup("k2") is None
    assert synth_cache.lookup("k3") is None


def test_only_the_most_recently_used_apps_are_kept(tree):
    for n in range(synth_cache.KEEP):  # k0 the oldest
        synth_cache.store(f"k{n}", _app(tree / f"out{n}"))
        os.utime(synth_cache.CACHE_DIR / f"k{n}", (1_000_000 + n, 1_000_000 + n))
    synth_cache.lookup("k0")  # used again: now the newest

    synth_cache.store("new1", _app(tree / "new1"))
    synth_cache.store("new2", _app(tree / "new2"))

    kept = {p.name for p in synth_cache.CACHE_DIR.iterdir()}
    assert kept == {"k0", "new1", "new2"} | {f"k{n}" for n in range(3, synth_cache.KEEP)}


@pytest.mark.slow
def test_a_second_synth_of_the_same_app_reuses_the_first(synthesized, tmp_path):
    first, _ = synthesized
    said: list[str] = []

    again, context = synthesize(tmp_path / "cdk.out", dict(NO_SAFETY_LAG), said.append)

    reused = again.relative_to(synth_cache.REPO)
    assert said == [f"the app is unchanged since it was last synthesized: reusing {reused}"]
    assert not (tmp_path / "cdk.out").exists()
    assert (again / "manifest.json").read_text() == (first / "manifest.json").read_text()
    assert context["safetyLagSeconds"] == "0"


def test_one_process_at_a_time_synthesizes_a_given_app(tree):
    inside = threading.Event()

    def second() -> None:
        with synth_cache.exclusive("k1"):
            inside.set()

    with synth_cache.exclusive("k1"):
        waiting = threading.Thread(target=second)
        waiting.start()
        assert not inside.wait(0.3)  # held off while the first holds the app's lock
        with synth_cache.exclusive("k2"):  # another app is not held off
            pass
    assert inside.wait(10)
    waiting.join()
