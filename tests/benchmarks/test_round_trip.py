"""Smoke test of `benchmarks.round_trip`: every call is measured alone and pipelined, and
the enqueue call is the one `App.enqueue` makes (it writes a job)."""

from __future__ import annotations

from pathlib import Path

import redis

from benchmarks.round_trip import calls
from streamq.devredis import RedisServer
from tests.benchmarks.runner import run_benchmark


def test_every_call_is_measured_alone_and_pipelined(tmp_path: Path) -> None:
    stdout, written = run_benchmark("round_trip", tmp_path, "--repeats", "1", "--n", "50")
    results = written["results"]
    assert len(results) == 4
    for name, modes in results.items():
        assert set(modes) == {"alone", "pipelined"}, name
        assert all(m["median"] > 0 for m in modes.values()), name
        assert name in stdout


def test_the_enqueue_call_writes_a_queued_job() -> None:
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        try:
            enqueue = calls(client, server.url)["EVALSHA of streamq's enqueue script, one job"]
            reply = enqueue(client)
            assert isinstance(reply, list) and reply[0] == 1 and reply[2] == b"queued"
            assert client.xlen("streamq:{default}:stream:normal") == 1
        finally:
            client.close()
