"""Settings: defaults, round trip, tolerant loading, broken files set aside, the stream key."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from studio.settings import Settings, settings_path


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_defaults_when_no_file(home: Path) -> None:
    settings = Settings.load()
    assert settings.path == home / "config" / "settings.json" == settings_path()
    assert settings.problem is None
    assert settings.hot_reload is True
    assert settings.device == "auto"
    assert settings.preview_layout == "side-by-side"
    assert settings.pipeline_folders == []
    assert settings.live.rtmp_port == 1935
    assert not settings.path.exists()  # loading never writes


def test_round_trip(home: Path, tmp_path: Path) -> None:
    settings = Settings.load()
    settings.window_geometry = "AdnQywADAAAAAAAA"
    settings.splitter_sizes = {"main": [300, 700]}
    settings.add_folder(tmp_path / "pipes")
    settings.last_pipeline = "blur"
    settings.last_source = "webcam:0"
    settings.remember_params("blur", {"radius": 3, "mode": "box"})
    settings.preview_layout = "single"
    settings.hot_reload = False
    settings.device = "cuda"
    settings.live.host = "box.local"
    settings.live.stream_id = "abc"
    settings.live.stream_key = "s3cret"
    settings.save()

    on_disk = json.loads(settings.path.read_text())
    assert on_disk["version"] == 1
    assert on_disk["live"]["stream_key"] == "s3cret"  # kept in the file

    again = Settings.load()
    assert again.problem is None
    assert again.model_dump(mode="json") == settings.model_dump(mode="json")
    assert again.params_for("blur") == {"radius": 3, "mode": "box"}
    assert again.params_for("other") == {}
    assert again.live.stream_key.get_secret_value() == "s3cret"
    assert [p.name for p in settings.path.parent.iterdir()] == ["settings.json"]


def test_stream_key_never_in_repr_or_str() -> None:
    settings = Settings()
    settings.live.stream_key = "s3cret-key"
    for text in (repr(settings), str(settings), repr(settings.live), f"{settings.live}"):
        assert "s3cret-key" not in text
    assert "s3cret-key" not in repr(settings.model_dump())


def test_save_to_explicit_path_and_load_from_it(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "s.json"
    settings = Settings(device="cpu")
    settings.save(path)
    assert settings.path == path
    loaded = Settings.load(path)
    assert loaded.device == "cpu"
    assert loaded.path == path


def test_unknown_keys_are_ignored(home: Path) -> None:
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"device": "cpu", "from_the_future": 1, "live": {"x": 2}}))
    settings = Settings.load()
    assert settings.problem is None
    assert settings.device == "cpu"
    settings.save()
    assert "from_the_future" not in path.read_text()


def test_broken_file_is_set_aside_and_defaults_used(home: Path) -> None:
    path = settings_path()
    path.parent.mkdir(parents=True)
    broken = '{"device": "cpu", "hot_reload": fal'
    path.write_text(broken)

    settings = Settings.load()
    assert settings.device == "auto"  # defaults
    assert settings.problem is not None
    assert "not valid JSON" in settings.problem and "line 1" in settings.problem
    assert not path.exists()
    (aside,) = path.parent.glob("settings.json.broken-*")
    assert aside.read_text() == broken  # the user's file is kept as it was
    assert aside.name in settings.problem

    settings.save()  # the app can carry on and save
    assert Settings.load().problem is None
    assert aside.read_text() == broken


@pytest.mark.parametrize("content", ["[1, 2]", '"text"', "null"])
def test_wrong_shape_is_set_aside(home: Path, content: str) -> None:
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text(content)
    settings = Settings.load()
    assert settings.problem is not None and "not an object" in settings.problem
    assert settings.model_dump() == Settings().model_dump()
    (aside,) = path.parent.glob("settings.json.broken-*")
    assert aside.read_text() == content


def test_bad_values_are_dropped_the_rest_kept(home: Path) -> None:
    path = settings_path()
    path.parent.mkdir(parents=True)
    data = {
        "device": "gpu",
        "last_source": "clip.mp4",
        "splitter_sizes": {"main": [1, 2], "side": ["wide"]},
        "pipeline_folders": "not a list",
        "last_params": {"blur": {"radius": 2}, "bad": [1]},
        "live": {"host": "box", "rtmp_port": 99999},
    }
    path.write_text(json.dumps(data))
    settings = Settings.load()
    assert settings.device == "auto"
    assert settings.last_source == "clip.mp4"
    assert settings.splitter_sizes == {"main": [1, 2]}
    assert settings.pipeline_folders == []
    assert settings.last_params == {"blur": {"radius": 2}}
    assert settings.live.host == "box"
    assert settings.live.rtmp_port == 1935
    problem = settings.problem or ""
    for name in ("device", "splitter_sizes.side", "pipeline_folders", "last_params.bad"):
        assert name in problem
    assert "live.rtmp_port" in problem
    assert path.exists()  # a readable file is not set aside


def test_folders_deduplicated_in_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    settings = Settings()
    assert settings.add_folder(a) is True
    assert settings.add_folder(b) is True
    assert settings.add_folder(str(a) + os.sep) is False
    assert settings.add_folder(b / ".." / "b") is False
    assert settings.pipeline_folders == [str(a), str(b)]
    assert settings.remove_folder(a / ".") is True
    assert settings.remove_folder(a) is False
    assert settings.pipeline_folders == [str(b)]

    loaded = Settings.model_validate({"pipeline_folders": [str(b), str(a), f"{b}/", ""]})
    assert loaded.pipeline_folders == [str(b), str(a)]


def test_assignments_are_validated() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.device = "gpu"  # type: ignore[assignment]
    with pytest.raises(ValidationError):
        settings.preview_layout = "grid"  # type: ignore[assignment]
    with pytest.raises(ValidationError):
        settings.live.rtmp_port = 0
    assert settings.device == "auto"
