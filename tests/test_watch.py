"""The polling watcher: in-place writes, atomic saves, deletes, re-creates, bursts, stopping."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from studio.watch import FileWatcher, file_signature

INTERVAL = 0.02
DEBOUNCE = 0.1


def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll ``condition`` until true or ``timeout``; no fixed long sleeps."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class Recorder:
    """Collects callback calls, from the watcher's thread."""

    def __init__(self) -> None:
        self.calls: list[list[Path]] = []
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def __call__(self, paths: list[Path]) -> None:
        with self._lock:
            self.calls.append(list(paths))
            self.threads.append(threading.current_thread())

    def count(self) -> int:
        with self._lock:
            return len(self.calls)


@pytest.fixture
def make_watcher() -> Iterator[Callable[..., tuple[FileWatcher, Recorder]]]:
    watchers: list[FileWatcher] = []

    def make(paths: list[Path], **kwargs: float) -> tuple[FileWatcher, Recorder]:
        recorder = Recorder()
        kwargs.setdefault("interval", INTERVAL)
        kwargs.setdefault("debounce", DEBOUNCE)
        watcher = FileWatcher(paths, recorder, **kwargs)
        watcher.start()
        watchers.append(watcher)
        return watcher, recorder

    yield make
    for watcher in watchers:
        watcher.stop()


def settle() -> None:
    """Long enough for a spurious extra callback to show up."""
    time.sleep(DEBOUNCE + 5 * INTERVAL)


def test_in_place_write(tmp_path: Path, make_watcher) -> None:
    path = tmp_path / "pipe.py"
    path.write_text("a = 1\n")
    other = tmp_path / "other.py"
    other.write_text("b = 1\n")
    inode = path.stat().st_ino
    _, rec = make_watcher([path, other])
    path.write_text("a = 22\n")
    assert path.stat().st_ino == inode  # really in place
    assert wait_for(lambda: rec.count() == 1)
    assert rec.calls == [[path]]
    assert rec.threads[0] is not threading.current_thread()
    assert rec.threads[0].daemon
    settle()
    assert rec.count() == 1


def test_atomic_rename_over_save(tmp_path: Path, make_watcher) -> None:
    path = tmp_path / "pipe.py"
    path.write_text("a = 1\n")
    _, rec = make_watcher([path])
    tmp = tmp_path / ".pipe.py.swp"
    tmp.write_text("a = 2\n")
    os.replace(tmp, path)
    assert wait_for(lambda: rec.count() == 1)
    assert rec.calls == [[path]]


def test_same_size_and_mtime_but_new_inode_is_a_change(tmp_path: Path) -> None:
    path = tmp_path / "pipe.py"
    path.write_text("a = 1\n")
    before = path.stat()
    keep = tmp_path / "keep"  # hold the old inode so it cannot be reused
    os.link(path, keep)
    tmp = tmp_path / "tmp"
    tmp.write_text("a = 2\n")
    os.utime(tmp, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(tmp, path)
    after = file_signature(path)
    assert after is not None
    assert after[:2] == (before.st_mtime_ns, before.st_size)
    assert after != file_signature(keep)


def test_delete_then_recreate(tmp_path: Path, make_watcher) -> None:
    path = tmp_path / "pipe.py"
    path.write_text("a = 1\n")
    _, rec = make_watcher([path])
    path.unlink()
    assert wait_for(lambda: rec.count() == 1)
    assert rec.calls == [[path]]
    path.write_text("a = 2\n")
    assert wait_for(lambda: rec.count() == 2)
    assert rec.calls[1] == [path]


def test_watch_a_file_that_does_not_exist_yet(tmp_path: Path, make_watcher) -> None:
    path = tmp_path / "later.py"
    _, rec = make_watcher([path])
    settle()
    assert rec.count() == 0
    path.write_text("x")
    assert wait_for(lambda: rec.count() == 1)


def test_burst_of_writes_is_one_callback(tmp_path: Path, make_watcher) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("")
    b.write_text("")
    _, rec = make_watcher([a, b], debounce=0.3)
    for i in range(5):
        (a if i % 2 == 0 else b).write_text("x" * (i + 1))
        time.sleep(0.03)
    assert wait_for(lambda: rec.count() >= 1)
    time.sleep(0.3 + 5 * INTERVAL)
    assert rec.calls == [[a, b]]  # one call, paths in the order given


def test_callback_waits_for_quiet(tmp_path: Path, make_watcher) -> None:
    path = tmp_path / "a.py"
    path.write_text("")
    _, rec = make_watcher([path], debounce=0.3)
    path.write_text("1")
    start = time.monotonic()
    assert wait_for(lambda: rec.count() == 1)
    assert time.monotonic() - start >= 0.25  # not at the first poll that saw the change


def test_max_delay_reports_a_file_that_never_settles(tmp_path: Path, make_watcher) -> None:
    path = tmp_path / "log.txt"
    path.write_text("")
    _, rec = make_watcher([path], debounce=0.3, max_delay=0.4)
    deadline = time.monotonic() + 2.0
    i = 0
    while rec.count() == 0 and time.monotonic() < deadline:
        i += 1
        path.write_text("x" * i)
        time.sleep(0.03)
    assert rec.count() >= 1  # reported while writes were still going on


def test_set_paths(tmp_path: Path, make_watcher) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("")
    b.write_text("")
    watcher, rec = make_watcher([a])
    watcher.set_paths([b, b])
    assert watcher.paths == [b]
    a.write_text("ignored now")
    settle()
    assert rec.count() == 0
    b.write_text("seen")
    assert wait_for(lambda: rec.count() == 1)
    assert rec.calls == [[b]]


def test_callback_error_does_not_stop_the_watcher(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.py"
    path.write_text("")
    calls: list[list[Path]] = []

    def flaky(paths: list[Path]) -> None:
        calls.append(paths)
        if len(calls) == 1:
            raise RuntimeError("boom")

    watcher = FileWatcher([path], flaky, interval=INTERVAL, debounce=DEBOUNCE)
    watcher.start()
    try:
        path.write_text("1")
        assert wait_for(lambda: len(calls) == 1)
        path.write_text("22")
        assert wait_for(lambda: len(calls) == 2)
        assert watcher.running
    finally:
        watcher.stop()
    assert "file watcher callback failed" in caplog.text


def test_stop_joins_promptly_even_with_a_long_interval(tmp_path: Path) -> None:
    watcher = FileWatcher([tmp_path / "a.py"], lambda paths: None, interval=10.0)
    watcher.start()
    assert watcher.running
    start = time.monotonic()
    watcher.stop()
    assert time.monotonic() - start < 1.0
    assert not watcher.running
    watcher.stop()  # twice is fine


def test_stop_from_the_callback_and_restart(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text("")
    calls: list[list[Path]] = []

    def stop_me(paths: list[Path]) -> None:
        calls.append(paths)
        watcher.stop()

    watcher = FileWatcher([path], stop_me, interval=INTERVAL, debounce=DEBOUNCE)
    watcher.start()
    path.write_text("1")
    assert wait_for(lambda: not watcher.running)
    assert len(calls) == 1
    watcher.start()  # a stopped watcher can start again
    try:
        path.write_text("22")
        assert wait_for(lambda: len(calls) == 2)
    finally:
        watcher.stop()


def test_poll_drives_a_watcher_without_a_thread(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text("")
    watcher = FileWatcher([path], lambda paths: None, interval=1.0, debounce=0.5)
    path.write_text("changed")
    assert watcher.poll(now=100.0) == []  # change seen, burst not over
    assert watcher.poll(now=100.2) == []
    assert watcher.poll(now=100.5) == [path]
    assert watcher.poll(now=101.0) == []
    assert not watcher.running


def test_bad_interval() -> None:
    with pytest.raises(ValueError):
        FileWatcher([], lambda paths: None, interval=0)
