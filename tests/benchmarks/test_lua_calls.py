"""Smoke test of `benchmarks.lua_calls`: every row is measured and split."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.lua_calls import SCRIPTS

REPO = Path(__file__).resolve().parents[2]


def test_every_script_is_measured(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.lua_calls", "--repeats", "1", "--out", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=100, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (written,) = tmp_path.glob("lua-calls-*.json")
    results = json.loads(written.read_text())["results"]
    assert list(results) == list(SCRIPTS)
    for name, r in results.items():
        assert r["script_us"] > 0, name
        if name.startswith("no command"):
            assert r["command_us"] == 0, name
        else:  # the script's time holds the command's own time, and more
            assert 0 < r["command_us"] < r["script_us"], name
        assert name in done.stdout
