"""Presets: round trip, name rules, safe file names, and broken files kept, never lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.presets import PresetError, PresetStore, pipeline_file_stem, validate_name


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PresetStore:
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "home"))
    return PresetStore()


def test_default_root_follows_studio_home(store: PresetStore, tmp_path: Path) -> None:
    assert store.root == tmp_path / "home" / "data" / "presets"
    assert store.path_for("blur") == store.root / "blur.json"
    assert PresetStore(tmp_path / "x").root == tmp_path / "x"


def test_round_trip(store: PresetStore) -> None:
    assert store.list("blur") == []
    store.save("blur", "soft", {"radius": 2, "mode": "box"})
    store.save("blur", "Heavy", {"radius": 9, "nested": {"a": [1, 2]}})
    store.save("blur", "  apple ", {"radius": 1})  # trimmed
    assert store.list("blur") == ["apple", "Heavy", "soft"]
    assert store.load("blur", "soft") == {"radius": 2, "mode": "box"}
    assert store.load("blur", " Heavy ") == {"radius": 9, "nested": {"a": [1, 2]}}
    assert store.list("other") == []  # per pipeline

    store.save("blur", "soft", {"radius": 3})  # overwrite
    assert store.load("blur", "soft") == {"radius": 3}

    store.rename("blur", "soft", "gentle")
    assert store.list("blur") == ["apple", "gentle", "Heavy"]
    assert store.load("blur", "gentle") == {"radius": 3}

    store.delete("blur", "apple")
    assert store.list("blur") == ["gentle", "Heavy"]

    data = json.loads(store.path_for("blur").read_text())
    assert data == {
        "version": 1,
        "presets": {"gentle": {"radius": 3}, "Heavy": {"radius": 9, "nested": {"a": [1, 2]}}},
    }
    assert PresetStore(store.root).list("blur") == ["gentle", "Heavy"]  # a fresh store sees it
    assert store.problems == []


def test_loaded_params_are_a_copy(store: PresetStore) -> None:
    store.save("blur", "a", {"radius": 2})
    store.load("blur", "a")["radius"] = 100
    assert store.load("blur", "a") == {"radius": 2}


def test_errors(store: PresetStore) -> None:
    store.save("blur", "a", {"x": 1})
    store.save("blur", "b", {"x": 2})
    with pytest.raises(PresetError, match="No preset named 'zzz'"):
        store.load("blur", "zzz")
    with pytest.raises(PresetError, match="already exists"):
        store.rename("blur", "a", "b")
    with pytest.raises(PresetError, match="No preset named 'zzz'"):
        store.rename("blur", "zzz", "c")
    with pytest.raises(PresetError, match="No preset named 'zzz'"):
        store.delete("blur", "zzz")
    with pytest.raises(PresetError, match="mapping"):
        store.save("blur", "c", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(PresetError, match="JSON"):
        store.save("blur", "c", {"x": object()})
    with pytest.raises(PresetError, match="pipeline name"):
        store.list("  ")
    store.rename("blur", "a", " a ")  # same name: nothing to do
    assert store.list("blur") == ["a", "b"]
    assert store.load("blur", "a") == {"x": 1} and store.load("blur", "b") == {"x": 2}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 81, "at most 80"),
        ("a\nb", "control"),
        ("tab\there", "control"),
        ("nul\x00", "control"),
        ("line\u2028sep", "control"),
        (42, "text"),
    ],
)
def test_bad_names(store: PresetStore, name: object, message: str) -> None:
    with pytest.raises(PresetError, match=message):
        validate_name(name)
    with pytest.raises(PresetError, match=message):
        store.save("blur", name, {})  # type: ignore[arg-type]
    assert not store.path_for("blur").exists()


def test_good_names() -> None:
    assert validate_name("x" * 80) == "x" * 80
    assert validate_name(" Éclair ✨ 50% / night ") == "Éclair ✨ 50% / night"


def test_pipeline_file_names_are_safe_and_distinct() -> None:
    names = ["blur", "Blur", "a b", "a_b", "../../etc/passwd", "con", ".hidden", "日本", "a/b"]
    stems = [pipeline_file_stem(n) for n in names]
    assert stems[0] == "blur"
    assert len({s.lower() for s in stems}) == len(names)  # distinct even ignoring case
    for stem in stems:
        assert stem and all(c.isascii() and (c.isalnum() or c in "._-") for c in stem)
        assert not stem.startswith(".")
        assert stem.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL"}


def test_unsafe_pipeline_name_stays_in_root(store: PresetStore) -> None:
    store.save("../../evil", "p", {"a": 1})
    (written,) = store.root.iterdir()
    assert written.parent == store.root
    assert store.load("../../evil", "p") == {"a": 1}


@pytest.mark.parametrize(
    "content",
    [
        '{"version": 1, "presets": {"a": ',  # invalid JSON
        "[1, 2, 3]",  # not an object
        '{"presets": {}}',  # no version
        '{"version": 1, "presets": []}',  # presets not an object
        '{"version": 1, "presets": {"a": 5}}',  # a preset that is not an object
        "null",
    ],
)
def test_broken_file_is_set_aside_and_store_carries_on(store: PresetStore, content: str) -> None:
    path = store.path_for("blur")
    path.parent.mkdir(parents=True)
    path.write_text(content)

    assert store.list("blur") == []
    assert len(store.problems) == 1
    assert "blur.json" in store.problems[0]
    (aside,) = store.root.glob("blur.json.broken-*")
    assert aside.read_text() == content  # kept exactly
    assert aside.name in store.problems[0]

    store.save("blur", "fresh", {"x": 1})  # works with an empty set afterwards
    assert store.list("blur") == ["fresh"]
    assert aside.read_text() == content  # and never overwritten
    assert len(store.problems) == 1


def test_broken_file_found_by_a_write_is_kept(store: PresetStore) -> None:
    path = store.path_for("blur")
    path.parent.mkdir(parents=True)
    path.write_text("{oops")
    store.save("blur", "new", {"x": 1})
    (aside,) = store.root.glob("blur.json.broken-*")
    assert aside.read_text() == "{oops"
    assert store.list("blur") == ["new"]
    assert store.problems and "not valid JSON" in store.problems[0]


def test_newer_version_is_read_only(store: PresetStore) -> None:
    path = store.path_for("blur")
    path.parent.mkdir(parents=True)
    content = json.dumps({"version": 2, "presets": {"a": {"x": 1}}, "extra": True})
    path.write_text(content)
    assert store.list("blur") == ["a"]
    assert store.load("blur", "a") == {"x": 1}
    with pytest.raises(PresetError, match="newer studio"):
        store.save("blur", "b", {})
    with pytest.raises(PresetError):
        store.delete("blur", "a")
    assert path.read_text() == content
    assert any("newer studio" in p for p in store.problems)
