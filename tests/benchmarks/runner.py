"""Run one benchmark module as its users do, in a child process, and read its JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def run_benchmark(module: str, out: Path, *args: str) -> tuple[str, dict[str, Any]]:
    """`python -m benchmarks.<module> ... --out <out>`: its stdout and the one JSON file it
    wrote (it must exit 0)."""
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args, "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=100, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (written,) = out.glob("*.json")
    return done.stdout, json.loads(written.read_text())
