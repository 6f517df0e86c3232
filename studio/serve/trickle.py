"""The runner's trickle channels, through the official SDK, with the smallest adapters it needs.

livepeer-gateway does the protocol: :class:`TrickleSubscriber` and :class:`TricklePublisher`
move segments, :class:`MediaOutput` decodes an MPEG-TS channel into frames, and
:class:`MediaPublish` encodes frames (libx264, zerolatency, no B-frames, an IDR every 2 s of
media time, yuv420p, MPEG-TS in time base 1/90000) and cuts a trickle segment at each keyframe.
It already jumps to ``Lp-Trickle-Latest`` on a 470 (``TrickleSubscriber._preconnect``), ends
on a 404 or ``Lp-Trickle-Closed``, retries each POST once and turns three failed segments (or a
404) into a terminal error, and skips TLS verification for the orchestrator's self-signed
``https://ORCH:8935``.

What the SDK lacks for the runner's side is covered here, one adapter per gap:

* :class:`OutputPublisher`: ``MediaPublish`` has no ``start_seq``; its publisher starts at -1
  and asks ``GET {channel}/next`` for the write position, which go-livepeer's trickle server
  answers 400 (the index must be an integer), so it then posts ``/-1`` and ``/0``: segment 0
  twice. The runner starts at 0, as ai-runner does.
* :class:`JsonWriter`: the SDK's one-message-per-segment writer (``Control``) has the same
  ``/next`` start; events go out through a ``TricklePublisher`` started at 0.
* :func:`read_json_channel`: ``ChannelReader`` raises on the first segment that is not a JSON
  object, which ends the subscription; the control channel must log such a message and go on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from livepeer_gateway.media_output import LagPolicy, MediaOutput
from livepeer_gateway.media_publish import MediaPublish, MediaPublishConfig, VideoOutputConfig
from livepeer_gateway.trickle_publisher import TricklePublisher
from livepeer_gateway.trickle_subscriber import TrickleSubscriber

log = logging.getLogger("studio.serve")

#: Keyframe (and so segment) interval of the output, in seconds of media time.
KEYFRAME_INTERVAL_S = 2.0
#: A control message larger than this is refused (the SDK's own default for events).
MAX_MESSAGE_BYTES = 1_048_576


def open_input(url: str, *, start_seq: int = -2) -> MediaOutput:
    """The input channel as decoded frames; -2 starts at the segment being written now.

    A reader that falls behind the server's window gets a 470 and the SDK's subscriber
    jumps to the latest segment; ``LagPolicy.LATEST`` does the same for the local window.
    """
    return MediaOutput(url, start_seq=start_seq, on_lag=LagPolicy.LATEST)


class OutputPublisher(MediaPublish):
    """``MediaPublish`` whose segments are numbered from ``start_seq`` (0), with no gaps.

    The encoder settings are the SDK's (see the module docstring); only the publisher is
    replaced, before anything is sent, so that the first segment is ``start_seq``.
    """

    def __init__(self, url: str, *, start_seq: int = 0, fps: float | None = None) -> None:
        config = MediaPublishConfig(
            tracks=[VideoOutputConfig(fps=fps, keyframe_interval_s=KEYFRAME_INTERVAL_S)]
        )
        super().__init__(url, config=config)
        self._publisher = TricklePublisher(url, config.mime_type, start_seq=start_seq)

    @property
    def channel_gone(self) -> bool:
        """True once a POST was answered 404: the orchestrator closed the channel."""
        return self.get_stats().publisher.post_404 > 0


class JsonWriter:
    """One JSON object per segment, numbered from 0: the events channel."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._publisher = TricklePublisher(url, "application/json", start_seq=0)

    async def write(self, message: dict[str, Any]) -> None:
        """Publish one message; raises the SDK's TricklePublishError subclasses on failure."""
        payload = json.dumps(message).encode()
        async with await self._publisher.next() as segment:
            await segment.write(payload)

    async def close(self) -> None:
        """Close the publisher; like ai-runner's, this deletes the channel on the server."""
        await self._publisher.close()


async def read_json_channel(
    url: str, on_message: Callable[[dict[str, Any]], Awaitable[None] | None]
) -> str:
    """Feed each JSON object published on ``url`` to ``on_message`` until the channel ends.

    Starts at the segment being written now (-2), as ai-runner's control reader does. A
    segment that is empty, not JSON, or not an object is logged and skipped. Returns why
    the channel ended: ``"closed"`` (404 or ``Lp-Trickle-Closed``) or ``"unreachable"``.
    """
    async with TrickleSubscriber(url, start_seq=-2, max_bytes=MAX_MESSAGE_BYTES) as sub:
        while (segment := await sub.next()) is not None:
            try:
                payload = await _read_all(segment)
            except Exception as exc:  # a segment over the size limit, a dropped connection
                log.warning("control: unreadable segment %s: %s", segment.seq(), exc)
                continue
            finally:
                await segment.close()
            if not payload.strip():
                continue
            try:
                message = json.loads(payload)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                log.warning("control: ignored a message that is not JSON (%s): %.80r", exc, payload)
                continue
            if not isinstance(message, dict):
                log.warning("control: ignored a JSON %s (params are an object)", type(message))
                continue
            result = on_message(message)
            if result is not None:
                await result
        stats = sub.get_stats()
    return "closed" if stats.get_404_eos or not stats.get_failures else "unreachable"


async def _read_all(segment: Any) -> bytes:
    reader = segment.make_reader()
    parts = []
    while chunk := await reader.read():
        parts.append(chunk)
    return b"".join(parts)
