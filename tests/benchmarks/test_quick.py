"""Smoke test of the benchmark suite: `--quick` runs end to end and writes its results.

It checks that the scripts work (a private redis-server, fresh worker processes, the
JSON and Markdown reports), not how fast anything is.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
METRICS = ("enqueue_single", "enqueue_batch", "drain_p1", "drain_p2", "sleep_io", "lat500_rate")


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
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads((tmp_path / "quick-latest.json").read_text())
    none, aof = document["passes"]
    assert none["persistence"] == "none" and aof["persistence"] == "aof-everysec"
    assert none["errors"] == {} and aof["errors"] == {}
    for system in ("streamq", "ceiling"):
        assert document["systems"][system]["available"]
        for metric in METRICS:
            assert none["results"][system][metric]["median"] > 0, (system, metric)
        assert aof["results"][system]["drain_p1"]["median"] > 0
    assert none["results"]["streamq"]["redis_bytes_per_job"]["median"] > 0
    assert none["ratios_streamq_over"]["drain_p1"]["ceiling"] > 0
    assert (tmp_path / "quick-latest.md").read_text().startswith("# streamq benchmarks")
