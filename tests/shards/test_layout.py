"""Shard names, job ids that name their shard, and the producer's routing: pure code."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from pydantic import ValidationError as SettingsError

from streamq import App, JobRequest, Settings
from streamq.keys import QueueKeys
from streamq.shards import Layout, id_shard, key_shard, shard_name, split, tag_id


def test_one_shard_keeps_the_queue_s_own_keys_and_ids() -> None:
    app = App(Settings())
    spec = app.build_spec(JobRequest("t", {}))
    assert spec.queue == "default"
    assert re.fullmatch(r"[0-9a-f]{32}", spec.job_id)
    assert QueueKeys("streamq", spec.queue).stream("normal") == "streamq:{default}:stream:normal"


def test_shard_names_and_ids_round_trip() -> None:
    assert shard_name("q", 0) == "q" and shard_name("q", 2) == "q#2"
    assert split("q#2") == ("q", 2) and split("q") == ("q", 0) and split("a:b#1") == ("a:b", 1)
    assert QueueKeys("streamq", shard_name("q", 2)).base == "streamq:{q#2}"
    assert tag_id("abc", 0) == "abc" and tag_id("abc", 3) == "abc.3"
    assert [id_shard(tag_id("0" * 32, k)) for k in range(5)] == [0, 1, 2, 3, 4]
    assert id_shard("no-mark") == 0 and id_shard("x.y") == 0


def test_round_robin_spreads_evenly_and_keys_stick() -> None:
    layout = Layout(3, {"solo": 1})
    counts = Counter(layout.shard_for("q", None) for _ in range(300))
    assert sorted(counts) == [0, 1, 2] and set(counts.values()) == {100}
    assert {layout.shard_for("solo", None) for _ in range(10)} == {0}
    assert {layout.shard_for("q", "customer-7") for _ in range(10)} == {key_shard("customer-7", 3)}
    assert layout.expand(["q", "solo"]) == ["q", "q#1", "q#2", "solo"]


def test_settings_take_a_default_and_per_queue_counts() -> None:
    s = Settings(shards=2, queue_shards="bulk=4, mail=1")  # type: ignore[arg-type]
    assert (s.layout.count("x"), s.layout.count("bulk"), s.layout.count("mail")) == (2, 4, 1)
    assert Settings(queue_shards='{"bulk": 3}').queue_shards == {"bulk": 3}  # type: ignore[arg-type]
    for bad in ({"shards": 0}, {"shards": 65}, {"queue_shards": "bulk=0"},
                {"queue_shards": "bad name=2"}, {"queue_shards": "bulk"}):
        with pytest.raises(SettingsError):
            Settings(**bad)


def test_producer_routing_by_key_type_and_idempotency() -> None:
    app = App(Settings(shards=4))

    @app.task("free")
    async def free() -> None: ...

    @app.task("limited", concurrency=2)
    async def limited() -> None: ...

    def shard(**kw: object) -> int:
        spec = app.build_spec(JobRequest(**kw))  # type: ignore[arg-type]
        name, k = split(spec.queue)
        assert name == "default" and id_shard(spec.job_id) == k
        return k

    assert len({shard(type="free") for _ in range(8)}) == 4  # round robin
    assert len({shard(type="free", partition_key="acct-1") for _ in range(8)}) == 1
    assert len({shard(type="free", idempotency_key="k-9") for _ in range(8)}) == 1
    assert len({shard(type="limited", partition_key=str(i)) for i in range(8)}) == 1
