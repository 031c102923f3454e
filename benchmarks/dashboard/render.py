"""Draw the Grafana dashboard with matplotlib: each panel's queries, as written in
services/grafana/dashboards/streamq.json, evaluated by a Prometheus over a time range,
placed on Grafana's 24-column grid. Grafana itself is not needed (nor packaged here)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support import promql
from tests.support.prometheus import PrometheusServer

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

BACKGROUND, PANEL, TEXT, GRID = "#111217", "#181b1f", "#ccccdc", "#2c3235"
COLORS = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9",
          "#96d98d", "#ffb357", "#ca95e5", "#fade2a", "#c4162a"]
ROW_UNIT_PX = 30  # Grafana: one grid row is 30 px high; 24 columns span the width
LEGEND_ENTRIES = 6
DAY_S = 86_400.0


def legend(fmt: str, labels: dict[str, str]) -> str:
    if not fmt:
        return ",".join(f"{k}={v}" for k, v in labels.items() if k != "__name__") or "value"
    return promql.LEGEND_LABEL.sub(lambda m: labels.get(m.group(1), ""), fmt)


def fmt_value(value: float, unit: str) -> str:
    if math.isnan(value):
        return "-"
    if unit == "percentunit":
        return f"{value * 100:.1f}%"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"
    if unit in ("ops", "reqps"):
        return f"{value:.1f}/s"
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"


def render(
    prom: PrometheusServer,
    out: Path,
    start: float,
    end: float,
    values: dict[str, list[str]],
    rate_interval: str = "15s",
    width_px: int = 1800,
    title: str = "streamq",
) -> list[tuple[str, int]]:
    """Write the PNG; returns (panel title, series drawn) per panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    board = promql.dashboard()
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in board["panels"])
    header_px = 44
    row_px = ROW_UNIT_PX * 1.25
    height_px = header_px + bottom * row_px
    fig = plt.figure(figsize=(width_px / 100, height_px / 100), dpi=100, facecolor=BACKGROUND)
    frame = Frame(fig, width_px, height_px)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(start))
    frame.text(12, 22, f"{title}      queue: {', '.join(values.get('queue', []))}      "
               f"{when}, {(end - start) / 60:.0f} minutes", size=14, weight="bold")
    drawn = []
    step = max(1.0, (end - start) / 300)
    for panel in board["panels"]:
        g = panel["gridPos"]
        box = (g["x"] * width_px / 24 + 4, header_px + g["y"] * row_px + 4,
               g["w"] * width_px / 24 - 8, g["h"] * row_px - 8)
        if panel["type"] == "row":
            frame.text(box[0] + 4, box[1] + box[3] / 2, panel["title"], size=13, weight="bold")
            continue
        series = [
            (legend(target.get("legendFormat", ""), s["metric"]),
             [(float(t), float(v)) for t, v in s["values"]])
            for target in panel["targets"]
            for s in prom.query_range(promql.substitute(target["expr"], values, rate_interval),
                                      start, end, step)
        ]
        drawn.append((panel["title"], len(series)))
        frame.panel(box, panel["title"])
        if panel["type"] == "stat":
            _stat(frame.axes(box, (8, 28, 8, 8)), panel, series)
        else:
            columns = max(1, min(3, int(box[2] // 190)))
            rows = math.ceil(min(LEGEND_ENTRIES, len(series)) / columns)
            ax = frame.axes(box, (58, 30, 12, 24 + 13 * rows))
            _timeseries(ax, panel, series, start, end)
            frame.legend(ax, box, columns)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, facecolor=BACKGROUND)
    plt.close(fig)
    return drawn


class Frame:
    """Pixel coordinates (from the top left) on a matplotlib figure."""

    def __init__(self, fig: Figure, width_px: float, height_px: float) -> None:
        self.fig = fig
        self.w = width_px
        self.h = height_px

    def text(self, x: float, y: float, text: str, size: float = 10, **style: Any) -> None:
        self.fig.text(x / self.w, 1 - y / self.h, text, color=TEXT, fontsize=size,
                      va="center", **style)

    def panel(self, box: tuple[float, float, float, float], title: str) -> None:
        from matplotlib.patches import Rectangle

        x, y, w, h = box
        self.fig.patches.append(Rectangle(
            (x / self.w, 1 - (y + h) / self.h), w / self.w, h / self.h,
            transform=self.fig.transFigure, facecolor=PANEL, edgecolor=GRID, linewidth=0.8,
            zorder=-1))
        self.text(x + 10, y + 14, title, size=10, weight="bold")

    def axes(self, box: tuple[float, float, float, float],
             margins: tuple[float, float, float, float]) -> Axes:
        """Axes inside `box`, leaving (left, top, right, bottom) pixels free."""
        x, y, w, h = box
        left, top, right, bottom = margins
        ax = self.fig.add_axes((
            (x + left) / self.w, 1 - (y + h - bottom) / self.h,
            (w - left - right) / self.w, (h - top - bottom) / self.h,
        ), facecolor=PANEL)
        for spine in ax.spines.values():
            spine.set_visible(False)
        return ax

    def legend(self, ax: Axes, box: tuple[float, float, float, float], columns: int) -> None:
        """The first LEGEND_ENTRIES series (the largest), under the plot."""
        handles, names = ax.get_legend_handles_labels()
        if not handles:
            return
        x, y, _, h = box
        self.fig.legend(handles[:LEGEND_ENTRIES], names[:LEGEND_ENTRIES], loc="lower left",
                        frameon=False,
                        bbox_to_anchor=((x + 50) / self.w, 1 - (y + h - 2) / self.h),
                        ncol=columns, fontsize=7.5, labelcolor=TEXT, handlelength=1.2,
                        columnspacing=1.2, borderaxespad=0)


def _stat(ax: Axes, panel: dict[str, Any], series: list[tuple[str, list[tuple[float, float]]]]
          ) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    defaults = panel["fieldConfig"]["defaults"]
    points = [v for _, values in series for _, v in values if not math.isnan(v)]
    value = points[-1] if points else float("nan")
    text, color = fmt_value(value, defaults.get("unit", "")), COLORS[0]
    for step in defaults["thresholds"]["steps"]:
        if step["value"] is None or (not math.isnan(value) and value >= step["value"]):
            color = {"green": COLORS[0], "red": COLORS[4], "orange": COLORS[3]}.get(
                step["color"], step["color"])
    for mapping in defaults.get("mappings", []):
        shown = mapping["options"].get(text)
        if shown:
            text = shown["text"]
    if points:
        xs = range(len(points))
        ax.fill_between(xs, points, color=color, alpha=0.15, linewidth=0)
        ax.set_xlim(0, max(1, len(points) - 1))
        ax.set_ylim(0, max(points) * 1.4 or 1)
    ax.text(0.5, 0.45, text, color=color, fontsize=26, ha="center", va="center",
            weight="bold", transform=ax.transAxes)


def _timeseries(
    ax: Axes, panel: dict[str, Any],
    series: list[tuple[str, list[tuple[float, float]]]], start: float, end: float,
) -> None:
    import matplotlib.dates as mdates
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    unit = panel["fieldConfig"]["defaults"].get("unit", "")
    series = sorted(series, key=lambda s: -max((v for _, v in s[1] if not math.isnan(v)),
                                               default=0))
    for i, (name, values) in enumerate(series):
        xs = [t / DAY_S for t, _ in values]  # matplotlib's dates: days since 1970, UTC
        ys = [v for _, v in values]
        ax.plot(xs, ys, color=COLORS[i % len(COLORS)], linewidth=1.2, label=name)
        ax.fill_between(xs, ys, color=COLORS[i % len(COLORS)], alpha=0.06, linewidth=0)
    ax.set_xlim(start / DAY_S, end / DAY_S)
    ax.set_ylim(bottom=0)
    ax.grid(color=GRID, linewidth=0.5)
    ax.tick_params(colors=TEXT, labelsize=7.5, length=0)
    ax.yaxis.set_major_locator(MaxNLocator(5))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_value(v, unit)))
    ax.xaxis.set_major_locator(MaxNLocator(6))
    clock = "%H:%M" if end - start > 900 else "%H:%M:%S"
    ax.xaxis.set_major_formatter(mdates.DateFormatter(clock))  # type: ignore[no-untyped-call]
    if not series:
        ax.text(0.5, 0.5, "no data", color=TEXT, ha="center", va="center",
                transform=ax.transAxes)
