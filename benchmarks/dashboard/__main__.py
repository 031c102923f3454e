"""Run a small shop on streamq under Prometheus for a few minutes, then draw the Grafana
dashboard from what Prometheus recorded (services/grafana/dashboard.png in the README).

    python -m benchmarks.dashboard [--minutes 4] [--out services/grafana/dashboard.png]

Everything is private and stopped at the end: a redis-server, a proxy in front of it for
the API, `streamq api`, two `streamq worker` processes with /metrics, and a Prometheus
scraping them every second with the repository's rules. The load: a steady mix of the
shop's jobs (tests/observability/shop.py) through the HTTP API, some failing; a burst of
slow reports (a backlog that builds and drains); one worker frozen past its visibility
timeout (lost leases, stale outcomes); the API cut off from Redis for a few seconds (503s).
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from streamq.devredis import RedisServer, free_port
from tests.support import promql
from tests.support.procs import ApiProcess, WorkerProcess
from tests.support.prometheus import PrometheusServer
from tests.support.proxy import Proxy

from .render import render

SHOP = "tests.observability.shop:app"
REPO = Path(__file__).resolve().parents[2]


def post(url: str, body: Any) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def steady_mix(rng: random.Random) -> list[dict[str, Any]]:
    """About half a second of the shop's traffic."""
    jobs: list[dict[str, Any]] = []
    for _ in range(rng.randint(6, 12)):
        jobs.append({"type": "orders.confirm",
                     "payload": {"ms": rng.uniform(3, 60),
                                 "fail_attempts": 1 if rng.random() < 0.08 else 0},
                     "priority": rng.choice(["high", "normal", "normal", "normal"])})
    for _ in range(rng.randint(2, 5)):
        jobs.append({"type": "mail.send", "payload": {"ms": rng.uniform(10, 120),
                                                      "bounce": rng.random() < 0.04}})
    if rng.random() < 0.5:
        jobs.append({"type": "reports.build", "payload": {"ms": rng.uniform(50, 250),
                                                          "broken": rng.random() < 0.05},
                     "priority": "low"})
    return jobs


class Producer(threading.Thread):
    """Posts the steady mix through the API twice a second until stopped."""

    def __init__(self, api_url: str) -> None:
        super().__init__(daemon=True)
        self.api_url = api_url
        self.stopped = threading.Event()
        self.statuses: dict[int, int] = {}
        self.rng = random.Random(7)

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            jobs = steady_mix(self.rng)
            status = post(f"{self.api_url}/jobs/batch", {"jobs": jobs})
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if self.rng.random() < 0.3:  # some single submissions too
                post(f"{self.api_url}/jobs", jobs[0])


def burst(api_url: str, n: int) -> None:
    """A backlog: `n` slow low-priority reports at once."""
    jobs = [{"type": "reports.build", "payload": {"ms": 120}, "priority": "low"}
            for _ in range(n)]
    for i in range(0, n, 200):
        post(f"{api_url}/jobs/batch", {"jobs": jobs[i:i + 200]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--out", type=Path, default=REPO / "services/grafana/dashboard.png")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep logs and Prometheus's data here (default: a temp dir)")
    args = parser.parse_args()
    total_s = args.minutes * 60
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        run(args.workdir, total_s, args.out)
        return
    with tempfile.TemporaryDirectory(prefix="streamq-dashboard-") as tmp:
        run(Path(tmp), total_s, args.out)


def run(tmp: Path, total_s: float, out: Path) -> None:
    redis = RedisServer(data_dir=tmp / "redis", appendfsync="everysec")
    redis.data_dir.mkdir(parents=True)
    redis.start()
    stop: list[Any] = [redis]
    try:
        proxy = Proxy(redis.port).start()
        stop.append(proxy)
        api = ApiProcess(proxy.url, tmp / "api.log", app_spec=SHOP,
                         env={"STREAMQ_API_DEADLINE_S": "0.3"})
        stop.append(api)
        api.start()
        ports = [free_port(), free_port()]
        workers = [
            WorkerProcess(redis.url, app_spec=SHOP, concurrency=concurrency,
                          args=("--metrics-port", str(port)), log_path=tmp / f"worker-{i}.log",
                          env={"STREAMQ_RETRY_BASE_S": "0.2",
                               "STREAMQ_VISIBILITY_TIMEOUT_MS": "5000"})
            for i, (port, concurrency) in enumerate(zip(ports, (8, 4), strict=True))
        ]
        for worker in workers:
            stop.append(worker)
            worker.start()
        prom = PrometheusServer(
            tmp / "prometheus",
            {"streamq-api": [urlparse(api.url).netloc],
             "streamq-worker": [f"127.0.0.1:{p}" for p in ports]},
            promql.RULE_FILES,
        )
        stop.append(prom)
        prom.start()
        start = time.time()
        producer = Producer(api.url)
        producer.start()
        events: list[tuple[float, str, Callable[[], None]]] = [
            (0.30, "a burst of slow reports", lambda: burst(api.url, int(total_s * 10))),
            (0.60, "worker 1 frozen for 8 s while busy", lambda: freeze(api.url, workers[1], 8)),
            (0.80, "API cut off from Redis for 6 s", lambda: cut_off(proxy, 6)),
        ]
        for at, what, action in events:
            time.sleep(max(0.0, start + at * total_s - time.time()))
            print(f"{time.time() - start:6.0f} s  {what}", flush=True)
            action()
        time.sleep(max(0.0, start + total_s - time.time()))
        producer.stopped.set()
        producer.join()
        end = time.time()
        values = {"queue": ["default", "emails"],
                  "task": ["orders.confirm", "mail.send", "reports.build"]}
        drawn = render(prom, out, start, end, values)
        print(f"\n{'panel':<34} series")
        for title, count in drawn:
            print(f"{title:<34} {count:>6}")
        print(f"\nsubmissions by status: {producer.statuses}\n"
              f"time range: {start:.0f} to {end:.0f}\nwrote {out}")
    finally:
        for thing in reversed(stop):
            thing.stop()


def freeze(api_url: str, worker: WorkerProcess, seconds: float) -> None:
    """Long reports first, so that the frozen worker holds some when it stops."""
    jobs = [{"type": "reports.build", "payload": {"ms": 3000}, "priority": "high"}
            for _ in range(16)]
    post(f"{api_url}/jobs/batch", {"jobs": jobs})
    time.sleep(1.0)
    worker.signal(signal.SIGSTOP)
    time.sleep(seconds)
    worker.signal(signal.SIGCONT)


def cut_off(proxy: Proxy, seconds: float) -> None:
    proxy.set_mode("reset")
    time.sleep(seconds)
    proxy.set_mode("pass")


if __name__ == "__main__":
    main()
