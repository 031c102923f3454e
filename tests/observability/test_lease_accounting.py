"""`streamq_leases_lost_total` counts leases really lost, so that its alert means a frozen
or cut-off node: an outcome the completer writes while a renewal is on its way is not one.

The interleaving is made exact: the completer's store runs a heartbeat beat right after
the real `finish` script returns, before the completer resumes (the event loop may resume
the heartbeat first when both replies arrive together)."""

from __future__ import annotations

from typing import Any

from streamq import App
from streamq.job import Delivery, Outcome, OutcomeKind
from streamq.metrics import LEASES_LOST
from streamq.policy import PriorityOrder
from streamq.store import Store
from streamq.worker.completer import Completer
from streamq.worker.heartbeat import Heartbeat
from streamq.worker.state import NodeState, Slots

NODE = "node-a"


class BeatAfterFinish:
    """The real store, but the heartbeat beats between `finish` and its caller."""

    def __init__(self, store: Store, heartbeat: Heartbeat) -> None:
        self.store = store
        self.heartbeat = heartbeat
        self.lost: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def finish(self, batch: list[Outcome]) -> list[int]:
        codes = await self.store.finish(batch)
        self.lost.append(await self.heartbeat.beat_once())
        return codes


async def started_job(app: App, state: NodeState) -> Delivery:
    await app.enqueue("t.noop", {})
    store = app.store
    queue = app.settings.queue
    await store.ensure_groups(queue)
    fetched = await store.fetch(queue, PriorityOrder(None).next(), NODE, 4)
    [d] = await store.start(NODE, fetched.deliveries)
    state.hold(d)
    return d


async def test_an_outcome_written_during_a_renewal_is_not_a_lost_lease(app: App) -> None:
    @app.task("t.noop")
    async def noop() -> None: ...

    state = NodeState(name=NODE, slots=Slots(4), lease_s=2.0)
    heartbeat = Heartbeat(app.store, state, [app.settings.queue], 1.0)
    counter = LEASES_LOST.labels(app.settings.queue)
    before = counter._value.get()

    d = await started_job(app, state)
    store = BeatAfterFinish(app.store, heartbeat)
    completer = Completer(store, state, 10, 1.0)  # type: ignore[arg-type]
    await completer.persist([Outcome(d, OutcomeKind.SUCCEEDED, result=b"null")])
    assert store.lost == [0] and counter._value.get() == before
    assert state.held == {} and state.persisting == set()

    # Without the completer's mark, the same interleaving reads as a lost lease.
    d = await started_job(app, state)
    await app.store.finish([Outcome(d, OutcomeKind.SUCCEEDED, result=b"null")])
    assert await heartbeat.beat_once() == 1
