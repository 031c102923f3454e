"""Smoke test of `benchmarks.worker_cpu`: each pair of per-job steps is measured and
reported."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.runner import run_benchmark


def test_each_pair_is_measured_both_ways(tmp_path: Path) -> None:
    stdout, written = run_benchmark("worker_cpu", tmp_path, "--repeats", "1", "--n", "2000")
    results = written["results"]
    assert set(results) == {"time limit of one attempt", "one histogram observation"}
    for row, ways in results.items():
        assert len(ways) == 2, row
        assert all(w["median_us"] > 0 for w in ways.values()), row
        assert row in stdout
