"""The gateway API client, the coalescing params forwarder and the status poller, against a real
local HTTP server (tests/gateway_stub.py) and raw sockets that misbehave."""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from gateway_stub import GatewayStub

from studio.live.config import LiveConfig
from studio.live.gateway import GatewayClient, GatewayError, ParamsForwarder, StatusPoller

KEY = "s3cr3t-key"


@pytest.fixture
def stub() -> Iterator[GatewayStub]:
    with GatewayStub() as server:
        yield server


@pytest.fixture
def client(stub: GatewayStub) -> GatewayClient:
    cfg = LiveConfig(host=stub.host, api_port=stub.port, stream_key=KEY, model="m")
    return GatewayClient.from_config(cfg, timeout=2.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Results:
    """Collects ``on_result`` calls from the forwarder's thread."""

    def __init__(self) -> None:
        self.items: queue.Queue[tuple[bool, str]] = queue.Queue()

    def __call__(self, ok: bool, message: str) -> None:
        self.items.put((ok, message))

    def next(self, timeout: float = 3.0) -> tuple[bool, str]:
        return self.items.get(timeout=timeout)

    def drain(self) -> list[tuple[bool, str]]:
        found = []
        while not self.items.empty():
            found.append(self.items.get_nowait())
        return found


# -- the client ------------------------------------------------------------------------------


def test_update_posts_json_to_the_key(stub: GatewayStub, client: GatewayClient) -> None:
    client.update(KEY, {"prompt": "a 'b' \"c\"", "strength": 0.25})
    [record] = stub.updates
    assert record.path == f"/live/video-to-video/{KEY}/update"
    assert record.content_type == "application/json"
    assert record.body == {"prompt": "a 'b' \"c\"", "strength": 0.25}


def test_update_encodes_an_odd_key(stub: GatewayStub, client: GatewayClient) -> None:
    client.update("a+b&c", {})
    [record] = stub.updates
    assert record.path == "/live/video-to-video/a%2Bb%26c/update"
    assert record.key == "a+b&c"
    assert record.body == {}


def test_update_404_names_no_key(stub: GatewayStub, client: GatewayClient) -> None:
    stub.update_error = (404, f"stream {KEY} not found")
    with pytest.raises(GatewayError) as info:
        client.update(KEY, {"x": 1})
    assert str(info.value) == "the box has no stream **** (not live yet, or it ended)"


def test_update_500_shows_a_short_body_without_the_key(
    stub: GatewayStub, client: GatewayClient
) -> None:
    stub.update_error = (500, f"boom: runner for {KEY} crashed\n" + "x" * 5000)
    with pytest.raises(GatewayError) as info:
        client.update(KEY, {"x": 1})
    message = str(info.value)
    assert message.startswith("gateway error 500: boom: runner for **** crashed")
    assert KEY not in message
    assert len(message) < 300


def test_update_other_4xx(stub: GatewayStub, client: GatewayClient) -> None:
    stub.update_error = (400, "bad params")
    with pytest.raises(GatewayError, match=r"refused the request \(400\): bad params"):
        client.update(KEY, {"x": 1})


def test_update_refuses_non_json_params(client: GatewayClient) -> None:
    with pytest.raises(GatewayError, match="not JSON"):
        client.update(KEY, {"x": float("inf")})


def test_status_returns_the_json(stub: GatewayStub, client: GatewayClient) -> None:
    stub.statuses["sid-1"] = {"gateway_status": {"ingest": "ok"}, "state": "ONLINE"}
    assert client.status("sid-1") == {"gateway_status": {"ingest": "ok"}, "state": "ONLINE"}
    assert stub.status_calls == ["sid-1"]


def test_status_404(stub: GatewayStub, client: GatewayClient) -> None:
    with pytest.raises(GatewayError) as info:
        client.status("sid-9")
    assert str(info.value) == "no status for stream id sid-9 yet"


def test_status_not_json(stub: GatewayStub, client: GatewayClient) -> None:
    stub.statuses["sid-1"] = "<html>oops</html>"
    with pytest.raises(GatewayError, match="status is not JSON: '<html>oops</html>'"):
        client.status("sid-1")
    stub.statuses["sid-1"] = "[1, 2]"
    with pytest.raises(GatewayError, match="not a JSON object"):
        client.status("sid-1")


def test_status_500(stub: GatewayStub, client: GatewayClient) -> None:
    stub.status_error = (503, "")
    with pytest.raises(GatewayError, match="gateway error 503: Service Unavailable"):
        client.status("sid-1")


def test_refused_port_is_reported_at_once() -> None:
    port = free_port()
    client = GatewayClient("127.0.0.1", port, timeout=2.0)
    started = time.monotonic()
    with pytest.raises(GatewayError) as info:
        client.update(KEY, {})
    assert time.monotonic() - started < 1.0
    assert str(info.value) == (
        f"gateway API unreachable at http://127.0.0.1:{port} "
        "(is the box running? connection refused)"
    )


def test_silent_server_times_out() -> None:
    """A port that accepts connections (the backlog) but never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        client = GatewayClient("127.0.0.1", port, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(GatewayError) as info:
            client.status("sid-1")
        assert time.monotonic() - started < 1.0
    assert "unreachable" in str(info.value)
    assert "no answer within 0.3 s" in str(info.value)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n",  # then the body, byte by byte
        b"HTTP/1.1 200 OK\r\nX-Slow: ",  # then an endless header line
    ],
)
def test_dribbling_server_cannot_stretch_the_deadline(head: bytes) -> None:
    """A byte every 50 ms keeps each socket read alive; the request's deadline still holds."""
    stop = threading.Event()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def dribble() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(head)
                while not stop.wait(0.05):
                    try:
                        conn.sendall(b"x")
                    except OSError:
                        return

        thread = threading.Thread(target=dribble, daemon=True)
        thread.start()
        client = GatewayClient("127.0.0.1", port, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(GatewayError, match=r"no answer within 0\.5 s"):
            client.status("sid-1")
        assert time.monotonic() - started < 1.2
        stop.set()
        thread.join(2)


# -- the forwarder ---------------------------------------------------------------------------


def test_each_change_arrives_in_order(stub: GatewayStub, client: GatewayClient) -> None:
    results = Results()
    with ParamsForwarder(client, KEY, on_result=results) as forwarder:
        for value in range(5):
            assert forwarder.send({"strength": value / 10, "prompt": f"p {value}"})
            assert results.next() == (True, "params sent")
    assert [r.body for r in stub.updates] == [
        {"strength": value / 10, "prompt": f"p {value}"} for value in range(5)
    ]
    assert all(r.path == f"/live/video-to-video/{KEY}/update" for r in stub.updates)


def test_rapid_changes_keep_order_and_end_on_the_last(
    stub: GatewayStub, client: GatewayClient
) -> None:
    results = Results()
    with ParamsForwarder(client, KEY, on_result=results) as forwarder:
        for value in range(50):
            forwarder.send({"v": value})
        assert forwarder.wait_idle(5)
    values = [r.body["v"] for r in stub.updates]
    assert values == sorted(set(values))  # in order, never repeated
    assert values[-1] == 49
    assert stub.max_in_flight == 1  # one request at a time
    assert results.drain() == [(True, "params sent")] * len(values)


def test_slow_gateway_coalesces(stub: GatewayStub, client: GatewayClient) -> None:
    stub.delay = 0.3
    results = Results()
    forwarder = ParamsForwarder(client, KEY, on_result=results)
    started = time.monotonic()
    for value in range(20):
        forwarder.send({"v": value})
        time.sleep(0.005)
    assert time.monotonic() - started < 0.3  # send never waits for the network
    assert forwarder.wait_idle(5)
    forwarder.close()
    values = [r.body["v"] for r in stub.updates]
    assert 1 <= len(values) <= 3, values  # 0 first, then 19 (unless the thread started late)
    assert values == sorted(values)
    assert values[-1] == 19
    assert len(results.drain()) == len(values)


def test_the_snapshot_is_taken_at_send(stub: GatewayStub, client: GatewayClient) -> None:
    params = {"v": [1]}
    with ParamsForwarder(client, KEY) as forwarder:
        forwarder.send(params)
        params["v"].append(2)
        assert forwarder.wait_idle(3)
    assert stub.updates[-1].body == {"v": [1]}


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ((404, "stream not found"), "the box has no stream **** (not live yet, or it ended)"),
        ((500, f"runner {KEY} died"), "gateway error 500: runner **** died"),
    ],
)
def test_failures_reach_on_result(
    stub: GatewayStub, client: GatewayClient, error: tuple[int, str], expected: str
) -> None:
    stub.update_error = error
    results = Results()
    with ParamsForwarder(client, KEY, on_result=results) as forwarder:
        forwarder.send({"x": 1})
        assert results.next() == (False, expected)
        stub.update_error = None
        forwarder.send({"x": 2})
        assert results.next() == (True, "params sent")


def test_unreachable_reported_within_the_timeout() -> None:
    results = Results()
    client = GatewayClient("127.0.0.1", free_port(), timeout=0.5)
    with ParamsForwarder(client, KEY, on_result=results) as forwarder:
        started = time.monotonic()
        forwarder.send({"x": 1})
        ok, message = results.next(timeout=2)
        assert time.monotonic() - started < 1.0
    assert not ok
    assert message.startswith("gateway API unreachable at http://127.0.0.1:")


def test_non_json_params_reported_and_the_next_goes_through(
    stub: GatewayStub, client: GatewayClient
) -> None:
    results = Results()
    with ParamsForwarder(client, KEY, on_result=results) as forwarder:
        forwarder.send({"x": object()})
        ok, message = results.next()
        assert not ok
        assert "not JSON" in message
        forwarder.send({"x": 2})
        assert results.next() == (True, "params sent")
    assert [r.body for r in stub.updates] == [{"x": 2}]


def test_close_still_sends_the_last_value(stub: GatewayStub, client: GatewayClient) -> None:
    stub.delay = 0.2
    forwarder = ParamsForwarder(client, KEY)
    forwarder.send({"v": 1})
    assert stub.wait_in_flight(1)
    forwarder.send({"v": 2})
    forwarder.close()
    assert [r.body for r in stub.updates] == [{"v": 1}, {"v": 2}]
    assert forwarder.send({"v": 3}) is False


def test_close_is_prompt_when_idle(client: GatewayClient) -> None:
    forwarder = ParamsForwarder(client, KEY)
    started = time.monotonic()
    forwarder.close()
    assert time.monotonic() - started < 0.2


def test_a_failing_callback_does_not_stop_the_forwarder(
    stub: GatewayStub, client: GatewayClient
) -> None:
    calls: list[bool] = []

    def explode(ok: bool, message: str) -> None:
        calls.append(ok)
        raise RuntimeError("callback bug")

    with ParamsForwarder(client, KEY, on_result=explode) as forwarder:
        forwarder.send({"v": 1})
        assert forwarder.wait_idle(3)
        forwarder.send({"v": 2})
        assert forwarder.wait_idle(3)
    assert calls == [True, True]
    assert [r.body for r in stub.updates] == [{"v": 1}, {"v": 2}]


# -- the status poller -----------------------------------------------------------------------


def test_poller_reports_the_status(stub: GatewayStub, client: GatewayClient) -> None:
    stub.statuses["sid-1"] = {"state": "ONLINE", "gateway_status": {"fps": 30}}
    seen: queue.Queue[tuple[object, object]] = queue.Queue()
    poller = StatusPoller(client, "sid-1", 0.05, on_status=lambda s, e: seen.put((s, e)))
    first = seen.get(timeout=3)
    second = seen.get(timeout=3)
    poller.close()
    assert first == second == ({"state": "ONLINE", "gateway_status": {"fps": 30}}, None)
    calls, reports = len(stub.status_calls), seen.qsize()
    time.sleep(0.2)
    assert (len(stub.status_calls), seen.qsize()) == (calls, reports)  # nothing after close()


def test_poller_reports_404(stub: GatewayStub, client: GatewayClient) -> None:
    seen: queue.Queue[tuple[object, object]] = queue.Queue()
    with StatusPoller(client, "nope", 0.05, on_status=lambda s, e: seen.put((s, e))):
        assert seen.get(timeout=3) == (None, "no status for stream id nope yet")
        stub.statuses["nope"] = {"state": "LOADING"}
        deadline = time.monotonic() + 3
        while seen.get(timeout=3) != ({"state": "LOADING"}, None):
            assert time.monotonic() < deadline


def test_poller_close_is_prompt(stub: GatewayStub, client: GatewayClient) -> None:
    seen: queue.Queue[tuple[object, object]] = queue.Queue()
    poller = StatusPoller(client, "sid-1", 10.0, on_status=lambda s, e: seen.put((s, e)))
    seen.get(timeout=3)
    started = time.monotonic()
    poller.close()
    assert time.monotonic() - started < 0.3


def test_an_unexpected_error_is_reported_not_swallowed() -> None:
    results = Results()
    client = GatewayClient("bad\x00host", 1, timeout=0.5)  # http.client refuses the URL
    with ParamsForwarder(client, KEY, on_result=results) as forwarder:
        forwarder.send({"x": 1})
        ok, message = results.next()
        assert not ok
        assert message.startswith("params not sent: InvalidURL")
        forwarder.send({"x": 2})  # the thread survived
        assert results.next()[0] is False
