"""The studio window, offscreen, with real discovery, real workers and real frames."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage
from ui_helpers import WAIT, wait_running

from studio.settings import Settings
from studio.ui.main_window import StartOptions


def pane_pixels(view) -> np.ndarray:
    """What the pane shows on screen, as RGB numpy: the frame's rectangle only."""
    from studio.ui.preview import fit

    image = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    data = np.frombuffer(image.constBits(), np.uint8, image.bytesPerLine() * h)
    pixels = data.reshape(h, image.bytesPerLine())[:, : w * 3].reshape(h, w, 3)
    frame = view.frame
    assert frame is not None, f"{view.title} pane has no frame"
    rect = fit(frame.shape[1], frame.shape[0], view.size())
    # a copy: the numpy view dies with the QImage
    return pixels[rect.y() + rect.height() // 4 : rect.bottom(), rect.x() : rect.right()].copy()


def test_default_window_shows_the_test_pattern_and_its_green_shifted_output(qtbot, make_window):
    window = make_window()
    wait_running(qtbot, window, "green-shift")
    qtbot.wait(300)  # a few repaints
    shown_in, shown_out = pane_pixels(window.input_view), pane_pixels(window.output_view)
    lift = shown_out[..., 1].mean() - shown_in[..., 1].mean()
    assert lift > 45, f"green lifted by {lift:.1f} on screen"
    assert abs(shown_out[..., 0].mean() - shown_in[..., 0].mean()) < 20
    out = window.session.latest_output
    frame_in = out.input
    assert np.all(out.image[..., 1] >= frame_in[..., 1])
    assert window.state_label.text() == "RUNNING"
    # the figures refresh on their own timer (STATS_INTERVAL_MS), not with every frame
    qtbot.waitUntil(lambda: "fps" in window.output_view.stats, timeout=2000)


def test_edge_detect_follows_its_threshold_slider(qtbot, make_window):
    window = make_window(StartOptions(pipeline="edge-detect"))
    wait_running(qtbot, window, "edge-detect")
    row = window.form.field("threshold")
    assert row is not None and row.spec.kind == "float"
    row.set_value(0.0)
    qtbot.waitUntil(lambda: window.session.engine.params.get("threshold") == 0.0, timeout=WAIT)
    qtbot.wait(300)
    low = window.session.latest_output.image.astype(float).mean()
    for value in np.linspace(0.05, 0.9, 12):  # a drag: many values, coalesced
        row.set_value(float(value))
        qtbot.wait(15)
    qtbot.waitUntil(
        lambda: window.session.engine.params.get("threshold") == pytest.approx(0.9), timeout=WAIT
    )
    qtbot.wait(300)
    high = window.session.latest_output.image.astype(float).mean()
    assert high < low  # a higher threshold keeps fewer edges


def test_a_value_the_model_refuses_marks_its_field(qtbot, make_window, tmp_path):
    folder = tmp_path / "pipes"
    folder.mkdir()
    (folder / "picky.py").write_text(
        "from pydantic import Field, field_validator\n"
        "from studio import BaseParams, pipeline\n\n"
        "class Picky(BaseParams):\n"
        "    size: int = Field(4, ge=0, le=20)\n\n"
        "    @field_validator('size')\n"
        "    @classmethod\n"
        "    def even(cls, v):\n"
        "        if v % 2:\n"
        "            raise ValueError('size must be even')\n"
        "        return v\n\n"
        "@pipeline(name='picky', params=Picky)\n"
        "def picky(frame, params):\n"
        "    return frame.tensor\n"
    )
    window = make_window(StartOptions(folders=[str(folder)], pipeline="picky"))
    wait_running(qtbot, window, "picky")
    window.form.field("size").set_value(7)
    qtbot.waitUntil(lambda: window.form.field("size").error is not None, timeout=WAIT)
    assert "size must be even" in window.form.field("size").error
    assert window.session.engine.params == {"size": 4}  # the last good params stay
    window.form.field("size").set_value(8)
    qtbot.waitUntil(lambda: window.session.engine.params == {"size": 8}, timeout=WAIT)
    qtbot.waitUntil(lambda: window.form.field("size").error is None, timeout=WAIT)


def test_saving_the_file_reloads_the_pipeline(qtbot, make_window, tmp_path):
    folder = tmp_path / "pipes"
    folder.mkdir()
    path = folder / "tint.py"
    source = (
        "from studio import pipeline\n\n"
        "@pipeline(name='tint')\n"
        "def tint(frame, params):\n"
        "    t = frame.tensor\n"
        "    t[..., CHANNEL] = 1.0\n"
        "    return t\n"
    )
    path.write_text(source.replace("CHANNEL", "0"))
    window = make_window(StartOptions(folders=[str(folder)], pipeline="tint"))
    wait_running(qtbot, window, "tint")
    qtbot.waitUntil(lambda: window.session.latest_output.image[..., 0].min() == 255, timeout=WAIT)
    path.write_text(source.replace("CHANNEL", "2"))
    qtbot.waitUntil(lambda: window.session.latest_output.image[..., 2].min() == 255, timeout=WAIT)
    assert "reloading tint" in window.log.text()


def test_a_crashing_pipeline_leaves_the_window_answering(qtbot, make_window, tmp_path):
    folder = tmp_path / "pipes"
    folder.mkdir()
    (folder / "bomb.py").write_text(
        "import os\nfrom studio import pipeline\n\n"
        "@pipeline(name='bomb')\n"
        "def bomb(frame, params):\n"
        "    if frame.timestamp > 90000 * 2:\n"
        "        os._exit(1)\n"
        "    return frame.tensor\n"
    )
    window = make_window(StartOptions(folders=[str(folder)], pipeline="bomb"))
    qtbot.waitUntil(lambda: window.state == "failed", timeout=WAIT)
    ticks = []
    window.frame_timer.timeout.connect(lambda: ticks.append(1))
    qtbot.waitUntil(lambda: len(ticks) > 5, timeout=2000)  # the event loop keeps turning
    assert "exited with code 1" in window.output_view.message
    assert "exited with code 1" in window.log.text()
    window.restart()
    qtbot.waitUntil(lambda: window.state == "running", timeout=WAIT)


def test_switching_sources_and_a_missing_camera(qtbot, make_window, tmp_path, monkeypatch):
    from studio.media import Mp4Writer

    clip = tmp_path / "red.mp4"
    with Mp4Writer(clip, fps=10) as writer:
        for _ in range(10):
            writer.write(np.full((48, 64, 3), (200, 0, 0), np.uint8))
    window = make_window()
    wait_running(qtbot, window, "green-shift")
    window.source_panel.source_requested.emit(str(clip), (640, 360), 30.0, True)
    qtbot.waitUntil(
        lambda: (
            window.session.latest_input is not None
            and window.session.latest_input.image[..., 0].mean() > 150
        ),
        timeout=WAIT,
    )
    assert window.settings.last_source == str(clip)

    warnings = []
    monkeypatch.setattr(
        "studio.ui.main_window.QMessageBox.warning", lambda *a, **k: warnings.append(a[2])
    )
    window.source_panel.source_requested.emit("webcam:7", (640, 360), 30.0, True)
    assert warnings and "camera" in warnings[0].lower()
    assert window.session.source_spec == str(clip)  # the old source keeps going
    assert "cannot open source 'webcam:7'" in window.log.text()


def test_snapshot_record_and_close_with_on_stop(qtbot, make_window, tmp_path):
    import av

    marker = tmp_path / "stopped"
    folder = tmp_path / "pipes"
    folder.mkdir()
    (folder / "tidy.py").write_text(
        "from studio import Pipeline, pipeline\n\n"
        "@pipeline(name='tidy')\n"
        "class Tidy(Pipeline):\n"
        "    def transform(self, frame, params):\n"
        "        return 1 - frame.tensor\n\n"
        "    def on_stop(self):\n"
        f"        open({str(marker)!r}, 'w').write('done')\n"
    )
    window = make_window(StartOptions(folders=[str(folder)], pipeline="tidy"))
    wait_running(qtbot, window, "tidy")
    png = window.save_snapshot(tmp_path / "shot.png")
    assert png is not None and png.stat().st_size > 1000
    assert window.start_recording(tmp_path / "rec.mp4")
    qtbot.wait(1500)
    window.record_action.setChecked(False)
    with av.open(str(tmp_path / "rec.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) > 5
    window.close()
    assert marker.read_text() == "done"


def test_the_window_remembers_pipeline_source_and_params(qtbot, make_window, tmp_path):
    settings_path = tmp_path / "remember.json"
    window = make_window(StartOptions(pipeline="edge-detect"), settings_path)
    wait_running(qtbot, window, "edge-detect")
    window.form.field("threshold").set_value(0.42)
    qtbot.waitUntil(lambda: window.session.engine.params.get("threshold") == 0.42, timeout=WAIT)
    window.close()
    saved = Settings.load(settings_path)
    assert saved.last_pipeline == "edge-detect"
    assert saved.params_for("edge-detect")["threshold"] == 0.42
    again = make_window(StartOptions(), settings_path)
    wait_running(qtbot, again, "edge-detect")
    assert again.session.engine.params["threshold"] == 0.42
    assert again.form.values()["threshold"] == 0.42


def test_a_preset_round_trip_reaches_the_pipeline(qtbot, make_window):
    window = make_window(StartOptions(pipeline="edge-detect"))
    wait_running(qtbot, window, "edge-detect")
    window.presets_store.save("edge-detect", "sharp", {"threshold": 0.05, "colorize": True})
    window.presets.set_pipeline("edge-detect")
    assert window.presets.names() == ["sharp"]
    window.presets.combo.setCurrentIndex(1)
    window.presets.combo.activated.emit(1)
    qtbot.waitUntil(lambda: window.session.engine.params.get("colorize") is True, timeout=WAIT)
    assert window.form.values()["threshold"] == 0.05
