"""Smoke test of `benchmarks.redis_cpu`: every step runs through the store and is metered.

It checks that the measurement works (a child process on its own redis-server, every
script on the path, the JSON written), not what anything costs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.redis_cpu import STEPS

REPO = Path(__file__).resolve().parents[2]


def test_every_step_is_metered(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.redis_cpu", "--n", "50", "--repeats", "1",
         "--out", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=100, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (written,) = tmp_path.glob("redis-cpu-*.json")
    results = json.loads(written.read_text())["results"]["work tree"]
    assert list(results) == list(STEPS)
    for step, figures in results.items():
        assert figures["commands_per_job"]["median"] > 0, step
        assert figures["cpu_us_per_job"]["median"] >= 0, step
    for step in ("enqueue", "start", "finish succeeded"):  # each one script call per batch
        script, inside = (results[step][m]["median"]
                          for m in ("script_us_per_job", "in_commands_us_per_job"))
        assert 0 < inside < script, (step, script, inside)
    assert all(step in done.stdout for step in STEPS)
    assert results["enqueue"]["bytes_per_job"]["median"] > 100, "a queued job holds its payload"
    assert "Redis bytes per queued job" in done.stdout
