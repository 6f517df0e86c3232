"""The window's "Serve to box": the studio as the box's runner, seen in the window."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
from test_serve import FPS, GOP, PAINT, Orchestrator, make_clip, read_index
from trickle_server import TrickleServer
from ui_helpers import WAIT, wait_running

from studio.ui.main_window import StartOptions


def test_serving_shows_the_box_stream_and_takes_control_updates(qtbot, make_window, tmp_path):
    folder = tmp_path / "pipes"
    folder.mkdir()
    (folder / "paint.py").write_text(PAINT)
    window = make_window(StartOptions(folders=[str(folder)], pipeline="paint"))
    wait_running(qtbot, window, "paint")
    window.start_serving("127.0.0.1", 0)
    qtbot.waitUntil(lambda: window.serving is not None, timeout=WAIT)
    assert window.session._pump is None  # the local preview is paused while serving
    url = window.serving.url
    clip = make_clip()  # 12 segments of 2 s, paced in real time
    done = threading.Event()
    errors: list[BaseException] = []

    def orchestrate() -> None:
        async def main() -> None:
            with TrickleServer() as trickle:
                async with Orchestrator(trickle, url) as orch:
                    stream = orch.new_stream("ui-job")
                    await orch.start(stream, params={"red": 1.0})
                    origin = time.monotonic()
                    for number, segment in enumerate(clip):
                        if number == 8:
                            await orch.control(stream, {"red": 0.0})
                        await orch.publish(stream, number, segment, origin)
                    deadline = time.monotonic() + 20
                    while len(stream.seen) < 8 * GOP and time.monotonic() < deadline:
                        await asyncio.sleep(0.1)

        try:
            asyncio.run(main())
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    threading.Thread(target=orchestrate, daemon=True).start()
    # the input pane shows what the box sends, the output pane what goes back (red = 255)
    qtbot.waitUntil(
        lambda: (
            window.input_view.frame is not None and window.input_view.frame.shape == (240, 320, 3)
        ),
        timeout=WAIT,
    )
    qtbot.waitUntil(
        lambda: (
            window.output_view.frame is not None
            and window.output_view.frame[100:150, 100:300, 0].mean() > 230
        ),
        timeout=WAIT,
    )
    assert 0 <= read_index(window.input_view.frame) < len(clip) * GOP
    assert "serving paint" in window.stats_label.text()
    # saving the file reloads the served pipeline without dropping the stream
    (folder / "paint.py").write_text(
        PAINT.replace(
            "tensor[..., 0] = params.red", "tensor[..., 0] = params.red\n    tensor[..., 1] = 1.0"
        )
    )
    qtbot.waitUntil(
        lambda: window.output_view.frame[100:150, 100:300, 1].mean() > 230, timeout=WAIT
    )
    assert not done.is_set()  # the same stream goes on
    # the box's control message reaches the pipeline and shows up in the form
    qtbot.waitUntil(lambda: window.form.values().get("red") == 0.0, timeout=WAIT)
    qtbot.waitUntil(lambda: window.output_view.frame[100:150, 100:300, 0].mean() < 25, timeout=WAIT)
    qtbot.waitUntil(done.is_set, timeout=len(clip) * GOP / FPS * 1000 + WAIT)
    assert not errors, errors
    window.stop_serving()
    qtbot.waitUntil(lambda: window.session._pump is not None, timeout=5000)
    qtbot.waitUntil(
        lambda: (
            window.session.latest_input is not None
            and window.session.latest_input.image.shape[:2] != (240, 320)
        ),
        timeout=WAIT,
    )
    assert np.any(window.session.latest_input.image)
