"""The archive on a Redis Cluster: queues on three primaries, each with its archive stream
on its own queue's slot, all archived by one node."""

from __future__ import annotations

from collections.abc import Callable

import anyio

from streamq import Settings
from streamq.history import HistoryArchive
from tests.cluster.conftest import cluster, settings_on, shared_cluster
from tests.cluster.tasks import QUEUES, make_app
from tests.history.checks import row_counts
from tests.support.nodes import running_node
from tests.support.topology import LocalCluster

__all__ = ["cluster", "settings_on", "shared_cluster"]


async def test_every_queue_of_a_cluster_is_archived(
    cluster: LocalCluster, settings_on: Callable[..., Settings], history_url: str,
    archive: HistoryArchive,
) -> None:
    app = make_app(settings_on(cluster.url, history_url=history_url))
    try:
        ids = [await app.enqueue(f"{q}.run", {"n": i, "fail": i == 0})
               for q in QUEUES for i in range(5)]
        async with running_node(app, concurrency=8):
            for job_id in ids:
                await app.wait_for(job_id, timeout_s=10)
            with anyio.fail_after(10):
                while len(await row_counts(history_url)) < len(ids):
                    await anyio.sleep(0.1)
            for queue in QUEUES:
                assert await app.store.archive_backlog(queue) is not None
        page = await app.history(status="failed", limit=10)
    finally:
        await app.close()
    assert set(await row_counts(history_url)) == {(j, 1) for j in ids}
    assert {j.queue for j in page.jobs} == set(QUEUES) and len(page.jobs) == 3
