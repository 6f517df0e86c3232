"""The discovery cache: an unchanged target reuses its last answer, so start-up needs no child.

Discovery imports user files in a child process that pays for pydantic (about 1 s) and often
torch (5-10 s). :func:`studio.discovery.discover` with ``cache=True`` keeps each target's
entries (error entries included: an unchanged broken file stays broken without an import)
in one JSON file, under a key that changes whenever the answer could, as far as stat can tell.
Only targets whose key changed go to a child; when none did, no child starts at all.

What a key is made of:

* a file or package target: ``(mtime_ns, ctime_ns, size)`` of every ``.py`` file in its
  folder (itself, the neighbours it may import, a ``json.py`` that would shadow a library)
  and of every ``.py`` file under the folder's packages (sub-folders with ``__init__.py``),
  so one edit in a folder rescans that folder's targets;
* an entry point: the distribution's name and version and the stat of its dist-info folder
  and metadata files (a reinstall rewrites them); for an editable install, the ``.py`` files
  of its source as for a package target;
* for all: the studio version, the stat of the studio sources the child runs (the modules
  behind ``from studio import ...`` and ``studio/discovery/*.py``), ``sys.executable``,
  ``extra_paths``, ``PYTHONPATH``, and the mtime of the site-packages, ``PYTHONPATH`` and
  extra folders (installing, upgrading or removing a distribution adds or removes a
  ``*.dist-info`` folder there, which changes it).

What a key cannot see (``discover(cache="refresh")`` or :func:`clear_cache` force a rescan):

* a library changed in place rather than reinstalled: an edited file in site-packages, the
  source of an editable install other than the target's own distribution;
* anything but ``.py`` files next to a target: data or config read at import, compiled
  modules (``.so``, ``.pyd``), namespace packages (sub-folders without ``__init__.py``);
* environment variables other than ``PYTHONPATH``, the current folder, the time, the GPU:
  whatever else an import looks at;
* luck: a crash that happens only sometimes is kept like any other error entry. A stall
  (no progress for ``timeout_per_file``) is kept only for calls with that timeout or less.

A coarse clock (FAT: 2 s) can give an edited file its old mtime back. As git does for its
index, a target whose files changed less than :data:`RACY_NS` before they were looked at
also stores a hash of their contents, which must still match when the entry is reused.

The file is written whole to a temporary file and renamed over the old one, so readers never
see half of it; one that cannot be read or parsed counts as empty and is replaced. Two
processes writing at once lose one's additions, never correctness: each entry carries the
key it was computed for, and keys are taken before the child imports anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import studio
from studio.discovery.info import PipelineInfo

__all__ = ["FORMAT", "RACY_NS", "DiscoveryCache", "clear_cache", "default_path", "open_cache"]

#: The layout of the cache file; another value is ignored (and overwritten).
FORMAT = 1
#: Files modified this close to the moment they are looked at may change again unseen.
RACY_NS = 2_000_000_000

Target = dict[str, Any]
#: One looked-at path: ``[path, mtime_ns, ctime_ns, size]``, or ``[path, why]`` if unreadable.
Stat = list[Any]

_STUDIO_DIR = Path(studio.__file__).resolve().parent
#: What the child imports of studio before and while it scans (``studio/*`` exports included).
_STUDIO_SOURCES = (
    "__init__.py",
    "decorator.py",
    "frames.py",
    "interface.py",
    "params.py",
    "spec.py",
)
_DIST_FILES = ("RECORD", "METADATA", "entry_points.txt", "direct_url.json")


def default_path() -> Path:
    """``$STUDIO_HOME/cache/discovery.json``, else the platform's per-user cache folder."""
    home = os.environ.get("STUDIO_HOME")
    if home:
        return Path(home).expanduser() / "cache" / "discovery.json"
    import platformdirs

    return Path(platformdirs.user_cache_dir("livepeer-studio")) / "discovery.json"


def clear_cache(path: str | os.PathLike[str] | None = None) -> bool:
    """Forget every stored answer, so the next cached discovery rescans; True if one existed."""
    try:
        Path(path if path is not None else default_path()).unlink()
    except FileNotFoundError:
        return False
    return True


def open_cache(option: bool | str | os.PathLike[str], paths: list[str]) -> DiscoveryCache:
    """The cache ``discover(cache=option)`` asks for: True the default file, ``"refresh"``
    the default file with nothing reused, any other str or path that file."""
    if option is True:
        return DiscoveryCache(default_path(), paths)
    if isinstance(option, str) and option == "refresh":
        return DiscoveryCache(default_path(), paths, refresh=True)
    return DiscoveryCache(Path(option).expanduser(), paths)


class DiscoveryCache:
    """Stored answers per target. Call :meth:`lookup` for every target before scanning any
    (it takes the keys), :meth:`store` for each one scanned, then :meth:`save` once."""

    def __init__(self, path: Path, paths: list[str], *, refresh: bool = False) -> None:
        self.path = path
        self.environment = _hash(_environment())
        self.context = _context(paths)
        loaded = None if refresh else self._load()
        self.entries: dict[str, dict[str, Any]] = loaded or {}
        self.dirty = loaded is None  # missing, unreadable or refused: write a good one
        self._keys: dict[str, _Key | None] = {}
        self._folders: dict[str, list[Stat]] = {}
        self._digests: dict[str, str] = {}

    def lookup(self, target: Target, timeout: float) -> list[PipelineInfo] | None:
        """The stored entries of ``target`` when its key is unchanged, else None (scan it)."""
        ident = identity(target)
        key = self._key(target)
        self._keys[ident] = key
        entry = self.entries.get(ident)
        if key is None or entry is None or entry.get("key") != key.value:
            return None
        stall = entry.get("stall")
        if stall is not None and not 0 < timeout <= stall:
            return None  # it stalled for longer than that, not necessarily for this long
        digest = entry.get("digest")
        if digest is not None:
            if (key.digest or self._digest(key.stats)) != digest:
                return None
            if key.digest is None:  # no longer racy: the stat alone will do from now on
                entry["digest"] = None
                self.dirty = True
        try:
            return [PipelineInfo.from_json(data) for data in entry["infos"]]
        except Exception:  # a hand-edited or foreign entry: scan again
            return None

    def store(self, target: Target, infos: list[PipelineInfo], stalled: float | None) -> None:
        """Keep a fresh answer under the key taken before the scan; ``stalled``: its timeout."""
        ident = identity(target)
        key = self._keys.get(ident)
        if key is None:
            self.entries.pop(ident, None)
            return
        self.entries[ident] = {
            "key": key.value,
            "digest": key.digest,
            "stall": stalled,
            "path": target.get("path"),
            "infos": [info.to_json() for info in infos],
        }
        self.dirty = True

    def save(self, targets: list[Target], entry_points: bool) -> None:
        """Drop the entries of targets that are gone, then write the file if anything changed.

        A file or package entry goes when its file does; an entry point entry when this call
        listed entry points and did not meet it. Entries of folders this call did not scan
        stay for the calls that do.
        """
        current = {identity(t) for t in targets}
        for ident, entry in list(self.entries.items()):
            if ident in current:
                continue
            if ident.startswith("entry_point|"):
                gone = entry_points
            else:
                path = entry.get("path")
                gone = not (isinstance(path, str) and os.path.isfile(path))
            if gone:
                del self.entries[ident]
                self.dirty = True
        if self.dirty:
            self._write()
            self.dirty = False

    def _load(self) -> dict[str, dict[str, Any]] | None:
        """The stored entries; None when the file is missing, unreadable, foreign or stale."""
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            return None
        if document.get("environment") != self.environment:
            return None  # another studio or Python: nothing stored can be trusted
        entries = document.get("entries")
        if not isinstance(entries, dict):
            return None
        return {
            ident: entry
            for ident, entry in entries.items()
            if isinstance(entry, dict) and isinstance(entry.get("infos"), list)
        }

    def _write(self) -> None:
        """Temporary file in the same folder, then rename: a reader sees old or new, whole."""
        document = {"format": FORMAT, "environment": self.environment, "entries": self.entries}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
            )
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as stream:
                    json.dump(document, stream)
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise
        except (OSError, TypeError, ValueError):
            pass  # a cache that cannot be written costs speed, never the discovery

    def _key(self, target: Target) -> _Key | None:
        """What the target's answer depends on, hashed; None when it cannot be told."""
        now = time.time_ns()
        fields = ("kind", "path", "module", "origin", "name", "value", "dist", "dist_version")
        parts: dict[str, Any] = {
            "target": {name: target.get(name) for name in fields},
            "context": self.context,
        }
        if target["kind"] == "entry_point":
            stats = self._distribution(target)
            if stats is None:
                return None
        else:
            folder = os.path.dirname(target["path"])  # a package: the folder it sits in
            stats = self._folder(os.path.dirname(folder) if target["kind"] == "package" else folder)
        parts["files"] = stats
        newest = max((s[1] for s in stats if len(s) == 4), default=0)
        racy = newest >= now - RACY_NS
        return _Key(_hash(parts), stats, self._digest(stats) if racy else None)

    def _folder(self, folder: str) -> list[Stat]:
        """Every ``.py`` file a target in ``folder`` may import from it (computed once)."""
        if folder not in self._folders:
            stats: list[Stat] = []
            _tree(folder, True, stats, set())
            self._folders[folder] = sorted(stats)
        return self._folders[folder]

    def _digest(self, stats: list[Stat]) -> str:
        """:func:`_digest`, once per set of files (the targets of a folder share theirs)."""
        name = _hash(stats)
        if name not in self._digests:
            self._digests[name] = _digest(stats)
        return self._digests[name]

    def _distribution(self, target: Target) -> list[Stat] | None:
        """The dist-info folder and files, plus the source of an editable install."""
        info = target.get("dist_path")
        if not info:
            return None  # metadata that is not a folder on disk (a zip, a custom finder)
        stats = [_stat(info), *(_stat(os.path.join(info, name)) for name in _DIST_FILES)]
        if _editable(info):
            source = _source_of(str(target["value"]), self.context["paths"])
            if source is None:
                return None
            stats += self._folder(source)
        return stats


class _Key:
    """A target's key: its hash, the stats it was made of, their digest when racy."""

    __slots__ = ("digest", "stats", "value")

    def __init__(self, value: str, stats: list[Stat], digest: str | None) -> None:
        self.value = value
        self.stats = stats
        self.digest = digest


def identity(target: Target) -> str:
    """What a stored entry is filed under: the same target in any later call."""
    if target["kind"] == "entry_point":
        return f"entry_point|{target['dist']}|{target['name']}|{target['value']}"
    return f"{target['kind']}|{target['origin']}|{target['path']}"


def _environment() -> dict[str, Any]:
    """What every stored answer depends on: a change here empties the cache."""
    try:
        own = sorted(f"discovery/{n}" for n in os.listdir(_STUDIO_DIR / "discovery"))
    except OSError:
        own = []
    names = [*_STUDIO_SOURCES, *(n for n in own if n.endswith(".py"))]
    sources = [_stat(str(_STUDIO_DIR / name)) for name in names]
    return {
        "format": FORMAT,
        "studio": studio.__version__,
        "python": sys.executable,
        "version": sys.version,
        "sources": sources,
    }


def _context(paths: list[str]) -> dict[str, Any]:
    """What this call adds: extra paths, and the folders libraries are installed into."""
    import site
    import sysconfig

    python_path = os.environ.get("PYTHONPATH", "")
    folders = [*paths, *python_path.split(os.pathsep)]
    with contextlib.suppress(AttributeError):  # an embedded or unusual interpreter
        folders += [*site.getsitepackages(), site.getusersitepackages()]
    folders += [sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
    unique = list(dict.fromkeys(f for f in folders if f))
    return {"paths": paths, "PYTHONPATH": python_path, "libraries": [_stat(f) for f in unique]}


def _stat(path: str) -> Stat:
    try:
        st = os.stat(path)
    except OSError as exc:
        return [path, type(exc).__name__]
    return [path, st.st_mtime_ns, st.st_ctime_ns, st.st_size]


def _tree(folder: str, packages_only: bool, out: list[Stat], seen: set[str]) -> None:
    """Stat the ``.py`` files under ``folder``; at the top only descend into packages.

    Dot folders (a ``.venv``) and ``__pycache__`` are skipped; links are followed once.
    """
    real = os.path.realpath(folder)
    if real in seen:
        return
    seen.add(real)
    try:
        entries = list(os.scandir(folder))
    except OSError as exc:
        out.append([folder, type(exc).__name__])
        return
    for entry in entries:
        name = entry.name
        try:
            if name.endswith(".py") and entry.is_file():
                st = entry.stat()
                out.append([entry.path, st.st_mtime_ns, st.st_ctime_ns, st.st_size])
                continue
            if name.startswith(".") or name == "__pycache__" or not entry.is_dir():
                continue
            if not packages_only or os.path.isfile(os.path.join(entry.path, "__init__.py")):
                _tree(entry.path, False, out, seen)
        except OSError:
            out.append([entry.path, "unreadable"])


def _editable(info: str) -> bool:
    """Whether the distribution is an editable install (its source lives elsewhere)."""
    try:
        with open(os.path.join(info, "direct_url.json"), encoding="utf-8") as stream:
            url = json.load(stream)
    except (OSError, ValueError):
        return False
    return isinstance(url, dict) and bool((url.get("dir_info") or {}).get("editable"))


def _source_of(value: str, paths: list[str]) -> str | None:
    """The folder an entry point's top-level module is imported from.

    Found as the child will find it (extra paths first, then the interpreter's finders,
    editable ones included) without running any of its code.
    """
    import importlib.machinery
    import importlib.util

    top = value.split(":", 1)[0].strip().split(".", 1)[0]
    try:
        spec = importlib.machinery.PathFinder.find_spec(top, [*paths, *sys.path])
        if spec is None:
            spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return os.path.dirname(next(iter(spec.submodule_search_locations)))
    if spec.origin and os.path.isfile(spec.origin):
        return os.path.dirname(spec.origin)
    return None


def _digest(stats: list[Stat]) -> str:
    """A hash of the contents of the files behind ``stats`` (folders count by name only)."""
    digest = hashlib.sha256()
    for stat in stats:
        digest.update(str(stat[0]).encode() + b"\0")
        try:
            with open(stat[0], "rb") as stream:
                digest.update(hashlib.sha256(stream.read()).digest())
        except OSError as exc:  # a folder, or gone
            digest.update(type(exc).__name__.encode())
    return digest.hexdigest()


def _hash(parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
