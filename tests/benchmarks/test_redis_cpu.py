"""Smoke test of `benchmarks.redis_cpu`: every step runs through the store and is metered.

It checks that the measurement works (a child process on its own redis-server, every
script on the path, the JSON written), not what anything costs.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.redis_cpu import STEPS
from tests.benchmarks.runner import run_benchmark


def test_every_step_is_metered(tmp_path: Path) -> None:
    stdout, written = run_benchmark("redis_cpu", tmp_path, "--n", "50", "--repeats", "1")
    results = written["results"]["work tree"]
    assert list(results) == list(STEPS)
    for step, figures in results.items():
        assert figures["commands_per_job"]["median"] > 0, step
        assert figures["cpu_us_per_job"]["median"] >= 0, step
    for step in ("enqueue", "start", "finish succeeded"):  # each one script call per batch
        script, inside = (results[step][m]["median"]
                          for m in ("script_us_per_job", "in_commands_us_per_job"))
        assert 0 < inside < script, (step, script, inside)
    assert all(step in stdout for step in STEPS)
    assert results["enqueue"]["bytes_per_job"]["median"] > 100, "a queued job holds its payload"
    assert "Redis bytes per queued job" in stdout
