"""Mp4Writer: what a recording must be when read back by an ordinary decoder."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import av
import numpy as np
import pytest

from studio.media import MediaError, Mp4Writer

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 220)]


def solid(width: int, height: int, colour: tuple[int, int, int]) -> np.ndarray:
    return np.full((height, width, 3), colour, np.uint8)


def read_back(path: Path) -> tuple[list[tuple[float, np.ndarray]], dict[str, object]]:
    """Decoded frames as (seconds, RGB image), and the stream's codec, pix_fmt and rate."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        info = {
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
            "rate": float(stream.average_rate or 0),
        }
        frames = [
            (float(frame.pts * frame.time_base), frame.to_ndarray(format="rgb24"))
            for frame in container.decode(stream)
        ]
    return frames, info


def test_frames_round_trip_as_h264(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    with Mp4Writer(path, fps=30.0) as writer:
        for i in range(12):
            writer.write(solid(64, 48, COLOURS[i % 4]))
        assert writer.frames_written == 12
        assert writer.size == (64, 48)
    frames, info = read_back(path)
    assert info["codec"] == "h264"
    assert info["pix_fmt"] == "yuv420p"
    assert info["rate"] == pytest.approx(30.0, rel=0.01)
    assert len(frames) == 12
    for i, (_, image) in enumerate(frames):
        assert image.shape == (48, 64, 3)
        mean = image.reshape(-1, 3).mean(axis=0)
        assert np.abs(mean - COLOURS[i % 4]).max() < 12, (i, mean)
    times = [t for t, _ in frames]
    assert times[0] == pytest.approx(0.0)
    assert all(b > a for a, b in itertools.pairwise(times))
    assert times[-1] == pytest.approx(11 / 30, abs=1e-3)


def test_odd_first_size_is_rounded_down_to_even(tmp_path: Path) -> None:
    path = tmp_path / "odd.mp4"
    image = solid(65, 49, COLOURS[1])
    image[:, -1] = 0  # the column that must be cropped away, not scaled in
    with Mp4Writer(path) as writer:
        writer.write(image)
        writer.write(image)
        assert writer.size == (64, 48)
    frames, _ = read_back(path)
    assert [f.shape for _, f in frames] == [(48, 64, 3)] * 2
    assert np.abs(frames[0][1][:, -1].astype(int) - COLOURS[1]).max() < 16


def test_later_frames_of_another_size_are_rescaled(tmp_path: Path) -> None:
    path = tmp_path / "resize.mp4"
    with Mp4Writer(path, fps=10) as writer:
        writer.write(solid(64, 48, COLOURS[0]))
        writer.write(solid(160, 90, COLOURS[2]))
        writer.write(solid(30, 20, COLOURS[3]))
    frames, _ = read_back(path)
    assert [f.shape for _, f in frames] == [(48, 64, 3)] * 3
    for (_, image), colour in zip(frames, [COLOURS[0], COLOURS[2], COLOURS[3]], strict=True):
        assert np.abs(image.reshape(-1, 3).mean(axis=0) - colour).max() < 12


def test_given_pts_are_relative_and_never_go_backwards(tmp_path: Path) -> None:
    path = tmp_path / "pts.mp4"
    given = [100.0, 100.1, 100.1, 100.05, 100.3]  # a repeat and a step back
    with Mp4Writer(path, fps=10) as writer:
        for i, seconds in enumerate(given):
            writer.write(solid(32, 32, COLOURS[i % 4]), pts_seconds=seconds)
    frames, _ = read_back(path)
    times = [t for t, _ in frames]
    assert len(times) == 5
    assert times[0] == pytest.approx(0.0)
    assert times[1] == pytest.approx(0.1, abs=1e-3)
    assert all(b > a for a, b in itertools.pairwise(times))
    assert times[-1] == pytest.approx(0.3, abs=1e-3)


def test_bad_path_names_the_file(tmp_path: Path) -> None:
    missing_dir = tmp_path / "no" / "such" / "dir" / "out.mp4"
    with pytest.raises(MediaError, match=r"out\.mp4"):
        Mp4Writer(missing_dir)
    with pytest.raises(MediaError, match=re.escape(tmp_path.name)):
        Mp4Writer(tmp_path)  # a directory


def test_close_is_idempotent_and_final(tmp_path: Path) -> None:
    path = tmp_path / "x.mp4"
    writer = Mp4Writer(path)
    writer.write(solid(16, 16, COLOURS[0]))
    writer.close()
    writer.close()
    assert path.stat().st_size > 0
    with pytest.raises(MediaError, match="closed"):
        writer.write(solid(16, 16, COLOURS[0]))


def test_no_frames_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    with Mp4Writer(path):
        assert path.exists()  # created at once so that a bad path fails early
    assert not path.exists()


def test_rejects_images_that_are_not_rgb_uint8(tmp_path: Path) -> None:
    with Mp4Writer(tmp_path / "y.mp4") as writer:
        with pytest.raises(ValueError, match="uint8"):
            writer.write(np.zeros((16, 16, 3), np.float32))
        with pytest.raises(ValueError, match="uint8"):
            writer.write(np.zeros((16, 16), np.uint8))
        assert writer.frames_written == 0
