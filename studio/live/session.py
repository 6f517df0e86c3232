"""A live session: the preview's frames to a box over RTMP, the box's output back, params live.

It joins the transport pieces (publisher, player) and the gateway pieces (params forwarder,
status poller) into one state a user can read: connecting, live, reconnecting, stopped, or
failed with a reason to act on. The local preview keeps running whatever happens here, and
stopping is one call. The stream key never reaches a message: everything goes through the
config's redactor.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from studio.live.config import LiveConfig, ingest_url, playback_url, redactor
from studio.live.gateway import GatewayClient, ParamsForwarder, StatusPoller


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """``kind``: state (``data["state"]``, ``data["reason"]``), params (sent or failed),
    status (the box's status JSON, or an error), log."""

    kind: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


class LiveSession:
    """Send one preview session's input (or output) to a box and play back its output."""

    def __init__(
        self,
        config: LiveConfig,
        preview: Any,
        *,
        params: Callable[[], dict[str, Any]] = dict,
        on_event: Callable[[LiveEvent], None] | None = None,
        record_box: str | None = None,
        status_interval: float = 2.0,
    ):
        config.validate()
        self.config = config
        self.preview = preview
        self.redact = redactor(config)
        self.on_event = on_event
        self.record_box = record_box
        self.status_interval = status_interval
        self._params = params
        self.state = "stopped"
        self.reason = ""
        self.went_live = False
        self.failure = ""  # the reason of the first failure, kept after stopping
        self.box_status: dict[str, Any] | None = None
        self.status_error: str | None = None
        self.params_error: str | None = None
        self.publisher: Any = None
        self.player: Any = None
        self._forwarder: ParamsForwarder | None = None
        self._poller: StatusPoller | None = None
        self._publisher_state = ("stopped", "")
        self._player_state = ("stopped", "")
        self._lock = threading.RLock()
        self._stopping = False

    # -- lifetime ---------------------------------------------------------------------------

    def start(self) -> None:
        from studio.live.player import RtmpPlayer
        from studio.live.publisher import RtmpPublisher

        config = self.config
        self._set("connecting", f"connecting to {config.host}:{config.rtmp_port}")
        self.publisher = RtmpPublisher(
            ingest_url(config, self._params()),
            width=config.width,
            height=config.height,
            fps=config.fps,
            bitrate=config.bitrate,
            redact=self.redact,
            on_state=self._on_publisher,
        )
        if config.send == "input":
            self.preview.taps.append(self._tap_input)
        else:
            self.preview.output_taps.append(self._tap_output)
        self.player = RtmpPlayer(
            playback_url(config),
            redact=self.redact,
            on_state=self._on_player,
            give_up_after=config.give_up_after,
            marks=self.publisher.mark,
        )
        if self.record_box:
            self.player.record_to(self.record_box)
        client = GatewayClient.from_config(config)
        self._forwarder = ParamsForwarder(client, config.stream_key, on_result=self._on_params)
        self._poller = StatusPoller(
            client, config.stream_id, self.status_interval, on_status=self._on_status
        )

    def stop(self) -> None:
        """Stop sending and playing; the preview goes on. Safe to call twice."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
        with contextlib.suppress(ValueError):
            self.preview.taps.remove(self._tap_input)
        with contextlib.suppress(ValueError):
            self.preview.output_taps.remove(self._tap_output)
        for part in (self.publisher, self.player):
            if part is not None:
                with contextlib.suppress(Exception):
                    part.stop()
        for closer in (self._forwarder, self._poller):
            if closer is not None:
                with contextlib.suppress(Exception):
                    closer.close(timeout=2.0)
        self._set("stopped", "")

    # -- frames and params --------------------------------------------------------------------

    def _tap_input(self, frame: Any) -> None:
        self.publisher.submit(frame.image, frame.t_capture)

    def _tap_output(self, frame: Any) -> None:
        self.publisher.submit(frame.image, frame.t_capture)

    def update_params(self, values: dict[str, Any]) -> None:
        """Forward a params change to the box (coalesced: the latest wins)."""
        if self._forwarder is not None and not self._stopping:
            self._forwarder.send(values)

    @property
    def latest_box(self) -> Any:
        return self.player.latest if self.player is not None else None

    def figures(self) -> dict[str, Any]:
        """Numbers for a status line: sent fps, encoder ms, box fps, round-trip delay."""
        out: dict[str, Any] = {}
        if self.publisher is not None:
            stats = self.publisher.stats()
            out.update(
                sent_fps=stats.fps,
                encode_cpu_ms=stats.cpu_ms_per_frame,
                sent=stats.frames,
                drops=stats.drops,
                reconnects=stats.reconnects,
            )
        if self.player is not None:
            stats = self.player.stats()
            out.update(box_fps=stats.fps, delay_ms=stats.delay_ms, received=stats.frames)
        return out

    # -- state ----------------------------------------------------------------------------------

    def _on_publisher(self, state: str, message: str) -> None:
        self._publisher_state = (state, message)
        if state == "live":
            self.went_live = True
        self._combine()

    def _on_player(self, state: str, message: str) -> None:
        self._player_state = (state, message)
        self._combine()

    def _combine(self) -> None:
        if self._stopping:
            return
        sender, sender_msg = self._publisher_state
        player, player_msg = self._player_state
        if sender == "failed":
            self.failure = self.failure or self.redact(sender_msg)
            self._set("failed", sender_msg)
            threading.Thread(target=self.stop, name="live-stop", daemon=True).start()
        elif sender in ("connecting", "reconnecting"):
            self._set(sender, sender_msg)
        elif sender == "live":
            if player == "playing":
                self._set("live", "")
            elif player == "gave_up":
                self._set("live", player_msg)
            else:
                self._set(
                    "live",
                    "sending; waiting for the box's output"
                    + (f" ({player_msg})" if player_msg else ""),
                )

    def _on_params(self, ok: bool, message: str) -> None:
        self.params_error = None if ok else message
        self._emit(LiveEvent("params", message, {"ok": ok}))

    def _on_status(self, status: dict[str, Any] | None, error: str | None) -> None:
        self.box_status, self.status_error = status, error
        self._emit(LiveEvent("status", error or "status", {"status": status, "error": error}))

    def _set(self, state: str, reason: str) -> None:
        reason = self.redact(reason)
        with self._lock:
            if (state, reason) == (self.state, self.reason):
                return
            self.state, self.reason = state, reason
        self._emit(
            LiveEvent(
                "state",
                f"{state}: {reason}" if reason else state,
                {"state": state, "reason": reason, "time": time.time()},
            )
        )

    def _emit(self, event: LiveEvent) -> None:
        if self.on_event is not None:
            with contextlib.suppress(Exception):
                self.on_event(event)
