"""Smoke test of the benchmark suite: `--quick` runs end to end and writes its results.

It checks that the scripts work (a private redis-server, fresh worker processes, every
workload including the latency rates and the memory runs, the Redis and worker CPU
counters, the JSON and Markdown reports), not how fast anything is.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
THROUGHPUT = ("enqueue_single", "enqueue_batch", "drain_p1", "drain_p2", "sleep_io")
LATENCY = tuple(
    f"lat{rate}_{metric}"
    for rate in (100, 500, 2000)
    for metric in ("rate", *(f"{edge}_p{q}" for edge in ("start", "done") for q in (50, 95, 99)))
)
COUNTED = ("redis_calls_enqueue_single", "redis_calls_process", "redis_bytes_per_job")
MEMORY = ("rss_idle_mib", "rss_c100_mib", "rss_c1000_mib", "rss_drain_mib")
CPU = (
    "redis_us_enqueue_single",
    "redis_us_enqueue_batch",
    "redis_us_process",
    "redis_us_lifecycle",
    "worker_us_process",
    *(f"lat{rate}_{side}_us" for rate in (100, 500, 2000) for side in ("redis", "worker")),
)
"""CPU per job over the quick run's tiny windows can round to zero (the kernel counts
worker CPU in 10 ms ticks): present and not negative is all that is checked."""


@pytest.mark.timeout(200)
@pytest.mark.skipif(
    not (Path("/usr/bin/redis-server").exists() or shutil.which("redis-server")),
    reason="redis-server is not installed",
)
def test_quick_run_writes_positive_results(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--quick",
            "--only",
            "streamq,ceiling",
            "--out",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads((tmp_path / "quick-latest.json").read_text())
    none, aof = document["passes"]
    assert none["persistence"] == "none" and aof["persistence"] == "aof-everysec"
    assert none["errors"] == {} and aof["errors"] == {}
    for system in ("streamq", "ceiling"):
        assert document["systems"][system]["available"]
        results = none["results"][system]
        for metric in (*THROUGHPUT, *LATENCY, *COUNTED, *MEMORY):
            assert results[metric]["median"] > 0, (system, metric)
        for metric in CPU:
            assert results[metric]["median"] >= 0, (system, metric)
        assert results["c100_in_flight"]["median"] > 1, system
        for rate in (100, 500, 2000):
            for edge in ("start", "done"):
                p50, p95, p99 = (results[f"lat{rate}_{edge}_p{q}"]["median"] for q in (50, 95, 99))
                assert p50 <= p95 <= p99, (system, rate, edge)
        assert aof["results"][system]["drain_p1"]["median"] > 0
        assert aof["results"][system]["redis_us_process"]["median"] >= 0
    assert none["ratios_streamq_over"]["drain_p1"]["ceiling"] > 0
    assert none["ratios_over_ceiling"]["redis_us_lifecycle"]["streamq"] > 0
    assert none["redis_idle_cpu_us_per_s"] >= 0
    profile = none["redis_commands_per_job"]["streamq"]
    assert set(profile) == {"enqueue_single", "enqueue_batch", "process"}
    assert sum(c["calls"] for c in profile["enqueue_single"].values()) >= 1
    assert {t["metric"] for t in none["targets"]} >= {"redis_us_lifecycle", "rss_c100_mib"}
    text = (tmp_path / "quick-latest.md").read_text()
    assert text.startswith("# streamq benchmarks")
    assert "### Where streamq's Redis time goes" in text
    for rate in (100, 500, 2000):
        assert f"@{rate}/s enqueue→start p95" in text
