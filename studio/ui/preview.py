"""The preview panes: frames from numpy onto the screen, cheaply.

A :class:`FrameView` holds a reference to the latest frame; painting resizes it once with
OpenCV to the pane's size (kept in aspect; see :func:`scale_frame`) and blits it
through a QImage that wraps the numpy buffer without copying. A new frame or a new pane
size is the only thing that triggers that work.
"""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget


def wrap_image(image: np.ndarray) -> QImage:
    """A QImage over ``image``'s memory (uint8 H x W x 3, C-contiguous): no copy.

    The caller keeps ``image`` alive as long as the QImage is used.
    """
    height, width = image.shape[:2]
    return QImage(image.data, width, height, image.strides[0], QImage.Format.Format_RGB888)


def fit(width: int, height: int, box: QSize) -> QRect:
    """The largest rectangle of ``width:height`` aspect centred in ``box``."""
    if width <= 0 or height <= 0 or box.width() <= 0 or box.height() <= 0:
        return QRect()
    scale = min(box.width() / width, box.height() / height)
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    return QRect((box.width() - w) // 2, (box.height() - h) // 2, w, h)


def scale_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """``frame`` resized to ``width`` x ``height`` for the screen, cheaply.

    Painting runs on the GUI thread ~60 times a second, so this is the window's hottest
    code. OpenCV's INTER_AREA is fast only for integer factors (1280x720 to a 374x210 pane
    takes ~4 ms its generic way): shrink by exact halves with it, then finish with
    INTER_LINEAR (~0.5 ms, within ~1.5/255 of the one-step picture;
    ``python -m benchmarks --only preview_scaling``).
    """
    while frame.shape[1] >= 2 * width and frame.shape[0] >= 2 * height:
        even_h, even_w = frame.shape[0] // 2 * 2, frame.shape[1] // 2 * 2
        frame = cv2.resize(
            frame[:even_h, :even_w], (even_w // 2, even_h // 2), interpolation=cv2.INTER_AREA
        )
    if (frame.shape[1], frame.shape[0]) == (width, height):
        return frame
    # a small remainder is cheap to average properly (thumbnail panes alias less)
    small = frame.shape[0] * frame.shape[1] <= 1 << 16 and frame.shape[1] > width
    interpolation = cv2.INTER_AREA if small else cv2.INTER_LINEAR
    return cv2.resize(frame, (width, height), interpolation=interpolation)


class FrameView(QWidget):
    """One pane: a frame kept in aspect on black, a title, a stats line and a message."""

    double_clicked = Signal()

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 90)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._frame: np.ndarray | None = None
        self._key: object = None
        self._scaled: np.ndarray | None = None
        self._scaled_for: tuple[object, int, int] | None = None
        self._image: QImage | None = None
        self.stats = ""
        self.message = ""
        self.message_is_error = False
        self._font = QFont(self.font())
        self._font.setPointSizeF(max(8.0, self._font.pointSizeF() * 0.9))

    @property
    def frame(self) -> np.ndarray | None:
        return self._frame

    def set_frame(self, frame: np.ndarray | None, key: object = None) -> None:
        """Show ``frame``; ``key`` identifies it so an unchanged frame costs nothing."""
        key = key if key is not None else id(frame)
        if frame is self._frame and key == self._key:
            return
        self._frame, self._key = frame, key
        self.update()

    def set_overlay(
        self, stats: str | None = None, message: str | None = None, error: bool = False
    ) -> None:
        changed = False
        if stats is not None and stats != self.stats:
            self.stats, changed = stats, True
        if message is not None and (message != self.message or error != self.message_is_error):
            self.message, self.message_is_error, changed = message, error, True
        if changed:
            self.update()

    def mouseDoubleClickEvent(self, event) -> None:
        self.double_clicked.emit()
        super().mouseDoubleClickEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(12, 12, 14))
        frame = self._frame
        if frame is not None:
            self._draw_frame(painter, frame)
        self._draw_text(painter)
        painter.end()

    def _draw_frame(self, painter: QPainter, frame: np.ndarray) -> None:
        ratio = self.devicePixelRatioF()
        box = QSize(round(self.width() * ratio), round(self.height() * ratio))
        target = fit(frame.shape[1], frame.shape[0], box)
        if target.isEmpty():
            return
        wanted = (self._key, target.width(), target.height())
        if self._scaled_for != wanted:
            scaled = scale_frame(frame, target.width(), target.height())
            self._scaled = np.ascontiguousarray(scaled)
            self._image = wrap_image(self._scaled)
            self._image.setDevicePixelRatio(ratio)
            self._scaled_for = wanted
        painter.drawImage(
            QRectF(
                target.x() / ratio,
                target.y() / ratio,
                target.width() / ratio,
                target.height() / ratio,
            ),
            self._image,
        )

    def _draw_text(self, painter: QPainter) -> None:
        painter.setFont(self._font)
        metrics = painter.fontMetrics()
        pad = 6
        lines = [self.title] + ([self.stats] if self.stats else [])
        width = max(metrics.horizontalAdvance(line) for line in lines) + 2 * pad
        height = metrics.height() * len(lines) + pad
        painter.fillRect(QRect(0, 0, width, height), QColor(0, 0, 0, 150))
        painter.setPen(QColor(235, 235, 235))
        for i, line in enumerate(lines):
            painter.drawText(pad, pad // 2 + metrics.ascent() + i * metrics.height(), line)
        if self.message:
            color = QColor(255, 120, 110) if self.message_is_error else QColor(220, 220, 220)
            rect = self.rect().adjusted(20, 20, -20, -20)
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            bounds = painter.boundingRect(rect, flags, self.message).adjusted(-10, -6, 10, 6)
            painter.fillRect(bounds, QColor(0, 0, 0, 180))
            painter.setPen(color)
            painter.drawText(rect, flags, self.message)
