"""Smoke test of `benchmarks.client_send`: both send paths measured for both calls, and the
event-loop turns it counts tell them apart (redis-py's `wait_for` runs a task per write)."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.runner import run_benchmark


def test_both_sends_are_measured_and_told_apart(tmp_path: Path) -> None:
    stdout, written = run_benchmark("client_send", tmp_path, "--repeats", "1", "--n", "50")
    results = written["results"]
    assert set(results) == {"PING", "enqueue script, one job"}
    for call, sends in results.items():
        assert call in stdout
        old = sends["redis-py send (asyncio.wait_for)"]
        new = sends["streamq send (asyncio.timeout)"]
        for figures in (old, new):
            assert figures["client_cpu_us"]["median"] > 0
            assert figures["wall_us"]["median"] > 0
        # one turn to send and wait, one to read (a reply split in two may add one)
        assert new["loop_turns"]["median"] <= 2.5
        assert old["loop_turns"]["median"] >= new["loop_turns"]["median"] + 1
