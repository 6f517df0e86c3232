"""The discovery cache: unchanged targets are never imported again, changed ones always are.

Children are counted by wrapping ``studio.discovery._run_child`` (and, where none may start,
by making ``subprocess.Popen`` fail), never by timing. Pipeline files get mtimes well in the
past, as files edited a while ago have, except in the test of a just-edited file.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import studio.discovery as discovery
from studio.discovery import PipelineInfo, clear_cache, discover
from studio.discovery.cache import DiscoveryCache

#: Far enough in the past that no file counts as just edited (see cache.RACY_NS).
PAST_NS = time.time_ns() - 3600 * 10**9


def write(path: Path, source: str, *, mtime_ns: int | None = None) -> Path:
    """Write a file with an old mtime; each rewrite moves it one second on, still old."""
    path.parent.mkdir(parents=True, exist_ok=True)
    before = path.stat().st_mtime_ns if path.exists() else PAST_NS
    path.write_text(textwrap.dedent(source).lstrip("\n"))
    stamp = mtime_ns if mtime_ns is not None else before + 10**9
    os.utime(path, ns=(stamp, stamp))
    return path


def pipeline_file(name: str, doc: str = "A pipeline.") -> str:
    return f'''
    from studio import pipeline

    @pipeline(name="{name}")
    def effect(frame, params):
        """{doc}"""
        return frame.tensor
    '''


def scan(cache: Path | str | bool, *folders: Path, **options: Any) -> list[PipelineInfo]:
    options.setdefault("bundled", False)
    options.setdefault("entry_points", False)
    return discover(folders, cache=cache, **options)


def as_json(infos: list[PipelineInfo]) -> list[dict[str, Any]]:
    return [info.to_json() for info in infos]


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """One list per child started: the file (or package, or entry point) names it scanned."""
    calls: list[list[str]] = []
    real = discovery._run_child

    def record(targets: list[dict[str, Any]], *args: Any) -> Any:
        calls.append(sorted(_label(t) for t in targets))
        return real(targets, *args)

    monkeypatch.setattr(discovery, "_run_child", record)
    return calls


def _label(target: dict[str, Any]) -> str:
    if target["kind"] == "entry_point":
        return target["name"]
    path = Path(target["path"])
    return path.parent.name if target["kind"] == "package" else path.name


@pytest.fixture
def cache_file(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "discovery.json"


def test_warm_call_reuses_everything_without_a_child(
    tmp_path: Path, cache_file: Path, children: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "pipes"
    write(folder / "blur.py", pipeline_file("blur", "Blur it."))
    write(folder / "broken.py", "x = 1\nraise RuntimeError('boom')\n")
    write(folder / "fx" / "__init__.py", "from . import sharpen\n")
    write(folder / "fx" / "sharpen.py", pipeline_file("sharpen"))

    plain = scan(False, folder)
    cold = scan(cache_file, folder)
    assert children == [["blur.py", "broken.py", "fx"], ["blur.py", "broken.py", "fx"]]
    assert as_json(cold) == as_json(plain)
    assert [i.name for i in cold] == ["blur", "sharpen", None]
    assert json.loads(cache_file.read_text())["format"] == 1

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a child was started")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    warm = scan(cache_file, folder)
    assert children == [["blur.py", "broken.py", "fx"]] * 2  # no third child
    assert as_json(warm) == as_json(cold)
    assert warm[2].error is not None and "RuntimeError: boom" in warm[2].error


def test_an_edit_rescans_its_folder_and_shows(
    tmp_path: Path, cache_file: Path, children: list[list[str]]
) -> None:
    first = write(tmp_path / "a" / "first.py", pipeline_file("first", "Old doc."))
    write(tmp_path / "b" / "second.py", pipeline_file("second"))
    scan(cache_file, tmp_path / "a", tmp_path / "b")
    children.clear()

    write(first, pipeline_file("first", "New doc, longer than the old one."))
    infos = scan(cache_file, tmp_path / "a", tmp_path / "b")
    assert children == [["first.py"]]  # the other folder came from the cache
    assert [(i.name, i.doc) for i in infos] == [
        ("first", "New doc, longer than the old one."),
        ("second", "A pipeline."),
    ]

    write(first, pipeline_file("renamed"))  # same size or not: the mtime moved
    infos = scan(cache_file, tmp_path / "a", tmp_path / "b")
    assert children == [["first.py"], ["first.py"]]
    assert [i.name for i in infos] == ["renamed", "second"]


def test_a_neighbour_edit_invalidates(
    tmp_path: Path, cache_file: Path, children: list[list[str]]
) -> None:
    write(tmp_path / "_names.py", "NAME = 'before'\n")
    write(
        tmp_path / "user.py",
        """
        from studio import pipeline
        from _names import NAME

        @pipeline(name=NAME)
        def effect(frame, params):
            return frame.tensor
        """,
    )
    assert [i.name for i in scan(cache_file, tmp_path)] == ["before"]
    write(tmp_path / "_names.py", "NAME = 'after!'\n")
    assert [i.name for i in scan(cache_file, tmp_path)] == ["after!"]
    assert children == [["user.py"], ["user.py"]]

    write(tmp_path / "json.py", "raise RuntimeError('shadows the library')\n")  # a new file
    scan(cache_file, tmp_path)
    assert children[-1] == ["json.py", "user.py"]


def test_a_broken_file_stays_broken_until_fixed(
    tmp_path: Path, cache_file: Path, children: list[list[str]]
) -> None:
    bad = write(tmp_path / "bad.py", "import no_such_module_for_studio_tests\n")
    (error,) = scan(cache_file, tmp_path)
    assert error.file == str(bad.resolve()) and error.line == 1
    assert "ModuleNotFoundError" in (error.error or "")
    assert as_json(scan(cache_file, tmp_path)) == as_json([error])
    assert len(children) == 1  # reported from the cache, not imported again

    write(bad, pipeline_file("fixed"))
    (fixed,) = scan(cache_file, tmp_path)
    assert (fixed.name, fixed.error) == ("fixed", None)
    assert len(children) == 2


def test_a_deleted_file_drops_its_entries(
    tmp_path: Path, cache_file: Path, children: list[list[str]]
) -> None:
    keep = write(tmp_path / "keep.py", pipeline_file("keep"))
    gone = write(tmp_path / "gone.py", pipeline_file("gone"))
    assert [i.name for i in scan(cache_file, tmp_path)] == ["gone", "keep"]
    gone.unlink()
    assert [i.name for i in scan(cache_file, tmp_path)] == ["keep"]
    entries = json.loads(cache_file.read_text())["entries"]
    assert [entry["path"] for entry in entries.values()] == [str(keep.resolve())]


def test_other_folders_entries_are_kept_while_their_files_exist(
    tmp_path: Path, cache_file: Path, children: list[list[str]]
) -> None:
    """The app and ``studio list other/`` share one cache without evicting each other."""
    write(tmp_path / "a" / "one.py", pipeline_file("one"))
    write(tmp_path / "b" / "two.py", pipeline_file("two"))
    scan(cache_file, tmp_path / "a")
    scan(cache_file, tmp_path / "b")
    assert [i.name for i in scan(cache_file, tmp_path / "a", tmp_path / "b")] == ["one", "two"]
    assert children == [["one.py"], ["two.py"]]


def test_a_corrupt_cache_is_ignored_and_rewritten(
    tmp_path: Path, cache_file: Path, children: list[list[str]]
) -> None:
    write(tmp_path / "p" / "ok.py", pipeline_file("ok"))
    for junk in ("{not json", '{"format": 1, "entries": []}', '["x"]', ""):
        write(cache_file, junk)
        assert [i.name for i in scan(cache_file, tmp_path / "p")] == ["ok"]
        assert json.loads(cache_file.read_text())["entries"]  # replaced by a good one
    assert len(children) == 4
    entries = json.loads(cache_file.read_text())["entries"]
    (entry,) = entries.values()
    entry["infos"] = [{"spec": {"no": "name"}}]  # an entry that no longer parses
    write(cache_file, json.dumps({**json.loads(cache_file.read_text()), "entries": entries}))
    assert [i.name for i in scan(cache_file, tmp_path / "p")] == ["ok"]
    assert len(children) == 5
    assert [p.name for p in cache_file.parent.iterdir()] == ["discovery.json"]  # no temp left


def test_refresh_rescans_everything_and_clear_cache_forgets(
    tmp_path: Path, children: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "home"))
    write(tmp_path / "p" / "one.py", pipeline_file("one"))
    write(tmp_path / "p" / "two.py", pipeline_file("two"))
    scan(True, tmp_path / "p")
    assert (tmp_path / "home" / "cache" / "discovery.json").is_file()
    scan(True, tmp_path / "p")
    assert len(children) == 1
    assert [i.name for i in scan("refresh", tmp_path / "p")] == ["one", "two"]
    assert children[-1] == ["one.py", "two.py"]
    scan(True, tmp_path / "p")
    assert len(children) == 2  # the refreshed answers were stored
    assert clear_cache() is True and clear_cache() is False
    scan(True, tmp_path / "p")
    assert len(children) == 3


def test_a_just_edited_file_is_checked_by_content(
    tmp_path: Path, cache_file: Path, children: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A coarse clock can give an edit the old mtime: a fresh file's content is hashed too."""
    path = tmp_path / "fresh.py"
    path.write_text(textwrap.dedent(pipeline_file("aaaa")))  # mtime: now
    taken: list[list[Any]] = []
    real = DiscoveryCache._folder

    def remember(self: DiscoveryCache, folder: str) -> list[Any]:
        stats = real(self, folder)
        taken.append(stats)
        return stats

    monkeypatch.setattr(DiscoveryCache, "_folder", remember)
    assert [i.name for i in scan(cache_file, tmp_path)] == ["aaaa"]
    (entry,) = json.loads(cache_file.read_text())["entries"].values()
    assert entry["digest"] is not None
    assert [i.name for i in scan(cache_file, tmp_path)] == ["aaaa"]
    assert len(children) == 1  # same content: reused

    path.write_text(textwrap.dedent(pipeline_file("bbbb")))  # same size
    stale = taken[0]
    monkeypatch.setattr(DiscoveryCache, "_folder", lambda self, folder: stale)  # stat missed it
    assert [i.name for i in scan(cache_file, tmp_path)] == ["bbbb"]
    assert len(children) == 2


def test_a_stall_is_reused_only_for_a_timeout_no_longer(
    tmp_path: Path, cache_file: Path, children: list[list[str]]
) -> None:
    write(tmp_path / "hangs.py", "import time\ntime.sleep(3600)\n")
    (stall,) = scan(cache_file, tmp_path, timeout_per_file=1)
    assert "no progress for 1 s" in (stall.error or "")
    assert as_json(scan(cache_file, tmp_path, timeout_per_file=1)) == as_json([stall])
    assert as_json(scan(cache_file, tmp_path, timeout_per_file=0.5)) == as_json([stall])
    assert len(children) == 1
    (longer,) = scan(cache_file, tmp_path, timeout_per_file=1.5)
    assert "no progress for 1.5 s" in (longer.error or "")
    assert len(children) == 2


def make_distribution(site: Path, version: str) -> Path:
    info = site / f"cachedist-{version}.dist-info"
    info.mkdir(parents=True)
    write(info / "METADATA", f"Metadata-Version: 2.1\nName: cachedist\nVersion: {version}\n")
    write(info / "entry_points.txt", "[studio.pipelines]\ncached = cachepkg.pipes\n")
    write(info / "RECORD", "")
    write(site / "cachepkg" / "__init__.py", "")
    write(site / "cachepkg" / "pipes.py", pipeline_file("packaged", f"Version {version}."))
    return info


def packaged(cache_file: Path, site: Path) -> list[str]:
    """The docs of what the fake distribution's entry point gives."""
    infos = scan(cache_file, entry_points=True, extra_paths=[site])
    return [i.doc for i in infos if i.origin == "package:cachedist"]


def test_entry_points_are_keyed_on_their_distribution(
    tmp_path: Path, cache_file: Path, children: list[list[str]]
) -> None:
    site = tmp_path / "site"
    info = make_distribution(site, "1.0")
    assert packaged(cache_file, site) == ["Version 1.0."]
    assert packaged(cache_file, site) == ["Version 1.0."]
    assert children == [["cached"]]
    info.rename(site / "old")  # an upgrade: a new dist-info folder, new files
    make_distribution(site, "2.0")
    (site / "old").rename(tmp_path / "old")
    assert packaged(cache_file, site) == ["Version 2.0."]
    assert children == [["cached"], ["cached"]]
    entries = json.loads(cache_file.read_text())["entries"]
    assert [i for i in entries if i.startswith("entry_point|")] == [
        "entry_point|cachedist|cached|cachepkg.pipes"
    ]


def test_an_editable_install_is_keyed_on_its_source(
    tmp_path: Path, cache_file: Path, children: list[list[str]]
) -> None:
    site = tmp_path / "site"
    info = make_distribution(site, "1.0")
    url = {"url": (tmp_path / "project").as_uri(), "dir_info": {"editable": True}}
    write(info / "direct_url.json", json.dumps(url))
    assert packaged(cache_file, site) == ["Version 1.0."]
    assert packaged(cache_file, site) == ["Version 1.0."]
    write(site / "cachepkg" / "pipes.py", pipeline_file("packaged", "Edited in place."))
    assert packaged(cache_file, site) == ["Edited in place."]
    assert children == [["cached"], ["cached"]]
