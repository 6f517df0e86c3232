"""The rolling window behind every per-second figure: what it keeps, forgets and counts."""

from __future__ import annotations

import pytest

from studio.rolling import Recent


def test_it_keeps_the_last_window_and_forgets_the_rest():
    recent: Recent[int] = Recent(1.0)
    for i in range(10):
        recent.add(10.0 + i * 0.25, i)  # 4 a second for 2.25 s
    assert recent.values(12.25) == [5, 6, 7, 8, 9]  # 11.25 .. 12.25
    assert recent.count(13.0) == 2  # 12.0 and 12.25 are still in
    assert recent.count(20.0) == 0
    assert recent.rate(20.0) == 0.0


def test_memory_stays_bounded_when_nobody_reads():
    recent: Recent[None] = Recent(0.5)
    for i in range(10_000):
        recent.add(i / 100, None)  # 100 a second for 100 s, never read
    assert len(recent._items) <= 51


@pytest.mark.parametrize("fps", [5.0, 30.0, 60.0])
def test_rate_is_right_from_the_first_frames(fps):
    recent: Recent[None] = Recent(1.0)
    for i in range(4):  # a fresh stream: 4 frames, the window not full yet
        recent.add(i / fps, None)
    now = 3 / fps
    assert recent.rate(now) == pytest.approx(fps)
    for i in range(4, 200):
        recent.add(i / fps, None)
    assert recent.rate(199 / fps) == pytest.approx(fps, rel=0.03)
