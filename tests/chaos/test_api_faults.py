"""Scenarios 8, 10 and 11: the HTTP API as its own process, under Redis out of memory, under
malformed and mutated requests, and without (or with the wrong) credentials."""

from __future__ import annotations

import io
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from redis.asyncio import Redis

from streamq.devredis import RedisServer
from streamq.keys import QueueKeys
from tests.support.checker import FaultLog, check_run
from tests.support.ledger import read_ledger
from tests.support.observe import rss_bytes, wait_terminal
from tests.support.procs import ApiProcess, WorkerProcess
from tests.support.producer import JOB, ApiProducer
from tests.support.redis_state import key_names, snapshot
from tests.support.report import Size, record, sizes

pytestmark = pytest.mark.chaos

K = QueueKeys("streamq", "default")
@pytest.mark.parametrize(
    "size", sizes(ci={"before_s": 2, "oom_s": 3, "after_s": 2, "rate": 50},
                  soak={"before_s": 10, "oom_s": 30, "after_s": 10, "rate": 200})
)
async def test_out_of_memory_is_503_or_429_with_retry_after_and_half_writes_nothing(
    size: Size,
    redis_servers: Callable[..., RedisServer],
    workers: Callable[..., WorkerProcess],
    apis: Callable[..., ApiProcess],
    ledger_path: Path,
    faults: FaultLog,
) -> None:
    server = redis_servers("everysec")
    worker = workers(server.url, concurrency=10)
    api = apis(server.url)
    via_api = ApiProducer()
    async with Redis.from_url(server.url) as redis, aiohttp.ClientSession() as http:
        await via_api.run(http, api, size["before_s"], size["rate"])
        used = int((await redis.info("memory"))["used_memory"])
        await redis.config_set("maxmemory", used + 64 * 1024)  # full within a few jobs
        oom_began = time.time()
        await via_api.run(http, api, size["oom_s"], size["rate"])
        during = via_api.log.statuses()
        await redis.config_set("maxmemory", 0)
        freed = time.time()
        # Renewals are writes too: past the visibility timeout, leases really expire.
        faults.add("out-of-memory", began=oom_began, ended=freed, reach_s=5)
        await via_api.run(http, api, size["after_s"], size["rate"])
        await wait_terminal(redis, via_api.log.accepted, 30)
        ledger = read_ledger(ledger_path)
        report = await check_run(redis, via_api.log, ledger, faults)
        job_keys = await key_names(redis, K.job("*"))
        indexed = await redis.zcard(K.index_all)

    answers = via_api.log.submissions
    refused = [(x.status, x.retry_after) for x in answers if oom_began <= x.at and x.status != 202]
    resumed = [x.at - freed for x in answers if x.at >= freed and x.status == 202]
    started = {x.job_id for x in ledger if x.event == "start"}
    figures = {
        **report.summary(),
        "answers": dict(via_api.log.statuses()),
        "answers_during_oom": dict(during),
        "refused_without_retry_after": sum(1 for _, ra in refused if not ra),
        "job_records": len(job_keys),
        "api_resumed_after_s": round(min(resumed), 3) if resumed else None,
        "worker_alive": worker.alive(),
    }
    record("8-out-of-memory", size, figures)
    answered = via_api.log.statuses()
    assert set(answered) <= {202, 503, 429}, f"only 202, 503 or 429: {figures}"
    assert answered[503] + answered[429] > 0, f"OOM never reached: {figures}"
    assert all(ra for _, ra in refused), f"every refusal carries Retry-After: {figures}"
    # No half-written job: records, the listing index and the jobs that ran are exactly the
    # accepted ones (a refused submission left neither a record nor a stream entry).
    assert len(job_keys) == indexed == len(via_api.log.accepted), figures
    assert started <= set(via_api.log.accepted), figures
    report.assert_clean()
    assert resumed and min(resumed) <= 1.0, figures
    assert worker.alive(), figures


# -- scenario 10: bad input ---------------------------------------------------------------------

JSON_CT = {"Content-Type": "application/json"}
WORK = b'{"type": "ledger.work", "payload": {"seconds": 0.01}}'


def _nested(levels: int) -> bytes:
    return b'{"type": "ledger.work", "payload": {"seconds": ' + b"[" * levels + b"]" * levels \
        + b"}}"


MALFORMED: list[tuple[str, bytes, dict[str, str], int]] = [
    ("bad json", b'{"type": "ledger.work", ', JSON_CT, 400),
    ("nan", b'{"type": "ledger.work", "payload": {"seconds": NaN}}', JSON_CT, 400),
    ("infinity", b'{"type": "ledger.work", "payload": {"seconds": -Infinity}}', JSON_CT, 400),
    ("deep nesting", _nested(5000), JSON_CT, 400),
    ("invalid utf-8", b'{"type": "ledger.\xff\xfe", "payload": {}}', JSON_CT, 400),
    ("lone surrogate", b'{"type": "ledger.work", "payload": {"s": "\\ud800"}}', JSON_CT, 400),
    ("wrong content type", WORK, {"Content-Type": "text/plain"}, 415),
    ("no content type", WORK, {}, 415),
    ("body not an object", b'["ledger.work"]', JSON_CT, 422),
    ("type not a string", b'{"type": 7}', JSON_CT, 422),
    ("payload not an object", b'{"type": "ledger.work", "payload": [1]}', JSON_CT, 422),
    ("payload field type", b'{"type": "ledger.work", "payload": {"seconds": "x"}}', JSON_CT,
     422),
    ("retries a string", b'{"type": "ledger.work", "payload": {"seconds": 0},'
     b' "max_retries": "3"}', JSON_CT, 422),
    ("unknown task", b'{"type": "no.such.task", "payload": {}}', JSON_CT, 422),
    ("oversized payload", b'{"type": "ledger.note", "payload": {"text": "'
     + b"x" * 300_000 + b'"}}', JSON_CT, 413),
    ("oversized body", b'{"type": "ledger.work", "pad": "' + b"x" * (5 * 1024 * 1024) + b'"}',
     JSON_CT, 413),
    ("empty idempotency key", b'{"type": "ledger.work", "payload": {"seconds": 0},'
     b' "idempotency_key": ""}', JSON_CT, 422),
    ("long idempotency key header", WORK, {**JSON_CT, "Idempotency-Key": "k" * 300}, 422),
    ("key header and body differ", b'{"type": "ledger.work", "payload": {"seconds": 0},'
     b' "idempotency_key": "a"}', {**JSON_CT, "Idempotency-Key": "b"}, 422),
]


def _mutate(rng: random.Random, body: bytes) -> bytes:
    data = bytearray(body)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        at = rng.randrange(len(data) + 1)
        if op == 0 and data:  # flip a byte
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif op == 1:  # truncate
            del data[at:]
        elif op == 2:  # insert noise
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 3:  # insert JSON-ish tokens
            data[at:at] = rng.choice([b"NaN", b"[", b"{", b'"', b"\\u0000", b"1e999", b",",
                                      b"null", b"-0", b"\xed\xa0\x80", b"}" * 50])
        elif op == 4 and data:  # duplicate a span
            end = min(len(data), at + rng.randint(1, 64))
            data[at:at] = data[at:end] * rng.randint(1, 50)
        else:  # swap a value for another type
            data = bytearray(bytes(data).replace(b"0.01", rng.choice(
                [b'"0.01"', b"[]", b"{}", b"true", b"1e400", b"-1"]), 1))
    return bytes(data)


SEEDS = [  # refused as they are: an unknown task, a bad payload, bad fields
    b'{"type": "no.such.task", "payload": {"seconds": 0.01}}',
    b'{"type": "ledger.work", "payload": {"seconds": "0.01"}}',
    b'{"type": "ledger.work", "payload": {"seconds": 0.01}, "priority": "urgent"}',
    b'{"type": "ledger.work", "payload": {"seconds": 0.01}, "delay": -1}',
    b'{"type": "ledger.work", "payload": {"seconds": 0.01}, "colour": "red"}',
]


@pytest.mark.parametrize("size", sizes(ci={"fuzz": 2000}, soak={"fuzz": 10_000}))
async def test_malformed_requests_are_4xx_and_change_nothing_in_redis(
    size: Size,
    redis_servers: Callable[..., RedisServer],
    apis: Callable[..., ApiProcess],
) -> None:
    server = redis_servers("everysec")
    api = apis(server.url)
    rng = random.Random(10)
    wrong: list[tuple[str, int]] = []
    fuzz = Counter[int]()
    async with Redis.from_url(server.url) as redis, aiohttp.ClientSession() as http:
        async with http.post(f"{api.url}/jobs", data=WORK, headers=JSON_CT) as resp:
            assert resp.status == 202  # one job: a queue that exists, streams that exist
        before = await snapshot(redis)
        for name, body, headers, status in MALFORMED:
            async with http.post(f"{api.url}/jobs", data=io.BytesIO(body),
                                 headers=headers) as resp:
                await resp.read()
                if resp.status != status:
                    wrong.append((name, resp.status))
        after_table = await snapshot(redis)
        rss_before = rss_bytes(api.pid)
        sem = anyio.Semaphore(16)

        async def send(body: bytes, headers: dict[str, str]) -> None:
            async with sem:
                try:
                    async with http.post(f"{api.url}/jobs", data=body, headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=10)) as resp:
                        await resp.read()
                        fuzz[resp.status] += 1
                except aiohttp.ClientError:
                    fuzz[-1] += 1  # the server closed the connection: not an answer

        async with anyio.create_task_group() as tg:
            for _ in range(size["fuzz"]):
                headers = dict(JSON_CT)
                if rng.random() < 0.1:
                    headers["Content-Type"] = rng.choice(
                        ["application/json; charset=latin-1", "application/x+json", "text/json",
                         "application/jsonx", ""])
                if rng.random() < 0.1:
                    headers["Idempotency-Key"] = rng.choice(["", " ", "k" * 257, "ü", "a\tb"])
                await sem.acquire()
                sem.release()
                tg.start_soon(send, _mutate(rng, rng.choice(SEEDS)), headers)
        rss_after = rss_bytes(api.pid)
        after_fuzz = await snapshot(redis)
        created = len(after_fuzz) - len(before)
    accepted = sum(n for status, n in fuzz.items() if 200 <= status < 300)
    figures = {
        "malformed_cases": len(MALFORMED),
        "wrong_status": wrong,
        "redis_unchanged_by_table": after_table == before,
        "fuzz_requests": sum(fuzz.values()),
        "fuzz_answers": dict(fuzz),
        "fuzz_5xx": sum(n for status, n in fuzz.items() if status >= 500),
        "fuzz_accepted": accepted,
        "keys_created": created,
        "api_rss_growth_mb": round((rss_after - rss_before) / 1024 / 1024, 1),
    }
    record("10-bad-input", size, figures)
    assert not wrong, figures
    assert after_table == before, "a refused request changed Redis"
    assert figures["fuzz_5xx"] == 0 and fuzz[-1] == 0, figures
    if accepted == 0:
        assert after_fuzz == before, figures
    assert created <= 4 * accepted, figures  # record + idempotency key + indices per job
    assert rss_after - rss_before < 20 * 1024 * 1024, figures


# -- scenario 11: authentication --------------------------------------------------------------

SUBMIT_TOKEN = "submit-5b1f0c3e9d7a4e21"
ADMIN_TOKEN = "admin-c41d9e7a0b2f4c88"
WRONG_TOKEN = "wrong-8e2a61d4f0c93b57"


async def _unread_upload(api: ApiProcess, body_bytes: int, sent_bytes: int) -> tuple[int, bool]:
    """POST a body of `body_bytes` but send only `sent_bytes` of it: returns the status of
    the answer, and whether it came before the rest of the body was sent."""
    stream = await anyio.connect_tcp("127.0.0.1", api.port)
    async with stream:
        head = (f"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {body_bytes}\r\n\r\n").encode()
        await stream.send(head + b"{" + b" " * (sent_bytes - 1))
        reply = b""
        with anyio.move_on_after(5):
            while b"\r\n\r\n" not in reply:
                reply += await stream.receive()
        if not reply:
            return 0, False
        return int(reply.split(b" ", 2)[1]), True


@pytest.mark.parametrize("size", sizes(ci={"requests": 200}, soak={"requests": 2000}))
async def test_auth_refuses_before_reading_and_never_logs_a_token(
    size: Size,
    redis_servers: Callable[..., RedisServer],
    apis: Callable[..., ApiProcess],
    tmp_path: Path,
) -> None:
    server = redis_servers("everysec")
    api = apis(server.url, env={"STREAMQ_API_SUBMIT_TOKEN": SUBMIT_TOKEN,
                                "STREAMQ_API_ADMIN_TOKEN": ADMIN_TOKEN,
                                "STREAMQ_LOG_LEVEL": "debug"})
    bearer = {"submit": {"Authorization": f"Bearer {SUBMIT_TOKEN}"},
              "admin": {"Authorization": f"Bearer {ADMIN_TOKEN}"},
              "wrong": {"Authorization": f"Bearer {WRONG_TOKEN}"},
              "basic": {"Authorization": f"Basic {SUBMIT_TOKEN}"}}
    seen: dict[str, tuple[int, str | None]] = {}
    async with aiohttp.ClientSession() as http:

        async def ask(name: str, method: str, path: str, headers: dict[str, str] | None = None,
                      body: dict[str, Any] | None = None) -> int:
            async with http.request(method, f"{api.url}{path}", headers=headers,
                                    json=body) as resp:
                await resp.read()
                seen[name] = (resp.status, resp.headers.get("WWW-Authenticate"))
                return resp.status

        for i in range(size["requests"] // 10):
            await ask("no token", "POST", "/jobs", body=JOB)
            await ask("wrong token", "POST", "/jobs", bearer["wrong"], JOB)
            await ask("basic scheme", "POST", "/jobs", bearer["basic"], JOB)
            await ask("token in query", "POST", f"/jobs?access_token={SUBMIT_TOKEN}"
                      f"&token={ADMIN_TOKEN}", body=JOB)
            await ask("submit token on admin route", "GET", "/jobs", bearer["submit"])
            await ask("submit token on dlq", "GET", "/dlq", bearer["submit"])
            await ask("submit token submits", "POST", "/jobs", bearer["submit"], JOB)
            await ask("admin token lists", "GET", "/jobs", bearer["admin"])
            await ask("probe open", "GET", "/readyz")
            await ask("no token on admin route", "DELETE", f"/jobs/x{i}")
        rss_before = rss_bytes(api.pid)
        status, early = await _unread_upload(api, 10 * 1024 * 1024, 64 * 1024)
        rss_after = rss_bytes(api.pid)
        server.kill()  # errors get logged: with the request, never with its token
        await ask("redis down", "POST", f"/jobs?token={SUBMIT_TOKEN}", bearer["submit"], JOB)
        await ask("redis down, wrong token", "GET", f"/jobs/x?t={WRONG_TOKEN}", bearer["wrong"])
    log = api.log_path.read_text(errors="replace")
    leaked = [t for t in (SUBMIT_TOKEN, ADMIN_TOKEN, WRONG_TOKEN) if t in log]
    figures = {
        "requests": size["requests"],
        "answers": {name: s for name, (s, _) in seen.items()},
        "unauthenticated_10mb_body": status,
        "answered_before_body_read": early,
        "api_rss_growth_during_upload_mb": round((rss_after - rss_before) / 1024 / 1024, 2),
        "log_lines": log.count("\n"),
        "tokens_in_log": len(leaked),
    }
    record("11-auth", size, figures)
    for name in ("no token", "wrong token", "basic scheme", "token in query",
                 "no token on admin route"):
        assert seen[name] == (401, 'Bearer realm="streamq"'), (name, figures)
    assert seen["submit token on admin route"][0] == 403, figures
    assert seen["submit token on dlq"][0] == 403, figures
    assert seen["submit token submits"][0] == 202, figures
    assert seen["admin token lists"][0] == 200 and seen["probe open"][0] == 200, figures
    assert (status, early) == (401, True), figures
    assert rss_after - rss_before < 5 * 1024 * 1024, figures
    assert seen["redis down"][0] == 503 and seen["redis down, wrong token"][0] == 401, figures
    assert "POST /jobs" in log, "the outage is logged (and so could leak a token)"
    assert not leaked, figures


# -- found by scenario 7 (200 ms latency, soak size): a 503 for a job already written -----


async def test_a_submission_written_but_not_read_back_in_time_is_202_not_503(
    redis_url: str, redis_client: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under 200 ms of latency, POST /jobs wrote the job, then timed out reading it back
    and answered 503: a client that retries (as 503 with Retry-After invites) submitted
    it twice. The answer is now 202, built from what was written."""
    from aiohttp.test_utils import TestClient, TestServer

    from streamq import App, Settings
    from streamq.api import create_app
    from tests.support.tasks import app as tasks_app

    app = App(Settings(redis_url=redis_url, api_deadline_s=0.5))
    app.registry.tasks = tasks_app.tasks

    async def slow_get_job(job_id: str) -> Any:
        await anyio.sleep(5)

    monkeypatch.setattr(app, "get_job", slow_get_job)
    http = TestClient(TestServer(create_app(app)))
    await http.start_server()
    try:
        resp = await http.post("/jobs", json=JOB)
        body = await resp.json()
    finally:
        await http.close()
        await app.close()
    assert resp.status == 202, body
    assert resp.headers["Location"] == f"/jobs/{body['id']}"
    assert (body["status"], body["type"]) == ("queued", "ledger.work")
    assert await redis_client.hget(K.job(body["id"]), "status") == b"queued"
