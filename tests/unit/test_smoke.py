import anyio

from streamq import App
from streamq.worker import Node


async def test_enqueue_and_run(app: App) -> None:
    @app.task("add")
    async def add(a: int, b: int) -> int:
        return a + b

    job_id = await app.enqueue("add", {"a": 1, "b": 2})
    node = Node(app, concurrency=4)
    async with anyio.create_task_group() as tg:
        tg.start_soon(node.run)
        job = await app.wait_for(job_id, timeout_s=5)
        node.stop()
    assert job.status == "succeeded"
    assert job.result == 3
