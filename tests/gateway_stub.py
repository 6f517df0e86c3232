"""A real local HTTP server standing in for the box's gateway API, for the live tests.

It speaks the two routes the studio uses (``POST .../{key}/update``, ``GET .../{id}/status``),
records every update, and can be told to fail (404, 500, a non-JSON status) or to answer
slowly, which is how the tests see coalescing happen.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

_UPDATE = re.compile(r"^/live/video-to-video/([^/?]+)/update$")
_STATUS = re.compile(r"^/live/video-to-video/([^/?]+)/status$")


@dataclass(frozen=True)
class UpdateRecord:
    """One update request as the stub saw it."""

    path: str
    key: str  # percent-decoded
    body: Any  # the parsed JSON body (None if it was not JSON)
    raw: bytes
    content_type: str
    at: float  # time.monotonic() on arrival
    answered: int  # the HTTP status the stub answered


class GatewayStub:
    """``ThreadingHTTPServer`` on 127.0.0.1, a free port, served from a daemon thread.

    Knobs (set any time, from the test thread):
      ``statuses[stream_id]`` — the JSON (or a ``str`` sent as-is) answered for that id;
      unknown ids get 404.
      ``update_error`` / ``status_error`` — ``(code, body)`` to answer instead of success.
      ``delay`` — seconds to wait before answering any request.
    """

    def __init__(self) -> None:
        self.statuses: dict[str, Any] = {}
        self.update_error: tuple[int, str] | None = None
        self.status_error: tuple[int, str] | None = None
        self.delay = 0.0
        self._updates: list[UpdateRecord] = []
        self._status_calls: list[str] = []
        self._cond = threading.Condition()
        self._in_flight = 0
        self.max_in_flight = 0  # most requests handled at once (the forwarder sends one at a time)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def updates(self) -> list[UpdateRecord]:
        with self._cond:
            return list(self._updates)

    @property
    def status_calls(self) -> list[str]:
        with self._cond:
            return list(self._status_calls)

    def wait_for_updates(self, count: int, timeout: float = 5.0) -> list[UpdateRecord]:
        """The updates once at least ``count`` have arrived (or whatever came by ``timeout``)."""
        with self._cond:
            self._cond.wait_for(lambda: len(self._updates) >= count, timeout=timeout)
            return list(self._updates)

    def wait_in_flight(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until ``count`` requests are being handled at once (e.g. held by ``delay``)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._in_flight >= count, timeout=timeout)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> GatewayStub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _enter(self) -> None:
        with self._cond:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            self._cond.notify_all()
        if self.delay:
            time.sleep(self.delay)

    def _leave(self) -> None:
        with self._cond:
            self._in_flight -= 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

            def _answer(self, code: int, body: str, content_type: str = "text/plain") -> None:
                data = body.encode()
                self.close_connection = True
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test): nothing to answer

            def do_POST(self) -> None:
                arrived = time.monotonic()
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                match = _UPDATE.match(self.path)
                if match is None:
                    self._answer(404, "404 page not found")
                    return
                stub._enter()
                try:
                    code, body = stub.update_error or (200, "")
                    try:
                        parsed = json.loads(raw)
                    except ValueError:
                        parsed = None
                    record = UpdateRecord(
                        path=self.path,
                        key=unquote(match.group(1)),
                        body=parsed,
                        raw=raw,
                        content_type=self.headers.get("Content-Type", ""),
                        at=arrived,
                        answered=code,
                    )
                    with stub._cond:
                        stub._updates.append(record)
                        stub._cond.notify_all()
                    self._answer(code, body)
                finally:
                    stub._leave()

            def do_GET(self) -> None:
                match = _STATUS.match(self.path)
                if match is None:
                    self._answer(404, "404 page not found")
                    return
                stream_id = unquote(match.group(1))
                stub._enter()
                try:
                    with stub._cond:
                        stub._status_calls.append(stream_id)
                    if stub.status_error is not None:
                        self._answer(*stub.status_error)
                    elif stream_id not in stub.statuses:
                        self._answer(404, "Stream not found")
                    else:
                        status = stub.statuses[stream_id]
                        text = status if isinstance(status, str) else json.dumps(status)
                        self._answer(200, text, "application/json")
                finally:
                    stub._leave()

        return Handler
