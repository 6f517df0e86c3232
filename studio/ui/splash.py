"""The start-up splash: something on screen while the window's imports load.

The main window needs numpy, OpenCV, PyAV and pydantic, over a second of imports on a small
machine (docs/performance.md). This module needs only QtGui/QtWidgets, so the splash is up
a few hundred milliseconds after launch and says what is loading until the window replaces it.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QIcon,
    QLinearGradient,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
)
from PySide6.QtWidgets import QApplication, QWidget

TITLE = "Livepeer Pipeline Studio"
_BG, _FG, _DIM, _ACCENT = "#141418", "#ececec", "#9a9aa6", "#00eb88"


def _mark(painter: QPainter, box: QRectF) -> None:
    """The studio's mark: two frames side by side, input and output, with a green edge."""
    w, h = box.width(), box.height()
    pane = QRectF(0, 0, w * 0.42, h * 0.5)
    for i, colour in enumerate(("#3a3a46", _ACCENT)):
        rect = pane.translated(box.x() + w * (0.05 + 0.51 * i), box.y() + h * 0.25)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(colour))
        painter.drawRoundedRect(rect, w * 0.05, w * 0.05)
    painter.setBrush(QColor(_FG))
    cx, cy, r = box.x() + w * 0.26, box.y() + h * 0.5, h * 0.11
    painter.drawEllipse(QRectF(cx - r, cy - r, 2 * r, 2 * r))


def app_icon() -> QIcon:
    """The window icon, drawn at a few sizes (no image files to ship or find)."""
    icon = QIcon()
    for size in (16, 32, 64, 128):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(QColor(_BG))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(QRectF(0, 0, size, size), size * 0.18, size * 0.18)
        _mark(painter, QRectF(0, 0, size, size))
        painter.end()
        icon.addPixmap(pixmap)
    return icon


def _picture(width: int = 520, height: int = 220) -> QPixmap:
    pixmap = QPixmap(width, height)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    shade = QLinearGradient(0, 0, 0, height)
    shade.setColorAt(0, QColor("#1c1c22"))
    shade.setColorAt(1, QColor(_BG))
    painter.fillRect(pixmap.rect(), shade)
    painter.fillRect(0, height - 3, width, 3, QColor(_ACCENT))
    _mark(painter, QRectF(28, 40, 110, 110))
    title = QFont()
    title.setPointSize(17)
    title.setBold(True)
    painter.setFont(title)
    painter.setPen(QColor(_FG))
    painter.drawText(QRectF(160, 58, width - 180, 36), Qt.AlignmentFlag.AlignLeft, TITLE)
    small = QFont()
    small.setPointSize(10)
    painter.setFont(small)
    painter.setPen(QColor(_DIM))
    painter.drawText(
        QRectF(160, 98, width - 180, 40),
        Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap,
        "Preview, tweak and stream live video AI.",
    )
    painter.end()
    return pixmap


class StartupSplash(QWidget):
    """The splash, with a progress line: ``step("Loading ...")`` repaints at once.

    A plain frameless widget rather than QSplashScreen, whose ``show()`` waits up to a
    second for the window system to expose it (it always waits on the offscreen platform).
    """

    def __init__(self) -> None:
        super().__init__(None, Qt.WindowType.SplashScreen | Qt.WindowType.FramelessWindowHint)
        self._picture = _picture()
        self._message = ""
        self.setFixedSize(self._picture.size())
        self.setWindowTitle(TITLE)
        self.setWindowIcon(app_icon())
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        screen = QApplication.primaryScreen()
        if screen is not None:
            centre = screen.availableGeometry().center()
            self.move(centre.x() - self.width() // 2, centre.y() - self.height() // 2)

    def message(self) -> str:
        return self._message

    def step(self, message: str) -> None:
        self._message = message
        self.repaint()
        QApplication.processEvents()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._picture)
        painter.setPen(QColor(_DIM))
        painter.drawText(
            QRectF(20, self.height() - 34, self.width() - 40, 24),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            self._message,
        )
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.hide()  # a click puts it away, as splash screens do

    def done(self, window: QWidget) -> None:
        """Close once ``window`` is shown (it is, when called after ``window.show()``)."""
        window.raise_()
        self.close()


def show_splash() -> StartupSplash:
    splash = StartupSplash()
    splash.show()
    splash.step("Starting ...")
    return splash
