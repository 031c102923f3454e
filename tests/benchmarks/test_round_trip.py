"""Smoke test of `benchmarks.round_trip`: every call is measured alone and pipelined, and
the enqueue call is the one `App.enqueue` makes (it writes a job)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import redis

from benchmarks.round_trip import calls
from streamq.devredis import RedisServer

REPO = Path(__file__).resolve().parents[2]


def test_every_call_is_measured_alone_and_pipelined(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.round_trip", "--repeats", "1", "--n", "50",
         "--out", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=100, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (written,) = tmp_path.glob("round-trip-*.json")
    results = json.loads(written.read_text())["results"]
    assert len(results) == 4
    for name, modes in results.items():
        assert set(modes) == {"alone", "pipelined"}, name
        assert all(m["median"] > 0 for m in modes.values()), name
        assert name in done.stdout


def test_the_enqueue_call_writes_a_queued_job() -> None:
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        try:
            enqueue = calls(client, server.url)["EVALSHA of streamq's enqueue script, one job"]
            reply = enqueue(client, 0)
            assert isinstance(reply, list) and reply[0] == 1 and reply[2] == b"queued"
            assert client.xlen("streamq:{default}:stream:normal") == 1
        finally:
            client.close()
