"""Serve the pipeline being edited to a go-livepeer box, as its live runner.

:class:`LiveRunner` runs one pipeline for the streams an orchestrator hands it over trickle;
:class:`RunnerServer` exposes it on ai-runner's HTTP API (``POST /live-video-to-video``,
``GET /health``). Both live on one asyncio loop: the app's qasync loop, or ``studio serve``'s.
"""

from studio.serve.job import RequestError, StreamRequest
from studio.serve.runner import LiveRunner, RunnerError, RunnerEvent
from studio.serve.server import DEFAULT_HOST, DEFAULT_PORT, RunnerServer
from studio.serve.status import RunnerStatus, State

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "LiveRunner",
    "RequestError",
    "RunnerError",
    "RunnerEvent",
    "RunnerServer",
    "RunnerStatus",
    "State",
    "StreamRequest",
]
