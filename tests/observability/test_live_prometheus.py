"""Every expression of the dashboard and of the rules returns data from a real Prometheus.

Prometheus scrapes a live `streamq api` (through a proxy to Redis, so the test can cut the
API off and see 503s and the Redis gauge fall) and a live `streamq worker`, both on a
private Redis, every second, and evaluates the repository's rule files. Jobs succeed,
retry and fail for good. Then each panel query (with the template variables substituted
by the values their own queries return), each recording rule and each signal an alert
compares returns at least one series; every label an expression groups or matches by
exists, and every label a legend or an alert annotation prints is on the series.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from streamq.devredis import free_port
from tests.support import promql
from tests.support.procs import ApiProcess, WorkerProcess
from tests.support.prometheus import PrometheusError, PrometheusServer
from tests.support.proxy import Proxy

SHOP = "tests.observability.shop:app"
TASKS = {"orders.confirm", "mail.send", "reports.build"}
QUEUES = {"default", "emails"}


def post(url: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None


def submit_shop_jobs(api: ApiProcess) -> list[str]:
    """Successes on both queues and priorities, retries that succeed, failures for good."""
    jobs: list[dict[str, Any]] = [
        *({"type": "orders.confirm", "payload": {"ms": 5}, "priority": p}
          for p in ("high", "normal", "normal", "low") * 4),
        *({"type": "orders.confirm", "payload": {"fail_attempts": 1}} for _ in range(3)),
        *({"type": "mail.send", "payload": {"bounce": b}} for b in (False,) * 5 + (True,) * 2),
        *({"type": "reports.build", "payload": {"broken": b}} for b in (False, False, True)),
    ]
    status, body = post(f"{api.url}/jobs/batch", {"jobs": jobs})
    assert status == 202, body
    ids = [item["id"] for item in body["results"]]
    status, one = post(f"{api.url}/jobs", {"type": "orders.confirm", "payload": {}})
    assert status == 202, one
    return [*ids, one["id"]]


def wait_until_finished(api: ApiProcess, ids: list[str], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        pending = {i for i in pending
                   if get(f"{api.url}/jobs/{i}")[1]["status"] not in ("succeeded", "failed")}
        time.sleep(0.2)
    assert not pending, f"jobs not finished: {sorted(pending)}"


def cut_redis_off(api: ApiProcess, proxy: Proxy, prom: PrometheusServer) -> None:
    """The API loses Redis: submissions answer 503 and the Redis gauge reads 0; then back."""
    proxy.set_mode("reset")
    try:
        for _ in range(3):
            status, body = post(f"{api.url}/jobs", {"type": "orders.confirm", "payload": {}})
            assert status == 503, body
        prom.wait_for("streamq_queue_stats_up == 0", "a scrape saw Redis unreachable")
    finally:
        proxy.set_mode("pass")
    deadline = time.monotonic() + 10
    while get(f"{api.url}/readyz")[0] != 200:
        assert time.monotonic() < deadline, "the API did not get Redis back"
        time.sleep(0.1)


def variable_values(prom: PrometheusServer, board: dict[str, Any]) -> dict[str, list[str]]:
    """Each variable's values from its own label_values() query, in dashboard order."""
    values: dict[str, list[str]] = {}
    for variable in promql.variables(board):
        selector, label = promql.label_values_call(variable.query)
        values[variable.name] = prom.label_values(label, promql.substitute(selector, values))
    return values


def check_series(
    problems: list[str], what: str, prom: PrometheusServer, expr: str, labels: set[str]
) -> None:
    """`expr` returns data, and every series has `labels`."""
    try:
        result = prom.query(expr)
    except PrometheusError as exc:
        problems.append(f"{what}: {exc}")
        return
    if not result:
        problems.append(f"{what}: no data")
    lacking = [s["metric"] for s in result if not labels <= set(s["metric"])]
    if lacking:
        problems.append(f"{what}: {len(lacking)} series lack labels of {sorted(labels)}, "
                        f"e.g. {lacking[0]}")


def check_dashboard(prom: PrometheusServer, known_labels: set[str]) -> list[str]:
    board = promql.dashboard()
    values = variable_values(prom, board)
    problems = []
    if set(values.get("queue", [])) != QUEUES or set(values.get("task", [])) != TASKS:
        problems.append(f"template variables found {values}")
    for query in promql.panel_queries(board):
        what = f"panel {query.panel!r}: {query.expr}"
        unknown = promql.label_names(query.expr) - known_labels
        if unknown:
            problems.append(f"{what}: unknown labels {sorted(unknown)}")
        check_series(problems, what, prom, promql.substitute(query.expr, values),
                     promql.legend_labels(query.legend))
    return problems


def check_rules(prom: PrometheusServer, known_labels: set[str]) -> list[str]:
    problems = []
    for rule in promql.rules():
        what = f"{rule.kind} {rule.name}"
        unknown = promql.label_names(rule.expr) - known_labels
        if unknown:
            problems.append(f"{what}: unknown labels {sorted(unknown)}")
        for i, signal in enumerate(promql.signals(rule.expr)):
            # The first signal's labels are the alert's: its annotations print them.
            wanted = promql.annotation_labels(rule.annotations) if i == 0 else set()
            if "absent(" in rule.expr:
                wanted = set()
            check_series(problems, f"{what}: {signal}", prom, signal, wanted)
        if rule.kind == "record":
            check_series(problems, f"{what} as evaluated by Prometheus", prom, rule.name, set())
    for group in prom.api("rules")["groups"]:
        for rule in group["rules"]:
            if rule["health"] != "ok":
                problems.append(f"Prometheus evaluates {rule['name']}: {rule.get('lastError')}")
    return problems


def test_every_dashboard_and_rule_expression_returns_data(
    redis_url: str,
    apis: Callable[..., ApiProcess],
    workers: Callable[..., WorkerProcess],
    proxies: Callable[[int], Proxy],
    prometheus: Callable[..., PrometheusServer],
) -> None:
    proxy = proxies(urlparse(redis_url).port or 6379)
    api = apis(proxy.url, app_spec=SHOP, env={"STREAMQ_API_DEADLINE_S": "0.3"})
    metrics_port = free_port()
    workers(redis_url, app_spec=SHOP, concurrency=8,
            args=("--metrics-port", str(metrics_port)), env={"STREAMQ_RETRY_BASE_S": "0.05"})
    prom = prometheus(
        {"streamq-api": [urlparse(api.url).netloc],
         "streamq-worker": [f"127.0.0.1:{metrics_port}"]},
        promql.RULE_FILES,
    )
    prom.wait_for('sum(up{job=~"streamq-.*"}) == 2', "both targets are scraped")

    wait_until_finished(api, submit_shop_jobs(api))
    cut_redis_off(api, proxy, prom)
    # Everything the workers counted has been scraped, and the rules evaluated since.
    prom.wait_for("sum(streamq_jobs_dead_total) >= 3", "the dead letters are scraped")
    prom.wait_for('sum(streamq_http_requests_total{status="503"}) >= 3', "503s are scraped")
    prom.wait_for("streamq_queue_stats_up == 1", "the Redis gauge is back")
    time.sleep(2.5)  # two more rule evaluations

    known_labels = set(prom.api("labels"))
    problems = check_dashboard(prom, known_labels) + check_rules(prom, known_labels)
    assert problems == [], "\n".join(problems)
