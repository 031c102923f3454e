"""OpenTelemetry traces: an HTTP submission carrying a `traceparent` yields a PRODUCER
`send` span under it, and every attempt a CONSUMER `process` span linked to that producer
span, across a retry and across a SIGKILLed worker; with tracing off nothing of
OpenTelemetry is imported by streamq."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from redis.asyncio import Redis

from streamq import App, Settings
from streamq.api import create_app
from streamq.tracing import enable
from tests.observability.traced import SPANS_ENV, register
from tests.support.ledger import counts, read_ledger
from tests.support.nodes import running_node
from tests.support.procs import WorkerProcess

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
PARENT_ID = 0x00F067AA0BA902B7
TRACEPARENT = f"00-{TRACE_ID:032x}-{PARENT_ID:016x}-01"
Client = TestClient[Any, Any]


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    yield spans
    spans.shutdown()


@pytest.fixture
async def traced_app(
    settings_for: Callable[..., Settings], exporter: InMemorySpanExporter
) -> AsyncIterator[App]:
    """The test tasks with tracing on, exporting to memory (a provider of its own, not the
    process's global one)."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = register(App(settings_for(retry_base_s=0.01)))
    enable(app, provider)
    yield app
    await app.close()
    provider.shutdown()


@pytest.fixture
async def client(traced_app: App) -> AsyncIterator[Client]:
    test_client: Client = TestClient(TestServer(create_app(traced_app)))
    await test_client.start_server()
    yield test_client
    await test_client.close()


async def submit(client: Client, body: dict[str, Any], path: str = "/jobs") -> Any:
    response = await client.post(path, json=body, headers={"traceparent": TRACEPARENT})
    assert response.status in (200, 202), await response.text()
    return await response.json()


async def wait_for_status(app: App, job_id: str, status: str, timeout_s: float = 15) -> None:
    with anyio.fail_after(timeout_s):
        while (await app.get_job(job_id)).status != status:
            await anyio.sleep(0.05)


def spans_named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


def check_producer(span: ReadableSpan, job_id: str, task: str) -> None:
    assert span.kind is SpanKind.PRODUCER
    assert span.parent is not None and span.parent.span_id == PARENT_ID
    assert span.context is not None and span.context.trace_id == TRACE_ID
    assert dict(span.attributes or {}) == {
        "messaging.system": "streamq",
        "messaging.destination.name": "default",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.message.id": job_id,
        "streamq.task": task,
        "streamq.job.priority": "normal",
    }


def check_process(span: ReadableSpan, producer: ReadableSpan, attempt: int, run: int) -> None:
    assert span.kind is SpanKind.CONSUMER and span.parent is None
    assert producer.context is not None and span.context is not None
    assert span.context.trace_id != producer.context.trace_id  # a trace of its own...
    assert [(link.context.trace_id, link.context.span_id) for link in span.links] == [
        (producer.context.trace_id, producer.context.span_id)]  # ...linked to the producer
    attributes = dict(span.attributes or {})
    assert {k: v for k, v in attributes.items() if k.startswith("messaging.")} == {
        "messaging.system": "streamq",
        "messaging.destination.name": "default",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.message.id": dict(producer.attributes or {})["messaging.message.id"],
        "messaging.consumer.group.name": "workers",
        "messaging.client.id": attributes["messaging.client.id"],
    }
    assert (attributes["streamq.job.attempt"], attributes["streamq.job.run"]) == (attempt, run)


async def test_a_submission_and_its_attempts_across_a_retry(
    traced_app: App, client: Client, exporter: InMemorySpanExporter, redis_client: Redis
) -> None:
    job = await submit(client, {"type": "traced.flaky", "payload": {"failures": 1}})
    [producer] = spans_named(exporter, "send default")
    check_producer(producer, job["id"], "traced.flaky")
    stored = await redis_client.hget(f"streamq:{{default}}:job:{job['id']}", "trace")
    assert producer.context is not None
    assert stored == f"00-{TRACE_ID:032x}-{producer.context.span_id:016x}-01".encode()

    async with running_node(traced_app, concurrency=2):
        await wait_for_status(traced_app, job["id"], "succeeded")
    failed, succeeded = sorted(spans_named(exporter, "process default"),
                               key=lambda s: s.start_time or 0)
    check_process(failed, producer, attempt=1, run=1)
    assert failed.status.status_code is StatusCode.ERROR
    assert dict(failed.attributes or {})["error.type"] == "RuntimeError"
    assert dict(failed.attributes or {})["streamq.job.outcome"] == "retry"
    check_process(succeeded, producer, attempt=2, run=2)
    assert succeeded.status.status_code is StatusCode.UNSET
    assert "error.type" not in dict(succeeded.attributes or {})
    assert dict(succeeded.attributes or {})["streamq.job.outcome"] == "succeeded"


async def test_a_batch_gives_one_producer_span_per_job(
    client: Client, exporter: InMemorySpanExporter
) -> None:
    jobs = [{"type": "traced.flaky", "payload": {"failures": 0}, "idempotency_key": key}
            for key in ("a", "b")]
    first = await submit(client, {"jobs": jobs}, "/jobs/batch")
    exporter.clear()
    again = await submit(client, {"jobs": jobs}, "/jobs/batch")  # replays: nothing new
    assert [r["id"] for r in again["results"]] == [r["id"] for r in first["results"]]
    spans = spans_named(exporter, "send default")
    assert sorted(dict(s.attributes or {})["messaging.message.id"] for s in spans) == sorted(
        r["id"] for r in first["results"])
    for span in spans:
        assert span.parent is not None and span.parent.span_id == PARENT_ID
        assert dict(span.attributes or {})["streamq.job.duplicate"] is True


def read_span_file(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_a_worker_process_crash_mid_job_then_a_linked_rerun(
    traced_app: App, client: Client, exporter: InMemorySpanExporter, redis_url: str,
    workers: Callable[..., WorkerProcess], tmp_path: Path,
) -> None:
    """A `streamq worker` process (STREAMQ_OTEL=true, spans to a file) runs one job and is
    SIGKILLed in the middle of a second; a node of this process takes that one back after
    the visibility timeout: its attempt has a process span linked to the producer."""
    span_file, ledger = tmp_path / "spans.jsonl", tmp_path / "ledger.txt"
    worker = workers(redis_url, app_spec="tests.observability.traced:app", ledger=ledger,
                     env={"STREAMQ_OTEL": "true", SPANS_ENV: str(span_file)})
    quick = await submit(client, {"type": "traced.work", "payload": {"seconds": 0.01}})
    await wait_for_status(traced_app, quick["id"], "succeeded")
    doomed = await submit(client, {"type": "traced.work", "payload": {"seconds": 1.0}})
    with anyio.fail_after(15):
        while not counts(read_ledger(ledger), "start")[doomed["id"]]:
            await anyio.sleep(0.02)
    worker.kill()

    producers = {dict(s.attributes or {})["messaging.message.id"]: s
                 for s in spans_named(exporter, "send default")}
    exported = [s for s in read_span_file(span_file) if s["name"] == "process default"]
    assert [s["attributes"]["messaging.message.id"] for s in exported] == [quick["id"]]
    quick_producer = producers[quick["id"]].context
    assert quick_producer is not None
    assert [(link["context"]["trace_id"], link["context"]["span_id"])
            for link in exported[0]["links"]] == [
        (f"0x{quick_producer.trace_id:032x}", f"0x{quick_producer.span_id:016x}")]
    assert exported[0]["kind"] == "SpanKind.CONSUMER"

    started = time.monotonic()
    async with running_node(traced_app, concurrency=2):
        await wait_for_status(traced_app, doomed["id"], "succeeded")
    assert time.monotonic() - started < 10
    [rerun] = [s for s in spans_named(exporter, "process default")
               if dict(s.attributes or {})["messaging.message.id"] == doomed["id"]]
    # A crash spends no retry: the same attempt, a new run.
    check_process(rerun, producers[doomed["id"]], attempt=1, run=2)
    assert dict(rerun.attributes or {})["streamq.job.outcome"] == "succeeded"


def opentelemetry_modules(code: str) -> set[str]:
    """OpenTelemetry modules loaded by `code` in a fresh interpreter."""
    probe = (code + "\nimport sys\n"
             "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    return set(json.loads(out.strip().splitlines()[-1].replace("'", '"')))


def test_tracing_off_imports_no_opentelemetry() -> None:
    """redis-py itself imports parts of the OpenTelemetry SDK when it is installed; with
    tracing off, streamq (worker, API, enqueue path) adds none."""
    baseline = opentelemetry_modules("import redis.asyncio")
    off = opentelemetry_modules(
        "import anyio\nfrom streamq import App\nfrom streamq.api import create_app\n"
        "from streamq.worker.node import Node\nimport streamq.cli\n"
        "async def main() -> None:\n    app = App()\n    create_app(app)\n    Node(app)\n"
        "    assert app.tracing is None\nanyio.run(main)")
    assert off == baseline
    on = opentelemetry_modules("from streamq import App\napp = App(otel=True)\n"
                               "assert app.tracing is not None")
    assert "opentelemetry.propagate" in on - baseline


def test_enabling_without_opentelemetry_says_what_to_install() -> None:
    code = ("import sys\nsys.modules['opentelemetry'] = None\nfrom streamq import App\n"
            "from streamq.errors import ConfigurationError\n"
            "try:\n    App(otel=True)\nexcept ConfigurationError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert "pip install 'streamq[otel]'" in out


def test_a_stored_context_gives_a_link_and_a_malformed_one_none() -> None:
    from streamq.tracing.spans import _links

    [link] = _links(TRACEPARENT)
    assert (link.context.trace_id, link.context.span_id) == (TRACE_ID, PARENT_ID)
    assert link.context.is_remote and link.context.trace_flags.sampled
    for bad in ("", "garbage", "00-xyz-abc-01", f"00-{TRACE_ID:032x}-{0:016x}-01"):
        assert _links(bad) == [], bad
