"""History keeper: brings the archive's schema up to date when the node starts, then keeps
its partitions: the coming days' created ahead, those past the retention dropped. Every
node runs one; the database serialises them with advisory locks."""

from __future__ import annotations

import logging

import anyio

from ..errors import HistoryUnavailable
from ..history.archive import HistoryArchive
from ..history.health import ArchiveHealth

log = logging.getLogger("streamq.history")


class HistoryKeeper:
    def __init__(
        self, archive: HistoryArchive, health: ArchiveHealth, interval_s: float = 3600.0
    ) -> None:
        self.archive = archive
        self.health = health
        self.interval_s = interval_s

    async def run(self) -> None:
        delay = 0.5
        while True:
            if await self.keep_once():
                delay = 0.5
                await anyio.sleep(self.interval_s)
            else:
                await anyio.sleep(delay)
                delay = min(30.0, delay * 2)

    async def keep_once(self) -> bool:
        """One round: migrate (a no-op once current), create and drop partitions."""
        try:
            applied = await self.archive.migrate()
        except HistoryUnavailable as exc:
            self.health.failed(str(exc))
            log.warning("history: %s", exc)
            return False
        if applied:
            log.info("history: schema migrated to version %d", applied[-1])
        self.health.succeeded()
        return True
