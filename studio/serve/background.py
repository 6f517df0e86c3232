"""Serving from a program that has its own loop to keep (the app's Qt thread): the runner
and its HTTP server get an asyncio loop of their own in a thread, and every call from
outside hops onto it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from studio.serve.runner import LiveRunner, RunnerEvent
from studio.serve.server import RunnerServer


class ServeInBackground:
    """``start()`` serves ``info`` on host:port until ``stop()``; both return promptly."""

    def __init__(
        self,
        info: Any,
        *,
        host: str,
        port: int,
        params: dict[str, Any] | None = None,
        device: str = "auto",
        on_event: Callable[[RunnerEvent], None] | None = None,
    ):
        self.info, self.host, self.port = info, host, port
        self.runner = LiveRunner(info, params=params, device=device, on_event=on_event)
        self.server = RunnerServer(self.runner, host=host, port=port)
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stopped = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="serve", daemon=True)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self, timeout: float = 120.0) -> None:
        """Bind the port and start the pipeline; raises what went wrong (port taken...)."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the runner did not start in time")
        if self.error is not None:
            raise self.error

    def update_params(self, values: dict[str, Any]) -> None:
        self._call(self.runner.update_params, values)

    def reload(self, info: Any = None) -> None:
        self._call(self.runner.reload, info)

    def current_params(self) -> dict[str, Any]:
        return self.runner.current_params()

    def stop(self, timeout: float = 10.0) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout)

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(fn, *args)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        try:
            await self.server.start()
            await self.runner.start(wait=True)
        except BaseException as exc:
            self.error = exc
            self._ready.set()
            await self._shutdown()
            return
        self._ready.set()
        await self._stopped.wait()
        await self._shutdown()

    async def _shutdown(self) -> None:
        for part in (self.server, self.runner):
            try:
                await part.stop()
            except Exception as exc:  # stopping must finish whatever one part says
                self.error = self.error or exc
