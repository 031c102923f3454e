"""A worker's and an API's series exist at zero before anything happens: a counter born
at 1 hides its first increment from rate() and increase(), so the first dead letter would
raise no alert and panels would show no data instead of 0."""

from __future__ import annotations

from collections.abc import Callable

import anyio
from prometheus_client import generate_latest

from streamq import App, Settings
from streamq.api import create_app
from streamq.metrics import REGISTRY
from streamq.worker.node import Node
from streamq.worker.supervise import supervise
from tests.support.nodes import running_node


def exported() -> str:
    return generate_latest(REGISTRY).decode()


def make_app() -> App:
    app = App(Settings(redis_url="redis://127.0.0.1:1/0", queue="zq-default"))

    @app.task("zq.render", queue="zq-reports")
    async def render() -> None: ...

    @app.task("zq.other", queue="zq-elsewhere")
    async def other() -> None: ...

    return app


async def test_a_worker_node_declares_its_series_at_zero() -> None:
    Node(make_app(), queues=["zq-reports", "zq-default"])
    text = exported()
    for line in (
        'streamq_jobs_dead_total{queue="zq-reports",task="zq.render"} 0.0',
        'streamq_jobs_failed_total{queue="zq-reports",task="zq.render"} 0.0',
        'streamq_jobs_retried_total{queue="zq-reports",task="zq.render"} 0.0',
        'streamq_jobs_processed_total{outcome="retry",queue="zq-reports",task="zq.render"} 0.0',
        'streamq_job_processing_duration_seconds_count{queue="zq-reports",task="zq.render"} 0.0',
        'streamq_job_queue_wait_seconds_count{priority="low",queue="zq-default"} 0.0',
        'streamq_stale_outcomes_total{queue="zq-default"} 0.0',
        'streamq_leases_lost_total{queue="zq-default"} 0.0',
        'streamq_reclaimed_total{queue="zq-default",result="dead"} 0.0',
        'streamq_jobs_in_flight{queue="zq-reports"} 0.0',
    ):
        assert line in text, line
    assert 'task="zq.other"' not in text  # a queue this node does not serve


def test_the_api_declares_its_enqueue_counters_at_zero() -> None:
    create_app(make_app())
    assert 'streamq_jobs_enqueued_total{queue="zq-elsewhere",task="zq.other"} 0.0' in exported()


async def test_a_supervised_actor_has_a_restart_counter_at_zero() -> None:
    async def done() -> None:
        return None

    await supervise("zq-actor", done)
    assert 'streamq_actor_restarts_total{actor="zq-actor"} 0.0' in exported()


async def test_the_in_flight_gauge_counts_running_attempts_and_returns_to_zero(
    settings_for: Callable[..., Settings],
) -> None:
    app = App(settings_for(queue="zq-inflight"))
    release = anyio.Event()

    @app.task("zq.hold", queue="zq-inflight")
    async def hold() -> None:
        await release.wait()

    def in_flight() -> float | None:
        return REGISTRY.get_sample_value("streamq_jobs_in_flight", {"queue": "zq-inflight"})

    try:
        ids = [await app.enqueue("zq.hold") for _ in range(3)]
        async with running_node(app, queues=["zq-inflight"], concurrency=5):
            with anyio.fail_after(5):
                while in_flight() != 3:
                    await anyio.sleep(0.02)
            assert "streamq_jobs_in_flight{queue=\"zq-inflight\"} 3.0" in exported()
            release.set()
            for job_id in ids:
                assert (await app.wait_for(job_id, timeout_s=5)).status == "succeeded"
            assert in_flight() == 0
    finally:
        await app.close()
