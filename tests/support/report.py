"""Scenario sizes (CI and soak) and the reliability report.

Each chaos scenario runs at a CI size by default and at full size with `-m soak`. Results go
to a report only in the soak tier, or when `STREAMQ_RELIABILITY_REPORT` names a file: one
JSON file per scenario in `<report>.d/`, merged into `<report>` (markdown) and
`<report>.json` after each scenario, so parallel test processes never write one file at once.
A one-line summary is printed either way (visible with `pytest -s`).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REPORT = ROOT / "reliability-report.md"


@dataclass(frozen=True)
class Size:
    """The numbers of one tier of a scenario."""

    tier: str
    values: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    @property
    def soak(self) -> bool:
        return self.tier == "soak"


def sizes(ci: dict[str, Any], soak: dict[str, Any], soak_timeout_s: int = 900) -> list[Any]:
    """Parameters for `@pytest.mark.parametrize("size", ...)`: CI by default, soak on demand."""
    return [
        pytest.param(Size("ci", ci), id="ci"),
        pytest.param(
            Size("soak", soak), id="soak",
            marks=[pytest.mark.soak, pytest.mark.timeout(soak_timeout_s)],
        ),
    ]


def report_path(size: Size) -> Path | None:
    env = os.environ.get("STREAMQ_RELIABILITY_REPORT")
    if env:
        return Path(env)
    return DEFAULT_REPORT if size.soak else None


def record(scenario: str, size: Size, figures: dict[str, Any]) -> None:
    """Print the scenario's figures; in the soak tier (or when asked) add them to the report."""
    line = ", ".join(f"{k}={v}" for k, v in figures.items())
    print(f"\n[reliability] {scenario} ({size.tier}): {line}")
    path = report_path(size)
    if path is None:
        return
    parts = path.with_name(path.name + ".d")
    parts.mkdir(parents=True, exist_ok=True)
    entry = {"scenario": scenario, "tier": size.tier, "size": size.values, "figures": figures}
    _write(parts / f"{scenario}.{size.tier}.json", json.dumps(entry, indent=2, default=str))
    entries = [json.loads(p.read_text()) for p in sorted(parts.glob("*.json"), key=_order)]
    _write(path.with_suffix(".json"), json.dumps(entries, indent=2, default=str))
    _write(path, render(entries))


def render(entries: list[dict[str, Any]]) -> str:
    lines = [
        "# streamq reliability report",
        "",
        "Written by `tests/chaos` and `tests/cluster` (`.venv/bin/pytest -m soak tests/chaos",
        "tests/cluster`). Each scenario lists its size and the figures it measured; the",
        "assertions of the tests hold them.",
        "",
    ]
    lines += ["| scenario | tier | accepted | lost | re-runs (all explained by a fault) |",
              "|---|---|---|---|---|"]
    for e in entries:
        f = e["figures"]
        if "lost" in f:
            lines.append(f"| {e['scenario']} | {e['tier']} | {f.get('accepted', '')} | "
                         f"{f['lost']} | {f.get('duplicates', '')} "
                         f"({f.get('duplicates_unexplained', 0)} unexplained) |")
    lines.append("")
    for e in entries:
        lines += [f"## {e['scenario']} ({e['tier']})", ""]
        size = ", ".join(f"{k}={v}" for k, v in e["size"].items())
        lines += [f"size: {size}", "", "| figure | value |", "|---|---|"]
        for key, value in e["figures"].items():
            lines.append(f"| {key} | {_cell(value)} |")
        lines.append("")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str).replace("|", "\\|")
    return str(value)


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


def _order(path: Path) -> tuple[int, str]:
    """Scenario files in scenario order (2 before 10)."""
    head = path.name.split("-", 1)[0]
    return (int(head) if head.isdigit() else 99, path.name)
