"""The Lua transition scripts, loaded once into a typed object.

Each `lua/<name>.lua` is one state change; `_lib.lua` is prepended to each, since Lua in
Redis has no include. A missing file fails at import, not at the first job.
"""

from __future__ import annotations

from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

_LUA = resources.files("streamq") / "lua"
SCRIPT_NAMES: tuple[str, ...] = ("enqueue", "fetch", "start", "finish", "promote", "reclaim",
                                 "renew", "cancel", "requeue", "progress",
                                 # job control (issue 3)
                                 "cron", "list_page", "trim", "admit", "release", "pause",
                                 "dlq_delete")


def script_source(name: str) -> str:
    """Full text of one script, helpers included."""
    return (_LUA / "_lib.lua").read_text() + "\n" + (_LUA / f"{name}.lua").read_text()


class Scripts:
    """Registered scripts of one Redis client; pipelines load missing ones before EXEC."""

    def __init__(self, redis: Redis) -> None:
        def load(name: str) -> AsyncScript:
            return redis.register_script(script_source(name))

        self.enqueue = load("enqueue")
        self.fetch = load("fetch")
        self.start = load("start")
        self.finish = load("finish")
        self.promote = load("promote")
        self.reclaim = load("reclaim")
        self.renew = load("renew")
        self.cancel = load("cancel")
        self.requeue = load("requeue")
        self.progress = load("progress")
        # job control (issue 3)
        self.cron = load("cron")
        self.list_page = load("list_page")
        self.trim = load("trim")
        self.admit = load("admit")
        self.release = load("release")
        self.pause = load("pause")
        self.dlq_delete = load("dlq_delete")
