"""The console's own writes (run a delayed job now, forget a finished one) reach the
job's shard."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from streamq import App, JobNotFound, Settings
from streamq.shards import id_shard
from streamq.store.console import ConsoleStore


async def test_run_now_and_delete_reach_the_job_s_shard(
    settings_for: Callable[..., Settings],
) -> None:
    app = App(settings_for(shards=3))
    try:
        ids = [await app.enqueue("t", {}, delay=600) for _ in range(3)]
        console = ConsoleStore(app.store)
        for job_id in ids:
            job = await app.get_job(job_id)
            assert job.shard == id_shard(job_id)
            assert await console.run_now(job)
            assert (await app.get_job(job_id)).scheduled_at != job.scheduled_at
            cancelled = await app.cancel(job_id)
            assert await console.delete_finished(cancelled)
            with pytest.raises(JobNotFound):
                await app.get_job(job_id)
    finally:
        await app.close()
