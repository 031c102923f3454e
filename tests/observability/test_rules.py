"""The Prometheus rules and the Grafana dashboard, checked without a running stack:
promtool's own checks and unit tests, and what every alert and panel must carry."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import yaml

from tests.support import promql

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
SEVERITIES = {"warning", "critical"}


def promtool(*args: str) -> str:
    result = subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60,
                            cwd=promql.PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_promtool_checks_the_rules_and_the_compose_config() -> None:
    out = promtool("check", "rules", *map(str, promql.RULE_FILES))
    assert out.count("SUCCESS") == len(promql.RULE_FILES)
    promtool("check", "config", "prometheus.yml")


def test_the_compose_config_loads_every_rule_file() -> None:
    config = yaml.safe_load((promql.PROMETHEUS_DIR / "prometheus.yml").read_text())
    assert sorted(config["rule_files"]) == sorted(p.name for p in promql.RULE_FILES)
    assert sorted(p.name for p in promql.PROMETHEUS_DIR.glob("*.rules.yml")) == sorted(
        p.name for p in promql.RULE_FILES)


def test_promtool_unit_tests_pass() -> None:
    assert "SUCCESS" in promtool("test", "rules", str(promql.RULE_TESTS))


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    cases = [check for test in yaml.safe_load(promql.RULE_TESTS.read_text())["tests"]
             for check in test["alert_rule_test"]]
    alerts = {r.name for r in promql.rules() if r.kind == "alert"}
    fires = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    assert alerts - fires == set(), "alerts never shown firing"
    assert alerts - quiet == set(), "alerts never shown quiet"
    assert {c["alertname"] for c in cases} <= alerts


def test_every_alert_has_a_severity_and_a_runbook() -> None:
    for group in yaml.safe_load(promql.RULE_FILES[1].read_text())["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
            notes = rule["annotations"]
            assert set(notes) == {"summary", "description", "runbook"}, rule["alert"]
            assert len(notes["runbook"].splitlines()) >= 3, rule["alert"]


def test_alerts_compare_signals_that_the_live_test_checks() -> None:
    """Every alert splits into signals (what tests/observability/test_live_prometheus.py
    queries): no threshold is mistaken for a signal, no signal is lost."""
    for rule in promql.rules():
        found = promql.signals(rule.expr)
        assert found and all(re.search(r"[a-z_]{3}", s) for s in found), (rule.name, found)
    assert promql.signals("a > 1 and on (q) b == 0 or absent(c{x=\"1>2\"})") == [
        "a", "b", "c{x=\"1>2\"}"]
    assert promql.signals("x / ignoring (s) group_left y > bool 0.5") == [
        "x / ignoring (s) group_left y"]


def _targets(panel: dict[str, Any]) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = panel.get("targets", [])
    return targets


def test_dashboard_panels_are_complete_and_laid_out() -> None:
    board = promql.dashboard()
    panels = promql.panels(board)
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    names = {v["name"] for v in board["templating"]["list"]}
    assert {"datasource", "queue", "task"} <= names
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        area = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel.get("description"), panel["title"]
        assert _targets(panel), panel["title"]
        for target in _targets(panel):
            used = set(re.findall(r"\$\{?(\w+)", target["expr"])) - {"__rate_interval"}
            assert used <= names, (panel["title"], used - names)


def test_dashboard_covers_what_an_operator_watches() -> None:
    exprs = " ".join(q.expr for q in promql.panel_queries(promql.dashboard()))
    for metric in (
        "streamq_jobs_processed_total", "streamq_jobs_failed_total", "streamq_jobs_retried_total",
        "streamq_jobs_dead_total", "streamq_job_queue_wait_seconds_bucket",
        "streamq_job_processing_duration_seconds_bucket", "streamq_queue_lag",
        "streamq_queue_oldest_age_seconds", "streamq_jobs_in_flight",
        "streamq_stale_outcomes_total", "streamq_leases_lost_total",
        "streamq_actor_restarts_total", "streamq_http_requests_total",
        "streamq_http_request_duration_seconds_bucket", "streamq_queue_workers",
        "streamq_queue_stats_up",
    ):
        assert metric in exprs, metric
