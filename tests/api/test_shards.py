"""The HTTP API on a queue of three shards: a partition key keeps jobs on one shard,
lookups by id find every shard's jobs, listing and `GET /queues` cover them all."""

from __future__ import annotations

from streamq.shards import id_shard
from tests.api.conftest import StartApi


async def test_the_api_routes_and_reads_every_shard(start_api: StartApi) -> None:
    api = await start_api(shards=3)
    ids = []
    for n in range(6):
        resp = await api.post("/jobs", json={"type": "math.add", "payload": {"a": n, "b": 1}})
        assert resp.status == 202
        ids.append((await resp.json())["id"])
    assert {id_shard(j) for j in ids} == {0, 1, 2}
    keyed = []
    for n in range(4):
        resp = await api.post("/jobs", json={"type": "math.add", "payload": {"a": n, "b": 2},
                                             "partition_key": "account-9"})
        keyed.append((await resp.json())["id"])
    assert len({id_shard(j) for j in keyed}) == 1
    for job_id in ids + keyed:
        resp = await api.get(f"/jobs/{job_id}")
        body = await resp.json()
        assert (resp.status, body["shard"], body["queue"]) == (200, id_shard(job_id), "default")
    listed = await (await api.get("/jobs?limit=100")).json()
    assert sorted(j["id"] for j in listed["jobs"]) == sorted(ids + keyed)
    queues = await (await api.get("/queues")).json()
    [default] = [q for q in queues["queues"] if q["queue"] == "default"]
    assert (default["shards"], sum(p["length"] for p in default["priorities"])) == (3, 10)
