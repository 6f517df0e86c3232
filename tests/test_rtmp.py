"""The RTMP transport of "Go live", end to end over real processes (no mocks of the transport).

publisher -> nginx-rtmp -> ffmpeg relay (the box's part: negates the picture) -> player, with
the checks made on pixels, plus the faults a user meets: no box, a refused ingest, the box
restarted mid-stream, and an output that never comes back.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator

import av
import cv2
import numpy as np
import pytest
import rtmp_box
from rtmp_box import Relay, RtmpServer

from studio.live.player import RtmpPlayer
from studio.live.publisher import RtmpPublisher
from studio.sources import TestPattern

pytestmark = pytest.mark.skipif(rtmp_box.available() is not None, reason=str(rtmp_box.available()))

KEY = "secret-key-123"
W, H = 320, 180


def redact(text: str) -> str:
    return text.replace(KEY, "***")


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


class States:
    """Every (state, message) a component reported, in order, thread-safe."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, state: str, message: str) -> None:
        with self._lock:
            self.seen.append((state, message))

    def names(self) -> list[str]:
        with self._lock:
            return [state for state, _ in self.seen]

    def has(self, state: str, after: int = 0) -> bool:
        return state in self.names()[after:]

    def message(self, state: str, *, first: bool = False) -> str:
        """The last (or first) message that came with ``state``."""
        with self._lock:
            seen = self.seen if first else list(reversed(self.seen))
            return next(m for s, m in seen if s == state)


class Feeder:
    """Submits test-pattern frames to a publisher in real time from its own thread."""

    def __init__(self, publisher: RtmpPublisher, fps: float = 30.0):
        self.publisher = publisher
        self.source = TestPattern(W, H, fps=fps)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (frame := self.source.read()) is not None:
            self.publisher.submit(frame.image, frame.t_capture)

    def stop(self) -> None:
        self.source.close()
        self._thread.join(5)


@pytest.fixture
def server() -> Iterator[RtmpServer]:
    box = RtmpServer()
    box.start()
    yield box
    box.close()


@pytest.fixture
def cleanup() -> Iterator[Callable[[object], object]]:
    """Register anything with a ``stop()`` (publishers, players, relays, feeders); all are
    stopped at teardown, in reverse order, even when the test failed."""
    parts: list[object] = []

    def add(part: object) -> object:
        parts.append(part)
        return part

    yield add
    for part in reversed(parts):
        part.stop()  # type: ignore[attr-defined]


@functools.cache
def static_bars() -> tuple[np.ndarray, np.ndarray]:
    """The test pattern's colour bars and a mask of their pixels that never change (the ball,
    the hand and the counter move over them), eroded so codec bleed at edges is left out."""
    pattern = TestPattern(W, H, realtime=False)
    renders = np.stack([pattern.render(i) for i in range(0, 300, 3)])
    static = (renders == renders[0]).all(axis=(0, 3)).astype(np.uint8)
    static = cv2.erode(static, np.ones((9, 9), np.uint8)).astype(bool)
    static[H * 55 // 100 - 4 :] = False  # the bars end at 55% of the height
    return renders[0], static


def bars_negated(played: np.ndarray) -> np.ndarray:
    """Mean absolute error per colour bar between a played frame and the negated source."""
    source, static = static_bars()
    errors = []
    for bar in range(7):
        x0, x1 = bar * W // 7 + 4, (bar + 1) * W // 7 - 4
        mask = static[:, x0:x1]
        expected = 255 - source[:, x0:x1][mask].astype(np.int16)
        errors.append(np.abs(played[:, x0:x1][mask].astype(np.int16) - expected).mean())
    return np.array(errors)


def test_round_trip_carries_the_box_effect_and_measures_the_delay(
    server, cleanup, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG, logger="studio.live")
    pub_states, play_states = States(), States()
    relay = cleanup(Relay(server, KEY, "negate", log_dir=tmp_path))
    relay.start()
    publisher = cleanup(
        RtmpPublisher(
            server.url(KEY),
            width=W,
            height=H,
            fps=20,  # the feed runs at 30: the slot drops the difference
            keyframe_seconds=1.0,
            redact=redact,
            on_state=pub_states,
        )
    )
    player = cleanup(
        RtmpPlayer(
            server.url(f"{KEY}-out"),
            redact=redact,
            on_state=play_states,
            marks=publisher.mark,
        )
    )
    recording = tmp_path / "box.mp4"
    player.record_to(recording)
    feeder = cleanup(Feeder(publisher, fps=30))

    wait_for(lambda: publisher.state == "live", 10, "the publisher to go live")
    wait_for(
        lambda: (f := player.latest) is not None and f.delay_ms is not None,
        25,
        f"a played frame matched to a sent one (relay log: {relay.log()[-500:]})",
    )
    wait_for(lambda: player.stats().frames >= 20, 10, "20 played frames")

    frame = player.latest
    assert frame is not None and frame.image.shape == (H, W, 3)
    errors = bars_negated(frame.image)
    assert errors.max() < 8, f"played bars differ from the negated source by {errors}"
    # and the un-negated source is far away: the effect really is the relay's
    assert bars_negated(255 - frame.image).min() > 60

    stats = player.stats()
    assert stats.delay_ms is not None and 0 < stats.delay_ms < 3000, stats
    assert frame.delay_ms is not None and 0 < frame.delay_ms < 3000
    assert stats.fps > 5 and (stats.width, stats.height) == (W, H)
    sent = publisher.stats()
    assert sent.frames > 20 and sent.bytes > 0 and sent.drops > 0, sent
    assert 0 < sent.fps <= 21 and sent.cpu_ms_per_frame > 0 and sent.wall_ms_per_frame > 0
    marks = publisher.sent_marks
    pts = sorted(marks)
    assert pts == sorted(set(pts)) and all(m.t_capture <= m.t_sent for m in marks.values())

    feeder.stop()
    for part, states in ((player, play_states), (publisher, pub_states)):
        t0 = time.monotonic()
        part.stop()
        assert time.monotonic() - t0 < 2.5
        assert states.names()[-1] == "stopped"

    assert pub_states.names()[:3] == ["connecting", "connecting", "live"]
    assert pub_states.seen[1][1].startswith("connected to 127.0.0.1:")
    assert "waiting" in play_states.names() and "playing" in play_states.names()
    for _, message in pub_states.seen + play_states.seen:
        assert KEY not in message
    assert caplog.records and not [r for r in caplog.records if KEY in r.getMessage()]

    with av.open(str(recording)) as container:
        images = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(images) >= 20
    assert bars_negated(images[-1]).max() < 10


def test_no_server_fails_fast_saying_host_unreachable(cleanup):
    port = rtmp_box.free_port()
    states = States()
    t0 = time.monotonic()
    publisher = cleanup(
        RtmpPublisher(
            f"rtmp://127.0.0.1:{port}/live/{KEY}?pipeline=noop",
            width=W,
            height=H,
            redact=redact,
            on_state=states,
        )
    )
    wait_for(lambda: publisher.state == "failed", 6, "the publisher to fail")
    assert time.monotonic() - t0 < 6
    message = states.message("failed")
    assert message.startswith("host unreachable: nothing listens on 127.0.0.1:")
    assert f":{port}" in message and "make box" in message and KEY not in message
    assert states.names() == ["connecting", "failed"]
    publisher.submit(np.zeros((H, W, 3), np.uint8), time.monotonic())  # harmless after a failure
    publisher.stop()
    assert states.names() == ["connecting", "failed"]  # nothing follows a final state

    play_states = States()
    player = cleanup(RtmpPlayer(f"rtmp://127.0.0.1:{port}/live/{KEY}-out", on_state=play_states))
    wait_for(lambda: "nothing listens" in player.message, 5, "the player to say why it waits")
    assert player.state == "waiting" and KEY not in player.message
    t0 = time.monotonic()
    player.stop()
    assert time.monotonic() - t0 < 2.5 and player.state == "stopped"


def test_refused_ingest_is_a_failure_with_a_reason(server, cleanup):
    bad_app = States()
    cleanup(
        RtmpPublisher(
            f"rtmp://127.0.0.1:{server.port}/nosuchapp/{KEY}",
            width=W,
            height=H,
            redact=redact,
            on_state=bad_app,
        )
    )
    first = cleanup(RtmpPublisher(server.url(KEY), width=W, height=H, redact=redact))
    feeder = cleanup(Feeder(first))
    wait_for(lambda: first.state == "live", 10, "the first publisher to go live")
    second_states = States()
    second = cleanup(
        RtmpPublisher(server.url(KEY), width=W, height=H, redact=redact, on_state=second_states)
    )
    wait_for(lambda: second.state == "failed", 10, "the second publisher of one key to fail")
    wait_for(lambda: bad_app.has("failed"), 10, "the publisher to an unknown app to fail")
    for states in (bad_app, second_states):
        message = states.message("failed")
        assert message.startswith("ingest refused:") and KEY not in message
    feeder.stop()


def test_box_restart_reconnects_and_frames_flow_again(server, cleanup, tmp_path):
    pub_states, play_states = States(), States()
    relay = cleanup(Relay(server, KEY, "negate", log_dir=tmp_path))
    relay.start()
    publisher = cleanup(
        RtmpPublisher(
            server.url(KEY),
            width=W,
            height=H,
            fps=15,
            keyframe_seconds=1.0,
            redact=redact,
            on_state=pub_states,
        )
    )
    player = cleanup(
        RtmpPlayer(
            server.url(f"{KEY}-out"), redact=redact, on_state=play_states, marks=publisher.mark
        )
    )
    cleanup(Feeder(publisher, fps=15))
    wait_for(lambda: player.stats().frames >= 5, 25, "frames through the first box")

    server.stop(hard=True)  # the box crashes under a live publisher, relay and player
    wait_for(lambda: publisher.state == "reconnecting", 10, "the publisher to notice")
    lost = pub_states.message("reconnecting", first=True)
    assert lost.startswith("connection to 127.0.0.1:") and lost.endswith("retrying in 0.5 s")
    wait_for(lambda: "host unreachable" in publisher.message, 5, "retries to meet a dead host")
    seen_before = len(pub_states.names())
    frames_before = player.stats().frames
    server.start()  # same port

    wait_for(lambda: pub_states.has("live", seen_before), 15, "the publisher to go live again")
    assert publisher.stats().reconnects == 1
    wait_for(lambda: player.stats().frames >= frames_before + 5, 25, "frames to flow again")
    assert player.stats().reconnects >= 1
    wait_for(lambda: (f := player.latest) is not None and f.delay_ms is not None, 10, "a match")

    fresh = cleanup(RtmpPlayer(server.url(f"{KEY}-out"), redact=redact, marks=publisher.mark))
    wait_for(lambda: fresh.latest is not None, 25, "a fresh player to see frames")
    for played in (player.latest, fresh.latest):
        assert played is not None and bars_negated(played.image).max() < 8
    for _, message in pub_states.seen + play_states.seen:
        assert KEY not in message
    t0 = time.monotonic()
    publisher.stop()
    assert time.monotonic() - t0 < 2.5 and publisher.state == "stopped"


def test_player_reports_nothing_coming_back_and_keeps_trying(server, cleanup):
    states = States()
    t0 = time.monotonic()
    player = cleanup(
        RtmpPlayer(
            server.url(f"{KEY}-out"),
            redact=redact,
            on_state=states,
            give_up_after=1.5,
            open_timeout=2.0,
        )
    )
    wait_for(lambda: player.state == "gave_up", 5, "the player to give up")
    assert 1.4 < time.monotonic() - t0 < 4
    message = states.message("gave_up")
    assert message.startswith("nothing coming back after 1.5 s") and KEY not in message

    # still trying: once something is published there, it plays
    direct = cleanup(
        RtmpPublisher(server.url(f"{KEY}-out"), width=W, height=H, keyframe_seconds=0.5)
    )
    cleanup(Feeder(direct))
    wait_for(lambda: player.state == "playing", 15, "the player to pick the stream up")
    assert player.latest is not None and player.latest.delay_ms is None  # no marks given
    t0 = time.monotonic()
    player.stop()
    assert time.monotonic() - t0 < 2.5


def test_submit_rejects_what_is_not_an_rgb_frame_and_never_blocks(cleanup):
    publisher = cleanup(RtmpPublisher(f"rtmp://127.0.0.1:{rtmp_box.free_port()}/live/x"))
    for bad in (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32), [[0]]):
        with pytest.raises(ValueError, match="uint8"):
            publisher.submit(bad, 0.0)  # type: ignore[arg-type]
    image = np.zeros((H, W, 3), np.uint8)
    t0 = time.monotonic()
    for _ in range(200):
        publisher.submit(image, time.monotonic())
    assert time.monotonic() - t0 < 0.5
    assert publisher.stats().drops >= 199
    with pytest.raises(ValueError, match="rtmp://"):
        RtmpPublisher("http://example.com/live")
    with pytest.raises(ValueError, match="rtmp://"):
        RtmpPlayer("file:///tmp/x.flv")
