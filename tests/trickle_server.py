"""A real trickle server on loopback for the tests: the orchestrator's side of the protocol.

It follows go-livepeer's ``trickle/trickle_server.go``: channels exist only once created (the
orchestrator makes them; no auto-create), ``POST {channel}/{seq}`` streams a segment in,
``GET {channel}/{seq}`` serves what the segment holds and then the rest live, -1 means the
next segment to be written and -2 the one being written now, a GET for the next segment waits
for it, 404 for an unknown channel, 470 with ``Lp-Trickle-Latest`` for a segment outside the
window of 5, 200 with ``Lp-Trickle-Closed`` once the channel is closed, and ``DELETE
{channel}`` closes it. Headers go out with a segment's first bytes, as in Go.

It runs in its own thread with its own loop; the methods below are for the test's thread.
:meth:`TrickleServer.stall` holds a channel's GETs, to put a subscriber behind the window.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

from aiohttp import web

WINDOW = 5  # segments kept per channel, as maxSegmentsPerStream in Go


class _Segment:
    def __init__(self, idx: int) -> None:
        self.idx = idx
        self.data = bytearray()
        self.closed = False
        self.changed = asyncio.Condition()

    async def write(self, chunk: bytes) -> None:
        async with self.changed:
            self.data.extend(chunk)
            self.changed.notify_all()

    async def close(self) -> None:
        async with self.changed:
            self.closed = True
            self.changed.notify_all()

    async def wait_closed(self) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: self.closed)

    async def read(self, pos: int) -> tuple[bytes, bool]:
        """Bytes from ``pos`` (waiting for some), and whether the segment is complete."""
        async with self.changed:
            while True:
                if pos < len(self.data):
                    return bytes(self.data[pos:]), self.closed
                if pos > len(self.data) or self.closed:
                    return b"", True
                await self.changed.wait()


class _Channel:
    def __init__(self, name: str, mime: str) -> None:
        self.name = name
        self.mime = mime
        self.slots: list[_Segment | None] = [None] * WINDOW
        self.next_write = 0
        self.closed = False
        self.released = asyncio.Event()
        self.released.set()

    def for_write(self, idx: int) -> tuple[_Segment, _Segment | None]:
        """The segment ``idx`` writes to, and an older one it evicts (to be closed)."""
        if idx == -1:
            idx = self.next_write
        slot = idx % WINDOW
        current = self.slots[slot]
        if current is not None and current.idx == idx:
            return current, None
        segment = _Segment(idx)
        self.slots[slot] = segment
        return segment, current

    def for_read(self, idx: int) -> tuple[_Segment | None, int]:
        if idx == -1:
            idx = self.next_write
        elif idx == -2:
            idx = max(self.next_write - 1, 0)
        slot = idx % WINDOW
        segment = self.slots[slot]
        if segment is None or segment.idx != idx:
            segment = None
            ahead = idx == self.next_write or (self.next_write == 0 and idx == 1)
            if ahead and not self.closed:  # a reader slightly ahead waits for the writer
                segment = self.slots[slot] = _Segment(idx)
        return segment, idx


class TrickleServer:
    """Serve ``/ai/trickle/`` on 127.0.0.1 and a free port, in a background thread."""

    def __init__(self) -> None:
        self.channels: dict[str, _Channel] = {}
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    # -- for the test's thread --------------------------------------------------------------

    def start(self) -> TrickleServer:
        self._thread.start()
        self._call(self._start())
        return self

    def close(self) -> None:
        if self._runner is not None:
            self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> TrickleServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/ai/trickle/"

    def url(self, name: str) -> str:
        return self.base + name

    def create(self, name: str, mime: str = "video/mp2t") -> str:
        """Create a channel (the orchestrator's part); returns its URL."""

        async def create() -> None:
            self.channels.setdefault(name, _Channel(name, mime))

        self._call(create())
        return self.url(name)

    def delete(self, name: str) -> bool:
        return self._call(self._delete(name))

    def exists(self, name: str) -> bool:
        return name in self.channels

    def latest(self, name: str) -> int:
        return self.channels[name].next_write

    def stall(self, name: str, on: bool) -> None:
        """Hold (``on``) or release the channel's GETs: a subscriber that falls behind."""

        async def stall() -> None:
            released = self.channels[name].released
            if on:
                released.clear()
            else:
                released.set()

        self._call(stall())

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # -- the server, on its own loop -------------------------------------------------------------

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/ai/trickle/{name}", self._handle_create)
        app.router.add_post("/ai/trickle/{name}/{idx}", self._handle_post)
        app.router.add_get("/ai/trickle/{name}/{idx}", self._handle_get)
        app.router.add_delete("/ai/trickle/{name}", self._handle_delete)
        app.router.add_delete("/ai/trickle/{name}/{idx}", self._handle_close_seq)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def _shutdown(self) -> None:
        for name in list(self.channels):
            await self._delete(name)
        assert self._runner is not None
        await self._runner.cleanup()

    async def _delete(self, name: str) -> bool:
        channel = self.channels.pop(name, None)
        if channel is None:
            return False
        channel.closed = True
        channel.released.set()
        for segment in channel.slots:
            if segment is not None:
                await segment.close()
        return True

    async def _handle_create(self, request: web.Request) -> web.Response:
        if request.match_info["name"] not in self.channels:
            return web.Response(status=404, text="Stream not found")
        return web.Response()

    async def _handle_delete(self, request: web.Request) -> web.Response:
        if not await self._delete(request.match_info["name"]):
            return web.Response(status=400, text="Invalid stream")
        return web.Response()

    async def _handle_close_seq(self, request: web.Request) -> web.Response:
        channel = self.channels.get(request.match_info["name"])
        if channel is None:
            return web.Response(status=404, text="Stream not found")
        idx = _index(request)
        segment = channel.slots[idx % WINDOW] if idx is not None else None
        if segment is None or segment.idx != idx:
            return web.Response(status=400, text="Nonexistent segment")
        await segment.close()
        return web.Response()

    async def _handle_post(self, request: web.Request) -> web.StreamResponse:
        channel = self.channels.get(request.match_info["name"])
        if channel is None:
            response = web.Response(status=404, text="Stream not found")
            response.force_close()
            return response
        idx = _index(request)
        if idx is None or idx < -1:
            return web.Response(status=400, text="Invalid idx")
        segment, evicted = channel.for_write(idx)
        if evicted is not None:
            await evicted.close()
        first = asyncio.ensure_future(request.content.readany())
        closed = asyncio.ensure_future(segment.wait_closed())
        await asyncio.wait({first, closed}, return_when=asyncio.FIRST_COMPLETED)
        if not first.done():  # closed (channel deleted) before the publisher sent a byte
            first.cancel()
            channel.next_write = max(channel.next_write, segment.idx + 1)
            response = web.Response(headers=_closed(channel))
            response.force_close()
            return response
        closed.cancel()
        try:
            chunk = first.result()
            if chunk:
                channel.next_write = segment.idx + 1
            while chunk:
                await segment.write(chunk)
                chunk = await request.content.readany()
        except Exception:
            await segment.close()
            return web.Response(status=500, text="Server error")
        channel.next_write = max(channel.next_write, segment.idx + 1)
        await segment.close()
        return web.Response()

    async def _handle_get(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        channel = self.channels.get(name)
        if channel is None:
            return web.Response(status=404, text="Stream not found")
        idx = _index(request)
        if idx is None or idx < -2:
            return web.Response(status=400, text="Invalid idx")
        await channel.released.wait()
        if self.channels.get(name) is not channel:
            return web.Response(status=404, text="Stream not found")
        segment, idx = channel.for_read(idx)
        latest = channel.next_write
        if segment is None:
            headers = {"Lp-Trickle-Latest": str(latest), "Lp-Trickle-Seq": str(idx)}
            if channel.closed:
                return web.Response(text="Entry not found", headers=headers | _closed(channel))
            return web.Response(status=470, text="Entry not found", headers=headers)
        response = web.StreamResponse()
        pos = 0
        with contextlib.suppress(ConnectionError):
            while True:
                data, eof = await segment.read(pos)
                if data:
                    if not response.prepared:
                        if segment.idx != latest:
                            response.headers["Lp-Trickle-Latest"] = str(latest)
                        response.headers["Lp-Trickle-Seq"] = str(segment.idx)
                        response.headers["Content-Type"] = channel.mime
                        await response.prepare(request)
                    await response.write(data)
                    pos += len(data)
                if eof:
                    break
            if not response.prepared:  # the segment ended empty
                response.headers["Lp-Trickle-Seq"] = str(segment.idx)
                if channel.closed:
                    response.headers.update(_closed(channel))
                else:
                    response.headers["Lp-Trickle-Latest"] = str(channel.next_write)
                    response.set_status(470)
                await response.prepare(request)
            await response.write_eof()
        return response


def _index(request: web.Request) -> int | None:
    try:
        return int(request.match_info["idx"])
    except ValueError:
        return None


def _closed(channel: _Channel) -> dict[str, str]:
    return {"Lp-Trickle-Closed": "terminated"} if channel.closed else {}
