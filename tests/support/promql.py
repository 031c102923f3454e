"""The PromQL the repository ships: the Grafana dashboard's panel queries and variables, and
the Prometheus rules; plus the little parsing needed to check each against real data.

An alert expression compares a signal with a threshold (`signal > 0.1`), and may join
several (`a > 1 and b > 500`). A healthy system makes the comparison false, so checking
that the whole alert returns data would prove nothing; checking that each signal returns
data proves that every metric name and label in it exists.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "services" / "grafana" / "dashboards" / "streamq.json"
PROMETHEUS_DIR = ROOT / "services" / "prometheus"
RULE_FILES = [PROMETHEUS_DIR / "recording.rules.yml", PROMETHEUS_DIR / "alerts.rules.yml"]
RULE_TESTS = PROMETHEUS_DIR / "tests" / "alerts.test.yml"

SET_OPERATORS = ("and", "or", "unless")
COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")
NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
# What may follow a binary operator before its right operand: `> bool`, `and on (queue)`,
# `/ ignoring (status) group_left (task)`.
MODIFIERS = re.compile(
    r"^(?:bool\s+)?(?:(?:on|ignoring)\s*\([^)]*\)\s*)?(?:group_(?:left|right)\s*(?:\([^)]*\))?\s*)?"
)
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
MATCHER = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)\s*[\"'`]")
LEGEND_LABEL = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")
ANNOTATION_LABEL = re.compile(r"\$labels\.([A-Za-z_]\w*)")


@dataclass(frozen=True)
class PanelQuery:
    panel: str
    expr: str
    legend: str


@dataclass(frozen=True)
class Variable:
    name: str
    query: str


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str  # "record" or "alert"
    expr: str
    annotations: dict[str, str]


def dashboard(path: Path = DASHBOARD) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included, rows themselves excluded."""
    found: list[dict[str, Any]] = []
    for panel in board["panels"]:
        if panel["type"] == "row":
            found += panel.get("panels", [])
        else:
            found.append(panel)
    return found


def panel_queries(board: dict[str, Any]) -> list[PanelQuery]:
    return [
        PanelQuery(panel["title"], target["expr"], target.get("legendFormat", ""))
        for panel in panels(board)
        for target in panel.get("targets", [])
    ]


def variables(board: dict[str, Any]) -> list[Variable]:
    """The query variables (`label_values(...)`), in their order on the dashboard."""
    return [
        Variable(v["name"], v["query"]["query"] if isinstance(v["query"], dict) else v["query"])
        for v in board["templating"]["list"]
        if v["type"] == "query"
    ]


def substitute(expr: str, values: dict[str, list[str]], rate_interval: str = "1m") -> str:
    """Grafana's substitution: a multi-value variable inside a regex matcher becomes
    `(a|b)`; `$__rate_interval` becomes `rate_interval`."""
    expr = expr.replace("$__rate_interval", rate_interval)
    for name, chosen in sorted(values.items(), key=lambda item: -len(item[0])):
        text = chosen[0] if len(chosen) == 1 else "(" + "|".join(chosen) + ")"
        expr = expr.replace("${" + name + "}", text).replace("$" + name, text)
    return expr


def label_values_call(query: str) -> tuple[str, str]:
    """`label_values(metric{sel}, label)` -> (`metric{sel}`, `label`)."""
    match = re.fullmatch(r"\s*label_values\((.*),\s*([A-Za-z_]\w*)\s*\)\s*", query)
    if match is None:
        raise ValueError(f"not a label_values() query: {query}")
    return match.group(1), match.group(2)


def rules(paths: list[Path] = RULE_FILES) -> list[Rule]:
    found = []
    for path in paths:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                kind = "alert" if "alert" in rule else "record"
                found.append(Rule(rule[kind], kind, rule["expr"], rule.get("annotations", {})))
    return found


# -- parsing ----------------------------------------------------------------------------------


def _top_level(expr: str) -> list[tuple[int, str]]:
    """(index, character) of the characters outside brackets and string literals."""
    found = []
    depth = 0
    quote = ""
    i = 0
    while i < len(expr):
        c = expr[i]
        if quote:
            if c == "\\" and quote != "`":
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0:
            found.append((i, c))
        i += 1
    return found


def _split_words(expr: str, words: tuple[str, ...]) -> list[str]:
    """Split at the top-level occurrences of the operator words."""
    positions = {i for i, _ in _top_level(expr)}
    parts, start = [], 0
    for match in re.finditer(r"\b(" + "|".join(words) + r")\b", expr):
        if all(k in positions for k in range(match.start(), match.end())):
            parts.append(expr[start:match.start()])
            start = match.end()
    parts.append(expr[start:])
    return [p.strip() for p in parts]


def _split_comparison(expr: str) -> tuple[str, str | None]:
    outside = dict(_top_level(expr))
    for i in sorted(outside):
        for op in COMPARISONS:
            if expr.startswith(op, i) and all(k in outside for k in range(i, i + len(op))):
                return expr[:i].strip(), expr[i + len(op):].strip()
    return expr.strip(), None


def _unwrap_absent(expr: str) -> str:
    match = re.fullmatch(r"absent(?:_over_time)?\((.*)\)", expr.strip(), re.S)
    if match is None:
        return expr
    inner = match.group(1).strip()
    return re.sub(r"\[[^\]]*\]$", "", inner)  # absent_over_time(x[5m]) -> x


def signals(expr: str) -> list[str]:
    """What an expression compares, without its thresholds: `a > 1 and b > 500` gives
    `a` and `b`; `absent(x)` gives `x`; an expression with no comparison gives itself."""
    found = []
    for part in _split_words(" ".join(expr.split()), SET_OPERATORS):
        left, right = _split_comparison(part)
        for side in (left, right):
            side = None if side is None else MODIFIERS.sub("", side)
            if side and not NUMBER.match(side):
                found.append(_unwrap_absent(side))
    return found


def label_names(expr: str) -> set[str]:
    """Label names an expression names: in matchers and in grouping clauses."""
    names = set()
    for match in GROUPING.finditer(expr):
        names |= {n.strip() for n in match.group(1).split(",") if n.strip()}
    for block in re.findall(r"\{([^{}]*)\}", expr):
        names |= set(MATCHER.findall(block))
    return names


def legend_labels(legend: str) -> set[str]:
    return set(LEGEND_LABEL.findall(legend))


def annotation_labels(annotations: dict[str, str]) -> set[str]:
    return {name for text in annotations.values() for name in ANNOTATION_LABEL.findall(text)}
