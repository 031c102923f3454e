"""A small TCP proxy between streamq processes and Redis, switched while traffic flows.

Modes, applied to every byte as it arrives:
- `pass`: forward at once;
- `delay`: forward each chunk `delay_s` later, in order (added latency, not less bandwidth);
- `blackhole`: accept and hold everything, forward nothing, close nothing: a half-open
  link. Going back to `pass` delivers what was held on the connections still open, as TCP
  retransmission would after a short partition; clients that gave up have closed theirs;
- `reset`: close every connection with RST, and reset new ones at once.

The proxy runs its own event loop in a thread, so a test that blocks its own loop (waiting
for a process, say) does not stall the traffic.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from streamq.devredis import free_port

MODES = ("pass", "delay", "blackhole", "reset")


class _Link:
    """One client connection and its upstream connection."""

    def __init__(self, proxy: Proxy, client: asyncio.StreamWriter) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.tasks: list[asyncio.Task[None]] = []

    def reset(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is None:
                continue
            sock = writer.get_extra_info("socket")
            if sock is not None:  # SO_LINGER 0: close() sends RST, not FIN
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
            writer.transport.abort()
        for task in self.tasks:
            task.cancel()


class Proxy:
    """`Proxy(upstream_port).start()`; point clients at `proxy.url`; switch with `set_mode`."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.mode = "pass"
        self.delay_s = 0.0
        self.links: set[_Link] = set()
        self.resets = 0
        self.connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._changed: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    # -- control, from any thread -------------------------------------------------------------

    def start(self) -> Proxy:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._listen())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name=f"proxy:{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(5):
            raise RuntimeError("proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        self._call(self._close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(5)
        self._loop = None

    def set_mode(self, mode: str, delay_s: float = 0.0) -> None:
        """Switch every connection, current and future, to `mode` now."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; use one of {MODES}")
        self._call(lambda: self._switch(mode, delay_s))

    def reset_all(self) -> int:
        """RST every open connection once (new ones pass); returns how many were reset."""
        return int(self._call(self._reset_all))

    def _call(self, fn: Callable[[], Any]) -> Any:
        assert self._loop is not None
        done: Future[Any] = Future()

        def run() -> None:
            try:
                done.set_result(fn())
            except BaseException as exc:  # handed to the caller's thread
                done.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return done.result(5)

    # -- inside the proxy's loop --------------------------------------------------------------

    async def _listen(self) -> None:
        self._changed = asyncio.Event()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self.links):
            link.reset()
        self.links.clear()

    def _switch(self, mode: str, delay_s: float) -> None:
        self.mode, self.delay_s = mode, delay_s
        if mode == "reset":
            self._reset_all()
        assert self._changed is not None
        self._changed.set()  # wake the pumps that hold data
        self._changed = asyncio.Event()

    def _reset_all(self) -> int:
        links = list(self.links)
        for link in links:
            link.reset()
        self.links.clear()
        self.resets += len(links)
        return len(links)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(self, writer)
        self.connections += 1
        if self.mode == "reset":
            link.reset()
            self.resets += 1
            return
        self.links.add(link)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            link.reset()
            self.links.discard(link)
            return
        link.upstream = up_writer
        link.tasks = [
            asyncio.ensure_future(self._pump(reader, up_writer, link)),
            asyncio.ensure_future(self._pump(up_reader, writer, link)),
        ]

    async def _pump(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, link: _Link
    ) -> None:
        """Copy one direction, honouring the mode at the time each chunk is sent."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.ensure_future(self._send(queue, dst))
        try:
            while True:
                data = await src.read(65536)
                if not data:
                    break
                queue.put_nowait((time.monotonic(), data))
        except (ConnectionError, OSError):
            pass
        finally:
            queue.put_nowait((0.0, b""))
            try:
                await sender
            except (ConnectionError, OSError, asyncio.CancelledError):
                pass
            link.reset()
            self.links.discard(link)

    async def _send(
        self, queue: asyncio.Queue[tuple[float, bytes]], dst: asyncio.StreamWriter
    ) -> None:
        while True:
            received, data = await queue.get()
            if not data:
                return
            while self.mode == "blackhole":
                assert self._changed is not None
                await self._changed.wait()
            if self.mode == "delay":
                wait = received + self.delay_s - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            dst.write(data)
            await dst.drain()
