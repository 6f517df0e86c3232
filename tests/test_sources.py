"""Frame sources and the pump: the inputs every preview, bench and stream starts from."""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from studio.media import Mp4Writer
from studio.sources import (
    TIME_BASE,
    CameraInfo,
    FrameSource,
    SourceError,
    SourceFrame,
    SourcePump,
    TestPattern,
    VideoFileSource,
    WebcamSource,
    list_cameras,
    open_source,
)

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 220)]
CLIP_FPS = 10
CLIP_FRAMES = 20
ABSENT_CAMERA = 97  # no machine running the tests has /dev/video97


def mean_colour(image: np.ndarray) -> np.ndarray:
    return image.reshape(-1, 3).mean(axis=0)


def close_to(image: np.ndarray, colour: tuple[int, int, int], tolerance: float = 14) -> bool:
    return bool(np.abs(mean_colour(image) - colour).max() < tolerance)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64x48, 20 frames at 10 fps, frame i a solid COLOURS[i % 4]."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    with Mp4Writer(path, fps=CLIP_FPS) as writer:
        for i in range(CLIP_FRAMES):
            writer.write(np.full((48, 64, 3), COLOURS[i % 4], np.uint8))
    return path


def strictly_increasing(values: list[int]) -> bool:
    return all(b > a for a, b in itertools.pairwise(values))


# --- test pattern -------------------------------------------------------------------------


def test_test_pattern_frames() -> None:
    with TestPattern(320, 180, fps=25, realtime=False) as source:
        assert (source.width, source.height, source.fps) == (320, 180, 25.0)
        assert "320x180" in source.description
        frames = [source.read() for _ in range(6)]
    assert all(isinstance(f, SourceFrame) for f in frames)
    for i, frame in enumerate(frames):
        assert frame.image.shape == (180, 320, 3)
        assert frame.image.dtype == np.uint8
        assert frame.image.flags.c_contiguous
        assert frame.index == i
        assert frame.time_base == TIME_BASE
        assert frame.pts == round(i * 90_000 / 25)
    for a, b in itertools.pairwise(frames):
        assert np.any(a.image != b.image), "consecutive frames must differ (motion, counter)"
    assert strictly_increasing([f.t_capture for f in frames])


def test_test_pattern_frames_are_independent() -> None:
    source = TestPattern(160, 90, realtime=False)
    first = source.read()
    original = first.image.copy()
    first.image[:] = 0
    second = source.read()
    assert second.image.any()
    assert np.array_equal(source.render(0), original), "the static picture must stay intact"


def test_test_pattern_is_paced_in_real_time() -> None:
    source = TestPattern(64, 48, fps=50, realtime=True)
    start = time.monotonic()
    for _ in range(10):
        source.read()
    elapsed = time.monotonic() - start
    assert 0.15 <= elapsed < 1.0


def test_test_pattern_does_not_burst_after_a_stall() -> None:
    source = TestPattern(64, 48, fps=50, realtime=True)
    source.read()
    time.sleep(0.3)  # 15 frame periods late
    start = time.monotonic()
    for _ in range(6):
        source.read()
    # The first is due at once; catching up would deliver all six immediately.
    assert time.monotonic() - start >= 0.07


def test_test_pattern_close_wakes_a_waiting_read() -> None:
    source = TestPattern(64, 48, fps=1, realtime=True)
    source.read()  # the next one is due in a second
    result: list[SourceFrame | None] = []
    reader = threading.Thread(target=lambda: result.append(source.read()))
    start = time.monotonic()
    reader.start()
    time.sleep(0.05)
    source.close()
    reader.join(2)
    assert result == [None]
    assert time.monotonic() - start < 0.5
    assert source.read() is None


def test_test_pattern_is_cheap_at_720p() -> None:
    source = TestPattern(1280, 720, realtime=False)
    source.read()
    start = time.perf_counter()
    for _ in range(20):
        source.read()
    per_frame = (time.perf_counter() - start) / 20
    assert per_frame < 0.015, f"{per_frame * 1000:.1f} ms per frame"


@pytest.mark.parametrize(("size", "fps"), [((0, 0), 30), ((64, 48), 0), ((99999, 48), 30)])
def test_test_pattern_rejects_bad_settings(size: tuple[int, int], fps: float) -> None:
    with pytest.raises(SourceError, match="out of range"):
        TestPattern(*size, fps=fps)


# --- video file ---------------------------------------------------------------------------


def read_all(source: FrameSource, limit: int = 1000) -> list[SourceFrame]:
    frames = []
    while len(frames) < limit and (frame := source.read()) is not None:
        frames.append(frame)
    return frames


def test_video_file_reads_every_frame(clip: Path) -> None:
    with VideoFileSource(clip, realtime=False) as source:
        assert (source.width, source.height) == (64, 48)
        assert source.fps == pytest.approx(CLIP_FPS)
        assert "clip.mp4" in source.description
        frames = read_all(source)
        assert source.read() is None
    assert len(frames) == CLIP_FRAMES
    assert [f.index for f in frames] == list(range(CLIP_FRAMES))
    for i, frame in enumerate(frames):
        assert frame.image.shape == (48, 64, 3)
        assert frame.image.dtype == np.uint8 and frame.image.flags.c_contiguous
        assert close_to(frame.image, COLOURS[i % 4]), (i, mean_colour(frame.image))
    assert frames[0].pts == 0
    assert frames[-1].time == pytest.approx((CLIP_FRAMES - 1) / CLIP_FPS, abs=1e-3)
    assert strictly_increasing([f.pts for f in frames])


def test_video_file_frames_are_independent(clip: Path) -> None:
    with VideoFileSource(clip, realtime=False) as source:
        first = source.read()
        first.image[:] = 0
        second = source.read()
    assert close_to(second.image, COLOURS[1])


def test_video_file_loops_with_rising_timestamps(clip: Path) -> None:
    with VideoFileSource(clip, realtime=False, loop=True) as source:
        frames = read_all(source, limit=2 * CLIP_FRAMES + 5)
    assert len(frames) == 2 * CLIP_FRAMES + 5
    pts = [f.pts for f in frames]
    assert strictly_increasing(pts)
    step = 90_000 // CLIP_FPS
    assert pts[CLIP_FRAMES] - pts[CLIP_FRAMES - 1] == step, "no gap or jump at the loop"
    assert frames[2 * CLIP_FRAMES].time == pytest.approx(2 * CLIP_FRAMES / CLIP_FPS, abs=1e-3)
    assert close_to(frames[CLIP_FRAMES].image, COLOURS[0])
    assert close_to(frames[CLIP_FRAMES + 1].image, COLOURS[1])
    assert frames[-1].index == 2 * CLIP_FRAMES + 4


def test_video_file_size_option_resizes(clip: Path) -> None:
    with VideoFileSource(clip, realtime=False, size=(30, 20)) as source:
        assert (source.width, source.height) == (30, 20)
        frames = read_all(source)
    assert len(frames) == CLIP_FRAMES
    assert all(f.image.shape == (20, 30, 3) and f.image.flags.c_contiguous for f in frames)
    assert close_to(frames[2].image, COLOURS[2])


def test_video_file_is_paced_by_its_timestamps(clip: Path) -> None:
    with VideoFileSource(clip, realtime=True) as source:
        start = time.monotonic()
        read_all(source, limit=5)
        elapsed = time.monotonic() - start
    assert 0.3 <= elapsed < 1.5  # four 100 ms steps


def test_video_file_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.mp4"
    with pytest.raises(SourceError, match=r"not found.*missing.mp4"):
        VideoFileSource(missing)

    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    with pytest.raises(SourceError, match=r"cannot read .*notes.mp4"):
        VideoFileSource(text)

    with pytest.raises(SourceError, match="not a video file"):
        VideoFileSource(tmp_path)

    audio = tmp_path / "tone.m4a"
    with av.open(str(audio), "w") as container:
        stream = container.add_stream("aac", rate=44_100)
        samples = np.zeros((1, 1024), np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 44_100, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    with pytest.raises(SourceError, match=r"tone.m4a has no video stream"):
        VideoFileSource(audio)


def test_video_file_close_is_idempotent(clip: Path) -> None:
    source = VideoFileSource(clip, realtime=False)
    source.read()
    source.close()
    source.close()
    assert source.read() is None


# --- webcam -------------------------------------------------------------------------------


class FakeCapture:
    """Stands in for cv2.VideoCapture: frame k is BGR (255, k % 256, 0), every ``period`` s.

    After ``frames`` frames it fails (returns at once) or, with ``hang``, blocks like a
    device stuck in a read.
    """

    def __init__(
        self,
        frames: int = 10_000,
        period: float = 0.002,
        opened: bool = True,
        hang: bool = False,
        grey: bool = False,
    ):
        self.frames, self.period, self.opened, self.hang, self.grey = (
            frames,
            period,
            opened,
            hang,
            grey,
        )
        self.count = 0
        self.released = threading.Event()
        self.settings: dict[int, float] = {}

    def isOpened(self) -> bool:
        return self.opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.count >= self.frames:
            if self.hang:
                self.released.wait(0.5)
            return False, None
        time.sleep(self.period)
        self.count += 1
        if self.grey:
            return True, np.full((24, 32), self.count % 256, np.uint8)
        frame = np.zeros((24, 32, 3), np.uint8)
        frame[..., 0] = 255
        frame[..., 1] = self.count % 256
        return True, frame

    def set(self, prop_id: int, value: float) -> bool:
        self.settings[prop_id] = value
        return True

    def get(self, prop_id: int) -> float:
        return 25.0 if prop_id == cv2.CAP_PROP_FPS else 0.0

    def release(self) -> None:
        self.released.set()


def test_absent_camera_says_so() -> None:
    with pytest.raises(SourceError) as info:
        WebcamSource(ABSENT_CAMERA)
    message = str(info.value)
    assert f"no camera at index {ABSENT_CAMERA}" in message
    assert "pick another source" in message


def test_camera_that_does_not_open_is_released() -> None:
    fake = FakeCapture(opened=False)
    with pytest.raises(SourceError, match=r"no camera at index 3.*could not be opened"):
        WebcamSource(3, capture_factory=lambda index: fake)
    assert fake.released.is_set()

    def broken(index: int) -> FakeCapture:
        raise RuntimeError("backend exploded")

    with pytest.raises(SourceError, match="no camera at index 1: backend exploded"):
        WebcamSource(1, capture_factory=broken)


def test_webcam_delivers_rgb_and_requested_settings() -> None:
    fake = FakeCapture()
    with WebcamSource(
        2, width=320, height=240, fps=15, capture_factory=lambda index: fake
    ) as source:
        assert fake.settings[cv2.CAP_PROP_FRAME_WIDTH] == 320
        assert fake.settings[cv2.CAP_PROP_FRAME_HEIGHT] == 240
        assert fake.settings[cv2.CAP_PROP_FPS] == 15
        assert (source.width, source.height, source.fps) == (32, 24, 15.0)
        assert source.description.startswith("webcam 2")
        frame = source.read()
    assert frame.image.shape == (24, 32, 3) and frame.image.flags.c_contiguous
    assert (frame.image[..., 2] == 255).all() and (frame.image[..., 0] == 0).all(), "BGR->RGB"
    assert fake.released.wait(1)


def test_webcam_fps_comes_from_the_device_when_not_asked() -> None:
    with WebcamSource(0, capture_factory=lambda index: FakeCapture()) as source:
        assert source.fps == 25.0


def test_webcam_hands_out_only_the_newest_frame() -> None:
    fake = FakeCapture(period=0.002)
    with WebcamSource(0, capture_factory=lambda index: fake) as source:
        counters, pts = [], []
        for _ in range(5):
            time.sleep(0.05)  # a slow consumer: ~25 frames arrive meanwhile
            frame = source.read()
            counters.append(int(frame.image[0, 0, 1]))
            pts.append(frame.pts)
        assert source.dropped > 10
    steps = np.diff(counters) % 256
    assert (steps > 1).all(), f"stale frames were delivered: {counters}"
    assert strictly_increasing(pts)


def test_webcam_read_waits_for_a_new_frame() -> None:
    fake = FakeCapture(period=0.03)
    with WebcamSource(0, capture_factory=lambda index: fake) as source:
        frames = [source.read() for _ in range(4)]
    counters = [int(f.image[0, 0, 1]) for f in frames]
    assert strictly_increasing(counters), counters
    assert [f.index for f in frames] == [0, 1, 2, 3]


def test_webcam_converts_grey_frames() -> None:
    with WebcamSource(0, capture_factory=lambda index: FakeCapture(grey=True)) as source:
        frame = source.read()
    assert frame.image.shape == (24, 32, 3)


def test_webcam_that_dies_raises_and_releases() -> None:
    fake = FakeCapture(frames=5, period=0.005)
    source = WebcamSource(0, capture_factory=lambda index: fake, stall_timeout=0.3)
    start = time.monotonic()
    with pytest.raises(SourceError, match="camera 0 stopped sending frames"):
        for _ in range(100):
            source.read()
    assert time.monotonic() - start < 2.0
    assert fake.released.wait(1)
    source.close()


def test_webcam_that_hangs_raises() -> None:
    fake = FakeCapture(frames=3, period=0.005, hang=True)
    source = WebcamSource(0, capture_factory=lambda index: fake, stall_timeout=0.2)
    with pytest.raises(SourceError, match=r"camera 0 (sent no new frame|stopped sending)"):
        for _ in range(100):
            source.read()
    source.close()
    assert source.read() is None


def test_camera_without_a_first_frame_fails_at_open() -> None:
    fake = FakeCapture(frames=0)
    start = time.monotonic()
    with pytest.raises(SourceError, match="camera 0"):
        WebcamSource(0, capture_factory=lambda index: fake, first_frame_timeout=0.2)
    assert time.monotonic() - start < 2.0
    assert fake.released.wait(1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sysfs naming is Linux only")
def test_list_cameras_from_sysfs(tmp_path: Path) -> None:
    sysfs = tmp_path / "video4linux"
    for node, name, index in [
        ("video0", "Integrated Camera", "0"),
        ("video1", "Integrated Camera", "1"),  # the metadata node of the same camera
        ("video10", "USB Cam", None),
    ]:
        (sysfs / node).mkdir(parents=True)
        (sysfs / node / "name").write_text(name + "\n")
        if index is not None:
            (sysfs / node / "index").write_text(index + "\n")
    assert list_cameras(sysfs=sysfs) == [
        CameraInfo(0, "Integrated Camera"),
        CameraInfo(10, "USB Cam"),
    ]
    assert list_cameras(sysfs=sysfs)[1].spec == "webcam:10"

    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "video3").touch()
    (dev / "vhci").touch()
    assert list_cameras(sysfs=tmp_path / "absent", dev=dev) == [CameraInfo(3, "camera 3")]
    assert isinstance(list_cameras(), list)


# --- open_source --------------------------------------------------------------------------


def test_open_source_specs(clip: Path) -> None:
    with open_source("testsrc", realtime=False) as source:
        assert isinstance(source, TestPattern)
        assert (source.width, source.height, source.fps) == (1280, 720, 30.0)
    with open_source(" testsrc:320x180 ", fps=12, realtime=False) as source:
        assert (source.width, source.height, source.fps) == (320, 180, 12.0)
    with open_source("testsrc", size=(640, 360)) as source:
        assert (source.width, source.height) == (640, 360)
    with open_source(str(clip), size=(32, 24), realtime=False, loop=True) as source:
        assert isinstance(source, VideoFileSource)
        assert source.loop and not source.realtime
        assert source.read().image.shape == (24, 32, 3)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty source"),
        ("   ", "empty source"),
        ("testsrc:big", "bad size 'big'"),
        ("testsrc:0x0", "out of range"),
        ("webcam:front", "bad camera index 'front'"),
        (f"webcam:{ABSENT_CAMERA}", f"no camera at index {ABSENT_CAMERA}"),
        ("no/such/clip.mp4", "unknown source 'no/such/clip.mp4': no such file"),
    ],
)
def test_open_source_errors_are_one_clear_line(spec: str, message: str) -> None:
    with pytest.raises(SourceError) as info:
        open_source(spec)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


# --- pump ---------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.frames: list[SourceFrame] = []
        self.errors: list[Exception] = []
        self.ended = threading.Event()
        self.failed = threading.Event()

    def sink(self, frame: SourceFrame) -> None:
        self.frames.append(frame)

    def on_error(self, exc: Exception) -> None:
        self.errors.append(exc)
        self.failed.set()

    def on_end(self) -> None:
        self.ended.set()


def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_pump_delivers_and_stops_cleanly() -> None:
    source = TestPattern(64, 48, fps=50, realtime=True)
    rec = Recorder()
    pump = SourcePump(source, rec.sink, rec.on_error, rec.on_end)
    pump.start()
    assert wait_for(lambda: pump.frames >= 30)
    assert 35 <= pump.fps <= 65, pump.fps
    assert pump.stop(timeout=2)
    assert not pump.running
    assert pump.frames == len(rec.frames)
    assert [f.index for f in rec.frames] == list(range(len(rec.frames)))
    assert source.read() is None, "stop closes the source"
    assert not rec.ended.is_set() and not rec.errors, "stopping is neither an end nor an error"
    with pytest.raises(RuntimeError):
        pump.start()


def test_pump_stop_does_not_wait_for_a_slow_source() -> None:
    pump = SourcePump(TestPattern(64, 48, fps=0.5, realtime=True), lambda frame: None)
    pump.start()
    assert wait_for(lambda: pump.frames == 1)
    start = time.monotonic()
    assert pump.stop(timeout=2)
    assert time.monotonic() - start < 0.5
    assert pump.fps == 0.0


def test_pump_reports_the_end_of_a_file(clip: Path) -> None:
    rec = Recorder()
    source = VideoFileSource(clip, realtime=False)
    pump = SourcePump(source, rec.sink, rec.on_error, rec.on_end)
    pump.start()
    assert rec.ended.wait(5)
    assert wait_for(lambda: not pump.running)
    assert len(rec.frames) == pump.frames == CLIP_FRAMES
    assert not rec.errors
    pump.stop()


class FailingSource(FrameSource):
    """Three frames, then the device fails."""

    description = "failing"

    def __init__(self) -> None:
        self.count = 0
        self.closed = False

    @property
    def width(self) -> int:
        return 8

    @property
    def height(self) -> int:
        return 8

    @property
    def fps(self) -> float:
        return 30.0

    def read(self) -> SourceFrame | None:
        if self.count == 3:
            raise SourceError("device fell off")
        self.count += 1
        image = np.zeros((8, 8, 3), np.uint8)
        return SourceFrame(image, self.count, Fraction(1, 30), time.monotonic(), self.count - 1)

    def close(self) -> None:
        self.closed = True


def test_pump_reports_a_source_error_once() -> None:
    rec = Recorder()
    source = FailingSource()
    pump = SourcePump(source, rec.sink, rec.on_error, rec.on_end)
    pump.start()
    assert rec.failed.wait(3)
    assert wait_for(lambda: not pump.running)
    assert len(rec.errors) == 1 and "device fell off" in str(rec.errors[0])
    assert pump.error is rec.errors[0]
    assert len(rec.frames) == 3
    assert source.closed
    assert not rec.ended.is_set()


def test_pump_reports_a_sink_error() -> None:
    rec = Recorder()

    def sink(frame: SourceFrame) -> None:
        raise ValueError("engine refused the frame")

    pump = SourcePump(TestPattern(32, 32, realtime=False), sink, rec.on_error, rec.on_end)
    pump.start()
    assert rec.failed.wait(3)
    assert isinstance(rec.errors[0], ValueError)
    assert pump.frames == 0
    assert pump.stop()
