"""Discovery: find the pipelines in folders and installed packages, without importing them.

User code is imported only in a child process (:mod:`studio.discovery.scan`), so a pipeline
file that segfaults, hangs, calls ``sys.exit`` or raises at import costs one error entry,
never the app. A child that dies or goes quiet is replaced by a fresh one that carries on
with the remaining targets, so one bad file never hides the others.

Where pipelines come from:

* the bundled folder (:data:`BUNDLED_DIR`, the repository's ``pipelines/``; skipped when
  absent, as in an installed wheel), origin ``"bundled"``;
* user folders: top-level ``*.py`` files not starting with ``_`` or ``.``, and sub-folders
  that are packages (``__init__.py``); a path to a single ``.py`` file also works. Origin
  ``"folder"``;
* entry points of group ``studio.pipelines`` (``name = module`` or ``module:attr``), found
  through package metadata only; origin ``"package:<distribution name>"``.

With ``cache=True`` (the app, ``studio list``) a target whose files did not change reuses
its last answer and only the others go to a child, none at all when nothing changed: see
:mod:`studio.discovery.cache` for what the key covers and what it cannot see.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, NamedTuple

import studio
from studio.discovery.info import PipelineInfo

__all__ = [
    "BUNDLED_DIR",
    "ENTRY_POINT_GROUP",
    "PipelineInfo",
    "clear_cache",
    "discover",
    "discover_json",
]

#: The example pipelines shipped with the repository.
BUNDLED_DIR = Path(studio.__file__).resolve().parent.parent / "pipelines"
#: The entry point group an installed package lists its pipeline modules under.
ENTRY_POINT_GROUP = "studio.pipelines"
#: How long a fresh child may take to start (Python, studio) before it counts as broken.
STARTUP_TIMEOUT = 60.0

_STUDIO_ROOT = str(Path(studio.__file__).resolve().parent.parent)

Target = dict[str, Any]


def discover(
    folders: Iterable[str | os.PathLike[str]] = (),
    *,
    bundled: bool = True,
    entry_points: bool = True,
    timeout_per_file: float = 20.0,
    extra_paths: Iterable[str | os.PathLike[str]] = (),
    cache: bool | str | os.PathLike[str] = False,
) -> list[PipelineInfo]:
    """Every pipeline found, sorted by name, then the errors (files, folders, entry points).

    ``timeout_per_file`` bounds how long one target may go without progress: the child
    reports each stretch of imports, so a slow ``import torch`` passes while a sleep or a
    loop at import is stopped (its entry then points at the line it was stuck on).
    ``extra_paths`` go in front of ``sys.path`` for the child and are searched for entry
    points too (a folder holding packages and their ``*.dist-info``). Pipelines sharing a
    name are all listed, each with ``conflict=True``.

    ``cache``: False scans everything; True reuses the stored answers of unchanged targets
    (in ``$STUDIO_HOME/cache/discovery.json`` or the user cache folder); ``"refresh"``
    rescans everything and stores the result; any other str or path names the cache file.
    """
    if isinstance(folders, str | os.PathLike):
        folders = [folders]  # one folder, not its characters
    if isinstance(extra_paths, str | os.PathLike):
        extra_paths = [extra_paths]
    paths = [str(Path(p).expanduser().resolve()) for p in extra_paths]
    failures: list[PipelineInfo] = []
    targets: list[Target] = []
    seen: set[str] = set()
    if bundled and BUNDLED_DIR.is_dir():
        targets += _folder_targets(BUNDLED_DIR, "bundled", seen, failures)
    for folder in folders:
        targets += _folder_targets(Path(folder).expanduser(), "folder", seen, failures)
    if entry_points:
        targets += _entry_point_targets(paths, failures)
    for number, target in enumerate(targets):
        target["id"] = number
    if not cache:
        scan = _scan(targets, timeout_per_file, paths)
        return _finish(_in_order(targets, scan.results) + scan.extra + failures)
    from studio.discovery.cache import open_cache

    store = open_cache(cache, paths)
    results: dict[int, list[PipelineInfo]] = {}
    for target in targets:  # every key is taken before any user code runs
        hit = store.lookup(target, timeout_per_file)
        if hit is not None:
            results[target["id"]] = hit
    scan = _scan([t for t in targets if t["id"] not in results], timeout_per_file, paths)
    for target in targets:
        if target["id"] in scan.results:
            stalled = timeout_per_file if target["id"] in scan.stalled else None
            store.store(target, scan.results[target["id"]], stalled)
    results.update(scan.results)
    store.save(targets, entry_points)
    return _finish(_in_order(targets, results) + scan.extra + failures)


def clear_cache(path: str | os.PathLike[str] | None = None) -> bool:
    """Forget every stored discovery answer (the default cache file unless ``path``)."""
    from studio.discovery.cache import clear_cache as clear

    return clear(path)


def discover_json(
    folders: Iterable[str | os.PathLike[str]] = (), **options: Any
) -> list[dict[str, Any]]:
    """:func:`discover` as JSON-ready dicts (``studio list --json``)."""
    return [info.to_json() for info in discover(folders, **options)]


def _folder_targets(
    folder: Path, origin: str, seen: set[str], failures: list[PipelineInfo]
) -> list[Target]:
    """The importable targets of one folder; a folder that cannot be read is an error entry."""
    path = folder.resolve()
    if path.is_file() and path.suffix == ".py":
        return _file_targets([path], origin, seen)
    try:
        entries = sorted(os.scandir(path), key=lambda entry: entry.name)
    except FileNotFoundError:
        failures.append(
            PipelineInfo.failure(f"{path}: folder not found", file=str(path), origin=origin)
        )
        return []
    except NotADirectoryError:
        failures.append(
            PipelineInfo.failure(f"{path}: not a folder", file=str(path), origin=origin)
        )
        return []
    except OSError as exc:
        message = f"{path}: cannot read the folder: {exc.strerror or exc}"
        failures.append(PipelineInfo.failure(message, file=str(path), origin=origin))
        return []
    found = []
    for entry in entries:
        if entry.name.startswith(("_", ".")):
            continue
        try:
            if entry.is_file() and entry.name.endswith(".py"):
                found.append(Path(entry.path))
            elif entry.is_dir() and Path(entry.path, "__init__.py").is_file():
                found.append(Path(entry.path, "__init__.py"))
        except OSError:
            continue  # a broken link or an unreadable entry is not a pipeline
    return _file_targets(found, origin, seen)


def _file_targets(files: list[Path], origin: str, seen: set[str]) -> list[Target]:
    targets = []
    for file in files:
        key = str(file.resolve())
        if key in seen:
            continue  # a folder given twice (or the bundled one again) is scanned once
        seen.add(key)
        package = file.name == "__init__.py"
        targets.append(
            {
                "kind": "package" if package else "file",
                "path": key,
                "module": file.parent.name if package else file.stem,
                "origin": origin,
            }
        )
    return targets


def _entry_point_targets(paths: list[str], failures: list[PipelineInfo]) -> list[Target]:
    """Entry points of :data:`ENTRY_POINT_GROUP`, read from metadata (nothing imported)."""
    from importlib import metadata

    targets = []
    names: set[str] = set()
    for dist in metadata.distributions(path=[*paths, *sys.path]):
        try:
            eps = dist.entry_points.select(group=ENTRY_POINT_GROUP)
            if not eps:
                continue
            name = dist.metadata["Name"] or "unknown"
            dist_version = dist.version
        except Exception as exc:  # broken metadata must not stop discovery
            failures.append(PipelineInfo.failure(f"package metadata at {dist}: {exc}"))
            continue
        where = getattr(dist, "_path", None)  # the dist-info folder, for the cache's key
        dist_path = str(where) if isinstance(where, Path) and where.is_dir() else None
        key = name.lower().replace("_", "-").replace(".", "-")
        if key in names:
            continue  # the first on the path wins, as for imports
        names.add(key)
        for ep in eps:
            targets.append(
                {
                    "kind": "entry_point",
                    "name": ep.name,
                    "value": ep.value,
                    "dist": name,
                    "dist_version": dist_version,
                    "dist_path": dist_path,
                    "origin": f"package:{name}",
                }
            )
    return targets


def _finish(infos: list[PipelineInfo]) -> list[PipelineInfo]:
    """Drop repeats, flag name conflicts, and order: pipelines by name, then errors."""
    unique: list[PipelineInfo] = []
    seen: set[tuple[str, str | None]] = set()
    for info in infos:
        if info.spec is not None:
            key = (info.spec.pipeline, info.file)
            if key in seen:
                continue
            seen.add(key)
        unique.append(info)
    counts = Counter(info.name for info in unique if info.name is not None)
    for info in unique:
        info.conflict = info.name is not None and counts[info.name] > 1
    good = sorted((i for i in unique if i.error is None), key=lambda i: i.name or "")
    return good + [i for i in unique if i.error is not None]


def _in_order(targets: list[Target], results: dict[int, list[PipelineInfo]]) -> list[PipelineInfo]:
    return [info for t in targets for info in results.get(t["id"], [])]


class _Scan(NamedTuple):
    """Answers by target id (none for a target never scanned), entries about no target, and
    the ids of targets stopped for making no progress (such an answer depends on the timeout).
    """

    results: dict[int, list[PipelineInfo]]
    extra: list[PipelineInfo]
    stalled: set[int]


def _scan(targets: list[Target], timeout: float, paths: list[str]) -> _Scan:
    """Run children until every target has an answer; each death costs only its target."""
    scan = _Scan({}, [], set())
    remaining = targets
    while remaining:
        run = _run_child(remaining, timeout, paths)
        scan.results.update(run.done)
        if run.failed is not None:
            scan.results[run.failed[0]] = [run.failed[1]]
            if run.stalled:
                scan.stalled.add(run.failed[0])
        elif not run.done:  # the child did not even start: say so once, not per target
            scan.extra.append(_startup_failure(remaining, run.stderr))
            break
        remaining = [t for t in remaining if t["id"] not in scan.results]
    return scan


class _Run(NamedTuple):
    """What one child did: finished targets, the one it died on (and whether it was stopped
    for a stall rather than dying), its stderr if it failed."""

    done: dict[int, list[PipelineInfo]]
    failed: tuple[int, PipelineInfo] | None = None
    stderr: str = ""
    stalled: bool = False


def _run_child(targets: list[Target], timeout: float, paths: list[str]) -> _Run:
    """One child over ``targets``, until it finishes them, dies or goes quiet."""
    import json
    import queue
    import subprocess
    import tempfile
    import threading

    job = {"timeout": timeout, "paths": paths, "targets": targets}
    by_id = {t["id"]: t for t in targets}
    done: dict[int, list[PipelineInfo]] = {}
    current: int | None = None
    with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as stderr:
        stdin.write(json.dumps(job).encode())
        stdin.seek(0)
        child = subprocess.Popen(
            [sys.executable, "-m", "studio.discovery.scan"],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=_child_env(),
        )
        lines: queue.Queue[bytes | None] = queue.Queue()
        threading.Thread(target=_pump, args=(child.stdout, lines), daemon=True).start()
        try:
            while len(done) < len(targets):
                if not done and current is None:  # still starting: Python, studio, pydantic
                    wait: float | None = max(timeout, STARTUP_TIMEOUT)
                else:
                    wait = timeout if timeout > 0 else None
                try:
                    raw = lines.get(timeout=wait)
                except queue.Empty:
                    child.kill()
                    child.wait()
                    problem = f"import stalled: no progress for {timeout:g} s (scanner stopped)"
                    stalled = True
                    break
                if raw is None:  # end of stream: the child is gone
                    problem = _death(child.wait())
                    stalled = False
                    break
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue  # never expected: the protocol stream is private
                if message.get("event") == "begin":
                    current = message["id"]
                elif message.get("event") == "done":
                    done[message["id"]] = [PipelineInfo.from_json(d) for d in message["infos"]]
                    current = None
            else:
                child.wait(timeout=5)  # it leaves at once with os._exit after the last line
                return _Run(done)
        except subprocess.TimeoutExpired:
            return _Run(done)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()
        if current is None:
            return _Run(done, None, _read(stderr)[-4000:])
        failure = _child_failure(by_id[current], problem, stderr)
        return _Run(done, (current, failure), stalled=stalled)


def _pump(stream: IO[bytes] | None, lines: Any) -> None:
    """Reader thread: the child's protocol lines into a queue, then None at end of stream."""
    try:
        if stream is not None:
            for raw in stream:
                lines.put(raw)
    except (OSError, ValueError):
        pass  # closed under us after a kill
    finally:
        lines.put(None)


def _child_env() -> dict[str, str]:
    """The child must import this very ``studio``, whatever put it on our ``sys.path``."""
    import site

    env = dict(os.environ)
    site_dirs = {*site.getsitepackages(), site.getusersitepackages()}
    if _STUDIO_ROOT not in site_dirs:
        current = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if _STUDIO_ROOT not in current:
            env["PYTHONPATH"] = os.pathsep.join([*current, _STUDIO_ROOT])
    return env


def _death(code: int) -> str:
    if code < 0:
        import signal

        try:
            name = signal.Signals(-code).name
        except ValueError:
            return f"crashed the scanner (signal {-code})"
        return f"crashed the scanner (signal {-code}, {name})"
    return f"crashed the scanner (exit code {code})"


def _child_failure(target: Target, message: str, stderr: IO[bytes]) -> PipelineInfo:
    """An error entry for the target a child died on, placed by its last stack dump."""
    text = _read(stderr)
    marker = f"--- studio discovery: begin {target['id']} ---"
    section = text.rsplit(marker, 1)[-1].strip() if marker in text else ""
    file, line = _dumped_location(target, section)
    if target["kind"] == "entry_point":
        where = f"entry point {target['name']} = {target['value']} ({target['dist']})"
    else:
        where = f"{file}:{line}" if line else str(file)
    return PipelineInfo.failure(
        f"{where}: {message}",
        file=file,
        line=line,
        traceback=section[-20000:] or None,
        origin=target["origin"],
    )


def _dumped_location(target: Target, dump: str) -> tuple[str | None, int | None]:
    """The innermost frame in the target's own files, from the last stack dump that has one.

    faulthandler writes one block per thread, innermost frame first; a stall warning may
    come before the dump of the crash itself, hence the last block wins.
    """
    if target["kind"] == "entry_point":
        return None, None
    own = Path(target["path"])
    folder = own.parent if target["kind"] == "package" else None
    found: tuple[str, int] | None = None
    in_block = False  # whether this block already gave its innermost own frame
    for text in dump.splitlines():
        text = text.strip()
        if not text.startswith('File "'):
            in_block = False
            continue
        name, _, rest = text[6:].partition('", line ')
        number = rest.split(" ", 1)[0]
        if in_block or not number.isdigit():
            continue
        try:
            frame = Path(name).resolve()
        except (OSError, RuntimeError):  # a symlink loop
            continue
        if frame == own or (folder is not None and folder in frame.parents):
            found, in_block = (str(frame), int(number)), True
    return found if found is not None else (str(own), None)


def _read(stream: IO[bytes]) -> str:
    stream.seek(0)
    return stream.read().decode("utf-8", "replace")


def _startup_failure(targets: list[Target], stderr: str) -> PipelineInfo:
    names = ", ".join(str(t.get("path") or t.get("value")) for t in targets[:3])
    more = f" and {len(targets) - 3} more" if len(targets) > 3 else ""
    return PipelineInfo.failure(
        f"the discovery scanner ({sys.executable} -m studio.discovery.scan) did not start; "
        f"not scanned: {names}{more}",
        traceback=stderr or None,
    )
