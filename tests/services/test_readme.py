"""The README documents every setting and every metric the code has."""

from __future__ import annotations

from pathlib import Path

from streamq.metrics import REGISTRY
from streamq.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_settings_table() -> None:
    missing = [n for n in Settings.model_fields if f"| `STREAMQ_{n.upper()}` |" not in README]
    assert missing == [], f"add these to the README's settings table: {missing}"


def test_every_metric_is_documented() -> None:
    import streamq.api.metrics  # noqa: F401 - registers the HTTP metrics

    names = {m.name for m in REGISTRY.collect()}
    missing = sorted(n for n in names if f"`{n}" not in README)
    assert missing == [], f"add these to the README's metrics table: {missing}"
