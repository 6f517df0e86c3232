"""User folders, atomic JSON writes, clear errors for broken files, and setting files aside."""

from __future__ import annotations

import json
import os
from pathlib import Path

import platformdirs
import pytest

from studio import userfiles
from studio.userfiles import (
    BrokenFileError,
    UserFileError,
    cache_dir,
    config_dir,
    data_dir,
    read_json,
    set_aside,
    write_json_atomic,
)


def test_studio_home_moves_every_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path))
    assert config_dir() == tmp_path / "config"
    assert data_dir() == tmp_path / "data"
    assert cache_dir() == tmp_path / "cache"
    assert list(tmp_path.iterdir()) == []  # naming a folder does not create it


def test_without_studio_home_platformdirs_decide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STUDIO_HOME", raising=False)
    assert config_dir() == platformdirs.user_config_path("livepeer-studio", appauthor=False)
    assert data_dir() == platformdirs.user_data_path("livepeer-studio", appauthor=False)
    assert cache_dir() == platformdirs.user_cache_path("livepeer-studio", appauthor=False)
    monkeypatch.setenv("STUDIO_HOME", "  ")  # blank counts as unset
    assert "livepeer-studio" in str(config_dir())


def test_write_creates_parents_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "file.json"
    data = {"name": "flou ✨", "values": [1, 2.5, None, True]}
    write_json_atomic(path, data)
    assert read_json(path) == data
    assert "flou ✨" in path.read_text(encoding="utf-8")  # readable, not \\u-escaped
    assert [p.name for p in path.parent.iterdir()] == ["file.json"]  # no temp file left
    if os.name == "posix":
        assert path.stat().st_mode & 0o077 == 0  # private: settings may hold a stream key


def test_write_replaces_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "file.json"
    write_json_atomic(path, {"long": "x" * 1000})
    write_json_atomic(path, {"short": 1})
    assert json.loads(path.read_text()) == {"short": 1}


@pytest.mark.parametrize("bad", [{"x": object()}, {"x": float("nan")}])
def test_failed_serialisation_keeps_the_original(tmp_path: Path, bad: dict) -> None:
    path = tmp_path / "file.json"
    write_json_atomic(path, {"keep": "me"})
    before = path.read_bytes()
    with pytest.raises((TypeError, ValueError)):
        write_json_atomic(path, bad)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["file.json"]


def test_crash_mid_write_keeps_the_original(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "file.json"
    write_json_atomic(path, {"keep": "me"})

    def crash(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(userfiles.os, "fsync", crash)
    with pytest.raises(UserFileError, match=r"file\.json.*No space left"):
        write_json_atomic(path, {"new": "data"})
    monkeypatch.undo()
    assert read_json(path) == {"keep": "me"}
    assert [p.name for p in tmp_path.iterdir()] == ["file.json"]


def test_unwritable_folder_is_a_user_file_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(UserFileError) as info:
        write_json_atomic(blocker / "file.json", {})
    assert info.value.path == blocker / "file.json"


def test_read_missing_gives_default(tmp_path: Path) -> None:
    assert read_json(tmp_path / "nope.json") is None
    assert read_json(tmp_path / "nope.json", {"a": 1}) == {"a": 1}


def test_read_broken_json_names_file_and_position(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{\n  "a": 1,\n  "b": \n}')
    with pytest.raises(BrokenFileError) as info:
        read_json(path)
    message = str(info.value)
    assert str(path) in message
    assert "line 4, column 1" in message
    assert info.value.path == path
    assert isinstance(info.value, UserFileError)


@pytest.mark.parametrize("content", [b"", b"\xff\xfe{not utf8", b"{} trailing"])
def test_read_other_broken_content(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(content)
    with pytest.raises(BrokenFileError, match=r"f\.json"):
        read_json(path)


def test_read_accepts_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}')
    assert read_json(path) == {"a": 1}


def test_read_unreadable_is_not_broken(tmp_path: Path) -> None:
    folder = tmp_path / "f.json"
    folder.mkdir()
    with pytest.raises(UserFileError) as info:
        read_json(folder)
    assert not isinstance(info.value, BrokenFileError)  # nothing to set aside


def test_set_aside_keeps_content_and_never_overwrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(userfiles, "_stamp", lambda: "20250102-030405")
    path = tmp_path / "settings.json"
    moved = []
    for i in range(3):
        path.write_text(f"broken {i}")
        moved.append(set_aside(path))
        assert not path.exists()
    assert [m.name for m in moved] == [
        "settings.json.broken-20250102-030405",
        "settings.json.broken-20250102-030405.1",
        "settings.json.broken-20250102-030405.2",
    ]
    assert [m.read_text() for m in moved] == ["broken 0", "broken 1", "broken 2"]


def test_set_aside_real_stamp_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("x")
    moved = set_aside(path)
    assert moved.parent == tmp_path
    assert moved.name.startswith("p.json.broken-")
    stamp = moved.name.removeprefix("p.json.broken-")
    assert len(stamp) == 15 and stamp[8] == "-" and stamp.replace("-", "").isdigit()
    with pytest.raises(UserFileError, match=r"p\.json"):
        set_aside(path)
