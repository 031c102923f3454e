"""Smoke test of `benchmarks.lua_calls`: every row is measured and split."""

from __future__ import annotations

from pathlib import Path

from benchmarks.lua_calls import SCRIPTS
from tests.benchmarks.runner import run_benchmark


def test_every_script_is_measured(tmp_path: Path) -> None:
    stdout, written = run_benchmark("lua_calls", tmp_path, "--repeats", "1")
    results = written["results"]
    assert list(results) == list(SCRIPTS)
    for name, r in results.items():
        assert r["script_us"] > 0, name
        if name.startswith("no command"):
            assert r["command_us"] == 0, name
        else:  # the script's time holds the command's own time, and more
            assert 0 < r["command_us"] < r["script_us"], name
        assert name in stdout
