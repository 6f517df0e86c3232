"""Going live with real parts: nginx-rtmp on loopback, an ffmpeg relay playing the box
(negate), and a local HTTP server standing in for the gateway's update/status API."""

from __future__ import annotations

import subprocess
import sys
import time

import av
import pytest
from gateway_stub import GatewayStub
from rtmp_box import Relay, RtmpServer, free_port
from ui_helpers import WAIT, wait_running

from studio.live.config import LiveConfig
from studio.ui.main_window import StartOptions

NGINX_INGEST = (
    "rtmp://{host}:{port}/live/{key}?pipeline={model}&streamId={stream_id}&params={params}"
)
NGINX_PLAYBACK = "rtmp://{host}:{port}/live/{key}-out"


@pytest.fixture
def box(tmp_path):
    server = RtmpServer()
    server.start()
    gateway = GatewayStub()
    relays: list[Relay] = []

    def relay(key: str) -> Relay:
        r = Relay(server, key, "negate", log_dir=tmp_path)
        r.start()
        relays.append(r)
        return r

    yield server, gateway, relay
    for r in relays:
        r.stop()
    gateway.close()
    server.close()


def stream_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "studio", "stream", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_studio_stream_round_trip_records_the_box_effect(box, tmp_path):
    server, gateway, relay = box
    relay("cli-key-123")
    gateway.statuses["cli-id"] = {"state": "ONLINE"}
    recorded = tmp_path / "box.mp4"
    result = stream_cli(
        "green-shift",
        "--box",
        "127.0.0.1",
        "--rtmp-port",
        str(server.port),
        "--api-port",
        str(gateway.port),
        "--stream-key",
        "cli-key-123",
        "--stream-id",
        "cli-id",
        "--ingest-url",
        NGINX_INGEST,
        "--playback-url",
        NGINX_PLAYBACK,
        "--size",
        "320x180",
        "--params",
        '{"note": "it\'s \\"quoted\\" & spaced"}',
        "--duration",
        "12",
        "--record-box",
        str(recorded),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "connecting" in out and "live" in out
    assert "cli-key-123" not in out + result.stderr  # the key never printed
    with av.open(str(recorded)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) > 10
    # the test pattern's top-left bar is light grey (192): negated by the box it is dark
    patch = frames[-1][20:60, 5:35].astype(float)
    assert patch.mean() < 90, patch.mean()
    assert gateway.status_calls and gateway.status_calls[0] == "cli-id"


def test_studio_stream_fails_fast_with_a_reason_when_no_box(tmp_path):
    started = time.monotonic()
    result = stream_cli(
        "green-shift",
        "--box",
        "127.0.0.1",
        "--rtmp-port",
        str(free_port()),
        "--api-port",
        str(free_port()),
        "--duration",
        "30",
    )
    assert result.returncode == 1
    assert "host unreachable" in result.stderr.strip().splitlines()[-1]
    assert time.monotonic() - started < 20


def test_window_goes_live_shows_the_box_pane_and_forwards_params(qtbot, make_window, box):
    server, gateway, relay = box
    relay("ui-key-456")
    window = make_window(StartOptions(pipeline="edge-detect"))
    wait_running(qtbot, window, "edge-detect")
    config = LiveConfig(
        host="127.0.0.1",
        rtmp_port=server.port,
        api_port=gateway.port,
        stream_key="ui-key-456",
        stream_id="ui-id",
        model="edge-detect",
        ingest_template=NGINX_INGEST,
        playback_template=NGINX_PLAYBACK,
        width=320,
        height=180,
    )
    window.go_live(config)
    assert window.box_view.isVisible()
    qtbot.waitUntil(
        lambda: (
            window.live is not None
            and window.live.state == "live"
            and window.box_view.frame is not None
        ),
        timeout=WAIT,
    )
    # three panes: input, local output and the box's (negated) output of the source
    source = window.session.latest_input.image
    box_frame = window.box_view.frame
    assert box_frame.shape == (180, 320, 3)
    assert source[20:60, 10:70].mean() > 150 and box_frame[20:60, 5:35].mean() < 90
    # live params: form edits reach the gateway, in order, latest value last
    for value in (0.2, 0.3, 0.4):
        window.form.field("threshold").set_value(value)
        qtbot.wait(150)
    qtbot.waitUntil(
        lambda: gateway.updates and gateway.updates[-1].body.get("threshold") == 0.4, timeout=10_000
    )
    assert all(u.path.endswith("/ui-key-456/update") for u in gateway.updates)
    thresholds = [u.body["threshold"] for u in gateway.updates]
    assert thresholds == sorted(thresholds)
    assert "ui-key-456" not in window.log.text()
    # a gateway that answers 500 is reported, not swallowed
    gateway.update_error = (500, "boom")
    window.form.field("threshold").set_value(0.5)
    qtbot.waitUntil(lambda: "gateway error 500" in window.log.text(), timeout=10_000)
    window.stop_live()
    qtbot.waitUntil(lambda: window.live_panel.state.text() == "STOPPED", timeout=5000)
    assert window.state == "running"  # the local preview goes on
