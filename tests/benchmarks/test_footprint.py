"""`python -m benchmarks.footprint` runs and reports every layer a worker imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_footprint_reports_each_layer(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "benchmarks.footprint", "--repeats", "1",
                    "--out", str(tmp_path)], cwd=REPO, check=True, capture_output=True,
                   timeout=120)
    [path] = tmp_path.glob("footprint-*.json")
    layers = json.loads(path.read_text())["layers"]
    assert layers[0]["layer"] == "interpreter"
    assert layers[-1]["layer"] == "streamq worker + command line"
    totals = [layer["rss_total_mib"]["median"] for layer in layers]
    assert totals[-1] > totals[0] > 0
