"""The preview's frame scaling: the right size, and the picture a one-step resize gives."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from studio.ui.preview import scale_frame


def _picture(width: int, height: int) -> np.ndarray:
    """Gradients and a sharp grid: smooth and high-frequency content both."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.empty((height, width, 3), np.uint8)
    image[..., 0] = (x * 255 // max(1, width - 1)).astype(np.uint8)
    image[..., 1] = (y * 255 // max(1, height - 1)).astype(np.uint8)
    image[..., 2] = np.where((x // 16 + y // 16) % 2 == 0, 230, 20)
    return image


@pytest.mark.parametrize(
    "size", [(374, 210), (560, 315), (900, 506), (640, 360), (320, 180), (101, 57)]
)
def test_shrinking_matches_area_averaging(size):
    frame = _picture(1280, 720)
    width, height = size
    scaled = scale_frame(frame, width, height)
    assert scaled.shape == (height, width, 3)
    assert scaled.dtype == np.uint8
    reference = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    difference = np.abs(scaled.astype(np.int16) - reference.astype(np.int16))
    assert difference.mean() < 3.0, difference.mean()


def test_odd_sizes_and_enlarging():
    frame = _picture(1281, 721)  # odd: halving crops one row/column, never reads past the end
    assert scale_frame(frame, 300, 169).shape == (169, 300, 3)
    small = _picture(160, 90)
    big = scale_frame(small, 640, 360)
    assert big.shape == (360, 640, 3)
    assert abs(int(big[..., 0].mean()) - int(small[..., 0].mean())) <= 2


def test_same_size_is_the_frame_itself():
    frame = _picture(640, 360)
    assert scale_frame(frame, 640, 360) is frame
