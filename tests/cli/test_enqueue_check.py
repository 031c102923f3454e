"""`streamq enqueue` without `--app` refuses a type no live worker runs (unless
`--no-validate`), and routes a known type to the queue its workers declared."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from click.testing import CliRunner, Result

from streamq.cli import main
from tests.support.fixtures import workers
from tests.support.procs import WorkerProcess

__all__ = ["workers"]


def enqueue(redis_url: str, *args: str) -> Result:
    env = {"STREAMQ_REDIS_URL": redis_url, "STREAMQ_APP": None}
    return CliRunner().invoke(main, ["enqueue", *args], env=env)


def wait_for_worker(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as r:
        deadline = time.monotonic() + 15
        while not r.zcard("streamq:{default}:workers"):
            assert time.monotonic() < deadline, "the worker never registered"
            time.sleep(0.05)


def test_without_live_workers_a_type_cannot_be_checked(redis_url: str) -> None:
    result = enqueue(redis_url, "mail.send", "--payload", '{"to": "a@b.c"}')
    assert result.exit_code == 5
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert "no live worker on queue 'default' announces its tasks" in result.output
    assert "--app" in result.output and "--no-validate" in result.output
    with redis.Redis.from_url(redis_url) as r:
        assert r.keys("streamq:*:job:*") == []  # nothing stored
    unchecked = enqueue(redis_url, "mail.send", "--payload", '{"to": "a@b.c"}',
                        "--no-validate")
    assert unchecked.exit_code == 0, unchecked.output


def test_live_workers_announce_their_tasks_and_queues(
    redis_url: str, workers: Callable[..., WorkerProcess]
) -> None:
    workers(redis_url, app_spec="tests.cli.routed_tasks:app")
    wait_for_worker(redis_url)
    typo = enqueue(redis_url, "mail.sned", "--payload", '{"to": "a@b.c"}')
    assert typo.exit_code == 5
    assert ("unknown task type 'mail.sned': the live workers on queue 'default' run "
            "mail.send, math.double; did you mean 'mail.send'?") in typo.output
    sent = enqueue(redis_url, "mail.send", "--payload", '{"to": "a@b.c"}', "--json")
    assert sent.exit_code == 0, sent.output
    with redis.Redis.from_url(redis_url) as r:
        job_id = sent.output.split('"')[3]
        deadline = time.monotonic() + 10
        while r.hget(f"streamq:{{mail}}:job:{job_id}", "status") != b"succeeded":
            assert time.monotonic() < deadline, "the job never ran on queue mail"
            time.sleep(0.05)
