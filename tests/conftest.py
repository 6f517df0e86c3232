"""Shared fixtures: pipeline files written on the fly, and one warm worker pool."""

from __future__ import annotations

import os
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# the studio's settings, presets and caches go here, never into the real home
os.environ["STUDIO_HOME"] = tempfile.mkdtemp(prefix="studio-test-home-")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def write_pipeline(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write ``source`` (dedented) as ``tmp_path/name.py`` and return its path."""

    def write(name: str, source: str) -> Path:
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        return path

    return write


@pytest.fixture(scope="session")
def pool():
    """A warm worker pool shared by the engine tests: each start takes a ready process."""
    from studio.engine.pool import WorkerPool

    workers = WorkerPool(spares=1)
    workers.fill()
    yield workers
    workers.close()


@pytest.fixture
def make_window(qtbot, pool, tmp_path):
    """Open studio windows with settings and presets in ``tmp_path``; closed at the end."""
    from studio.presets import PresetStore
    from studio.settings import Settings
    from studio.ui.main_window import StartOptions, StudioWindow

    windows = []

    def make(options=None, settings_path=None):
        settings = Settings.load(settings_path or tmp_path / "settings.json")
        window = StudioWindow(
            options or StartOptions(),
            settings,
            pool=pool,
            presets=PresetStore(tmp_path / "presets"),
        )
        qtbot.addWidget(window)
        window.resize(1200, 700)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
