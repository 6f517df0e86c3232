"""RunnerServer: ai-runner's HTTP API in front of a :class:`~studio.serve.runner.LiveRunner`.

Routes, as ai-runner answers them (``runner/app/routes/``):

* ``POST /live-video-to-video`` — body ``{subscribe_url, publish_url, control_url,
  events_url, model_id, params, gateway_request_id, manifest_id, stream_id}``; 200 with
  ``{"publish_url": "", "subscribe_url": "", "control_url": ""}``, or 400 with
  ``{"detail": {"msg": "..."}}`` (wrong ``model_id``, missing URL, body not JSON).
* ``GET /health`` — ``{"status": "IDLE" | "LOADING" | "OK" | "ERROR"}`` (IDLE: no stream).
* ``GET /status`` — ours, not ai-runner's: the runner's status snapshot as JSON.

The default address is 127.0.0.1:8900 (ai-runner's port on a box). An orchestrator in Docker
cannot reach the host's loopback: serve on ``0.0.0.0`` then, and put the reachable URL in the
box's models file (``{"pipeline": "live-video-to-video", "model_id": NAME, "url": ...}``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from studio.serve.job import RequestError
from studio.serve.runner import LiveRunner

log = logging.getLogger("studio.serve")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8900


class RunnerServer:
    """The HTTP side; :meth:`start` and :meth:`stop` run on the caller's asyncio loop."""

    def __init__(
        self, runner: LiveRunner, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
    ) -> None:
        self.runner = runner
        self.host = host
        self.port = port
        self._site_runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Listen; raises OSError when the address is taken. Port 0 picks a free one."""
        app = web.Application()
        for path in ("/live-video-to-video", "/live-video-to-video/"):
            app.router.add_post(path, self._live_video_to_video)
        for path in ("/health", "/health/"):
            app.router.add_get(path, self._health)
        app.router.add_get("/status", self._status)
        site_runner = web.AppRunner(app, access_log=None)
        await site_runner.setup()
        try:
            await web.TCPSite(site_runner, self.host, self.port).start()
        except BaseException:
            await site_runner.cleanup()
            raise
        self._site_runner = site_runner
        address = site_runner.addresses[0]
        self.port = int(address[1])
        log.info("serve: runner API on %s", self.url)

    async def stop(self) -> None:
        """Stop listening (the runner and its stream are the caller's to stop)."""
        site_runner, self._site_runner = self._site_runner, None
        if site_runner is not None:
            await site_runner.cleanup()

    async def _live_video_to_video(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return _error(400, "the request body must be a JSON object")
        try:
            answer = await self.runner.handle_request(body)
        except RequestError as exc:
            return _error(exc.status, str(exc))
        except Exception as exc:
            log.exception("serve: live-video-to-video failed")
            return _error(500, f"live-video-to-video pipeline error: {exc}")
        return web.json_response(answer)

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": self.runner.status().health})

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response(self.runner.status().to_dict())


def _error(status: int, message: str) -> web.Response:
    body: dict[str, Any] = {"detail": {"msg": message}}
    return web.json_response(body, status=status)
