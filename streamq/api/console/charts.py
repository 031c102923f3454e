"""Charts as inline SVG rendered on the server: no chart library, no script, and they
read without JavaScript. Colours come from classes in the console's stylesheet."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from markupsafe import Markup, escape

from ...store.trail import Minute

WIDTH, HEIGHT, PAD = 600, 120, 18


def _label(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, tz=UTC).strftime("%H:%M")


def _frame(title: str, body: list[str], top: str) -> Markup:
    axis = (
        f'<line class="axis" x1="0" y1="{HEIGHT - PAD}" x2="{WIDTH}" y2="{HEIGHT - PAD}"/>'
        f'<text class="tick" x="{WIDTH}" y="10" text-anchor="end">{escape(top)}</text>'
    )
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{axis}{''.join(body)}</svg>"
    )


def throughput(minutes: Sequence[Minute], title: str) -> Markup:
    """Jobs finished per minute: succeeded and failed attempts stacked."""
    top = max([m.ok + m.err for m in minutes] + [1])
    step = WIDTH / max(1, len(minutes))
    scale = (HEIGHT - PAD - 12) / top
    bars = []
    for i, m in enumerate(minutes):
        x = i * step
        ok_h, err_h = m.ok * scale, m.err * scale
        base = HEIGHT - PAD
        tip = f"{_label(m.minute)} UTC: {m.ok} succeeded, {m.err} failed attempts"
        bars.append(
            f'<g><title>{escape(tip)}</title>'
            f'<rect class="ok" x="{x:.1f}" y="{base - ok_h:.1f}" width="{step * 0.8:.1f}" '
            f'height="{ok_h:.1f}"/>'
            f'<rect class="err" x="{x:.1f}" y="{base - ok_h - err_h:.1f}" '
            f'width="{step * 0.8:.1f}" height="{err_h:.1f}"/></g>'
        )
    bars += _time_ticks(minutes, step)
    return _frame(title, bars, f"{top}/min")


def failure_rate(minutes: Sequence[Minute], title: str) -> Markup:
    """Share of attempts that failed, per minute (gaps where nothing ran)."""
    step = WIDTH / max(1, len(minutes))
    span = HEIGHT - PAD - 12
    points, dots = [], []
    for i, m in enumerate(minutes):
        total = m.ok + m.err
        if total == 0:
            continue
        rate = m.err / total
        x, y = i * step + step * 0.4, HEIGHT - PAD - rate * span
        points.append(f"{x:.1f},{y:.1f}")
        tip = f"{_label(m.minute)} UTC: {rate:.0%} of {total} attempts failed"
        dots.append(f'<circle class="rate" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
                    f"<title>{escape(tip)}</title></circle>")
    line = f'<polyline class="rate" points="{" ".join(points)}"/>' if points else ""
    return _frame(title, [line, *dots, *_time_ticks(minutes, step)], "100 %")


def _time_ticks(minutes: Sequence[Minute], step: float) -> list[str]:
    out = []
    for i in range(0, len(minutes), 15):
        out.append(f'<text class="tick" x="{i * step:.1f}" y="{HEIGHT - 4}">'
                   f"{_label(minutes[i].minute)}</text>")
    return out
