"""The start-up splash: up before the heavy imports, says what loads, leaves with the window."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PySide6.QtWidgets import QWidget

from studio.ui.splash import TITLE, StartupSplash, app_icon


def test_the_splash_needs_only_qt():
    code = (
        "import sys; import studio.ui.splash; "
        "heavy = [m for m in ('numpy', 'cv2', 'av', 'pydantic', 'torch') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_progress_shows_and_the_splash_closes_once_the_window_is_up(qtbot):
    splash = StartupSplash()
    qtbot.addWidget(splash)
    splash.show()
    splash.step("Loading numpy ...")
    assert splash.message() == "Loading numpy ..."
    picture = splash.grab().toImage()
    assert picture.width() > 400 and picture.height() > 150
    # the picture is drawn, not blank: dark background, a bright title somewhere
    colours = {picture.pixelColor(x, y).lightness() for x in range(0, 500, 7) for y in (70, 75)}
    assert min(colours) < 40 and max(colours) > 180
    assert splash.windowTitle() == TITLE
    window = QWidget()
    qtbot.addWidget(window)
    window.show()
    splash.done(window)
    qtbot.waitUntil(lambda: not splash.isVisible(), timeout=5000)


def test_the_icon_has_small_and_large_sizes():
    sizes = {(s.width(), s.height()) for s in app_icon().availableSizes()}
    assert {(16, 16), (128, 128)} <= sizes


APP = r"""
import sys, types
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
seen = []

class Watch(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            kind = type(obj).__name__
            if kind == "StartupSplash" and "splash" not in seen:
                seen.append("splash")
                heavy = [m for m in ("numpy", "pydantic", "studio.ui.main_window")
                         if m in sys.modules]
                seen.append(f"loaded before the splash: {heavy}")
            elif kind == "StudioWindow" and "window" not in seen:
                seen.append("window")
                QTimer.singleShot(300, finish)
        return False

def finish():
    splash = [w for w in app.topLevelWidgets() if type(w).__name__ == "StartupSplash"]
    seen.append(f"splash visible at the end: {any(w.isVisible() for w in splash)}")
    for w in app.topLevelWidgets():
        if type(w).__name__ == "StudioWindow":
            w.close()
    app.quit()

watch = Watch()
app.installEventFilter(watch)
QTimer.singleShot(60_000, finish)
from studio.ui.app import run_app
code = run_app(types.SimpleNamespace(pipelines=[], pipeline=None, input=None, params=None))
print(seen, code)
"""


def test_the_app_shows_the_splash_first_then_the_window(tmp_path):
    import os

    env = dict(os.environ, STUDIO_HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(
        [sys.executable, "-c", APP], capture_output=True, text=True, env=env, timeout=90
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == (
        "['splash', 'loaded before the splash: []', 'window', 'splash visible at the end: False'] 0"
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="watches /proc for the worker")
def test_a_polite_kill_closes_the_app_cleanly(tmp_path):
    import os
    import signal
    import time

    env = dict(os.environ, STUDIO_HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    app = subprocess.Popen(
        [sys.executable, "-m", "studio"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        # wait for the window: it writes nothing before it closes, so watch for the worker
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _children(app.pid):
            time.sleep(0.2)
        assert _children(app.pid), "the app started no worker"
        time.sleep(1.0)
        app.send_signal(signal.SIGTERM)
        _, err = app.communicate(timeout=30)
    finally:
        if app.poll() is None:
            app.kill()
            app.communicate()
    assert app.returncode == 0, err[-2000:]
    assert "leaked" not in err and "Traceback" not in err, err[-2000:]
    assert list(tmp_path.rglob("settings.json")), "settings were not saved on the way out"


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []
