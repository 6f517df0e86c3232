"""The box's gateway HTTP API: live param updates and stream status.

Each request has one deadline (``timeout``) covering connect, send and the whole answer, so a
box that accepts a connection and then says nothing, or trickles its answer, cannot hang the
caller. Every failure is a :class:`GatewayError` whose message tells the user what to check,
with the stream key masked.

:class:`ParamsForwarder` and :class:`StatusPoller` run the requests on their own threads, so the
UI can call them from a slider's signal and never wait on the network.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from studio.live.config import LiveConfig, redactor, secret_redactor

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 1 << 20  # status answers are small; never buffer an endless body
_SHORT = 200  # characters of an error body worth showing


class GatewayError(Exception):
    """A gateway request failed; the message is meant for the user (the stream key masked)."""


def _identity(text: str) -> str:
    return text


def _short(body: bytes) -> str:
    """The first line-ish of an answer, for an error message."""
    text = " ".join(body.decode("utf-8", "replace").split())
    return text if len(text) <= _SHORT else text[: _SHORT - 1] + "…"


class GatewayClient:
    """Talks to ``http://host:api_port``. Thread-safe: each call opens its own connection."""

    def __init__(
        self,
        host: str,
        api_port: int,
        *,
        timeout: float = 3.0,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        self.host = host
        self.api_port = api_port
        self.timeout = timeout
        self._redact = redact or _identity

    @classmethod
    def from_config(cls, config: LiveConfig, *, timeout: float = 3.0) -> GatewayClient:
        """A client for ``config``'s box that masks its stream key in every message."""
        return cls(config.host, config.api_port, timeout=timeout, redact=redactor(config))

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    def update(self, stream_key: str, params: Mapping[str, Any]) -> None:
        """Send new params to the pipeline running on stream ``stream_key``."""
        hide = secret_redactor(stream_key)
        try:
            body = json.dumps(dict(params), separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise GatewayError(hide(self._redact(f"the params are not JSON ({exc})"))) from None
        path = f"/live/video-to-video/{quote(stream_key, safe='')}/update"
        status, answer = self._request("POST", path, body.encode(), hide)
        if status == 404:
            raise GatewayError(
                f"the box has no stream {hide(stream_key)} (not live yet, or it ended)"
            )
        self._check(status, answer, hide)

    def status(self, stream_id: str) -> dict[str, Any]:
        """The runner's last status event for ``stream_id`` plus the gateway's own status."""
        path = f"/live/video-to-video/{quote(stream_id, safe='')}/status"
        status, answer = self._request("GET", path, None, _identity)
        if status == 404:
            raise GatewayError(self._redact(f"no status for stream id {stream_id} yet"))
        self._check(status, answer, _identity)
        try:
            data = json.loads(answer)
        except ValueError:
            raise GatewayError(
                self._redact(f"the gateway's status is not JSON: {_short(answer)!r}")
            ) from None
        if not isinstance(data, dict):
            raise GatewayError(
                self._redact(f"the gateway's status is not a JSON object: {_short(answer)!r}")
            )
        return data

    def _check(self, status: int, answer: bytes, hide: Callable[[str], str]) -> None:
        """Raise for any answer but 2xx."""
        if 200 <= status < 300:
            return
        detail = _short(answer) or http.client.responses.get(status, "no details")
        if status >= 500:
            message = f"gateway error {status}: {detail}"
        else:
            message = f"the gateway refused the request ({status}): {detail}"
        raise GatewayError(hide(self._redact(message)))

    def _request(
        self, method: str, path: str, body: bytes | None, hide: Callable[[str], str]
    ) -> tuple[int, bytes]:
        """One request under one deadline; network failures become GatewayError.

        A socket timeout alone bounds each read, not the request: a box that trickles a byte
        now and then would keep it alive. A timer shuts the socket at the deadline instead.
        """
        conn = http.client.HTTPConnection(self.host, self.api_port, timeout=self.timeout)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            if conn.sock is not None:
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_RDWR)

        timer = threading.Timer(self.timeout, expire)
        timer.daemon = True
        timer.start()
        try:
            headers = {"Accept": "application/json", "Connection": "close"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            chunks: list[bytes] = []
            size = 0
            while size < MAX_ANSWER_BYTES:
                chunk = response.read1(65536)  # what has arrived: read() waits to fill
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            if expired.is_set():  # the shutdown ended the answer early
                raise TimeoutError
            return response.status, b"".join(chunks)
        except (OSError, http.client.HTTPException) as exc:
            reason = self._reason(exc, expired.is_set())
        finally:
            timer.cancel()
            conn.close()
        message = f"gateway API unreachable at {self.base_url} (is the box running? {reason})"
        raise GatewayError(hide(self._redact(message)))

    def _reason(self, exc: Exception, expired: bool) -> str:
        """Why a request failed, in a few words."""
        if expired or isinstance(exc, TimeoutError):
            return f"no answer within {self.timeout:g} s"
        if isinstance(exc, ConnectionRefusedError):
            return "connection refused"
        if isinstance(exc, http.client.HTTPException):
            return f"no valid HTTP answer: {type(exc).__name__} {exc}".rstrip()
        if isinstance(exc, OSError) and exc.strerror:
            return exc.strerror
        return str(exc) or type(exc).__name__


def _call(callback: Callable[..., None] | None, *args: Any) -> None:
    """Run a user callback; its own exception is logged, never kills the worker thread."""
    if callback is None:
        return
    try:
        callback(*args)
    except Exception:
        log.exception("live callback %r failed", callback)


class ParamsForwarder:
    """Forwards param changes to the box on a thread, coalescing them: the latest wins.

    While one update is in flight, newer ones replace each other and only the last is sent
    next, so dragging a slider costs a few requests, not one per pixel, and the box always ends
    on the value the user left. ``on_result`` gets ``(True, "params sent")`` or
    ``(False, message)`` for every request, on the forwarder's thread.
    """

    def __init__(
        self,
        client: GatewayClient,
        stream_key: str,
        *,
        on_result: Callable[[bool, str], None] | None = None,
    ) -> None:
        self._client = client
        self._key = stream_key
        self._on_result = on_result
        self._cond = threading.Condition()
        self._pending: tuple[dict[str, Any] | None, str | None] | None = None
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="live-params", daemon=True)
        self._thread.start()

    def send(self, params: Mapping[str, Any]) -> bool:
        """Queue ``params`` (a snapshot is taken now); never blocks. ``False`` once closed."""
        try:
            text = json.dumps(dict(params), allow_nan=False)
            item: tuple[dict[str, Any] | None, str | None] = (json.loads(text), None)
        except (TypeError, ValueError) as exc:
            item = (None, f"the params are not JSON ({exc})")
        with self._cond:
            if self._closed:
                return False
            self._pending = item
            self._cond.notify_all()
        return True

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is pending or in flight; ``False`` if ``timeout`` ran out first."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._pending is None and not self._busy, timeout=timeout
            )

    def close(self, timeout: float | None = None) -> None:
        """Stop the thread. A value still pending is sent first, so the wait is at most about
        two request timeouts (the one in flight, then the last value); ``timeout`` caps it."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            limit = 2 * self._client.timeout + 1.0 if timeout is None else timeout
            self._thread.join(limit)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._pending is None:
                    return
                params, problem = self._pending
                self._pending = None
                self._busy = True
            try:
                if problem is not None:
                    ok, message = False, problem
                else:
                    try:
                        self._client.update(self._key, params or {})
                        ok, message = True, "params sent"
                    except GatewayError as exc:
                        ok, message = False, str(exc)
                    except Exception as exc:  # a bug or odd host: report it, keep the thread
                        hide = secret_redactor(self._key)
                        ok, message = False, hide(f"params not sent: {type(exc).__name__}: {exc}")
                _call(self._on_result, ok, message)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def __enter__(self) -> ParamsForwarder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StatusPoller:
    """Asks the box for a stream's status every ``interval`` seconds, on a thread.

    ``on_status(status, None)`` on success, ``on_status(None, message)`` on failure (404 is
    normal until the runner's first event). Nothing is reported after :meth:`close` returns.
    """

    def __init__(
        self,
        client: GatewayClient,
        stream_id: str,
        interval: float = 2.0,
        *,
        on_status: Callable[[dict[str, Any] | None, str | None], None],
    ) -> None:
        self._client = client
        self._stream_id = stream_id
        self._interval = interval
        self._on_status = on_status
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-status", daemon=True)
        self._thread.start()

    def close(self, timeout: float | None = None) -> None:
        """Stop polling; waits for a request in flight (at most the client's timeout)."""
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(self._client.timeout + 1.0 if timeout is None else timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                result: tuple[dict[str, Any] | None, str | None] = (
                    self._client.status(self._stream_id),
                    None,
                )
            except GatewayError as exc:
                result = (None, str(exc))
            except Exception as exc:  # a bug or odd host: report it, keep polling
                result = (None, f"status not read: {type(exc).__name__}: {exc}")
            if self._stop.is_set():
                return
            _call(self._on_status, *result)
            if self._stop.wait(self._interval):
                return

    def __enter__(self) -> StatusPoller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
