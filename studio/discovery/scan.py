"""The discovery child: imports pipeline files so that the app never has to.

Run as ``python -m studio.discovery.scan`` by :func:`studio.discovery.discover`. It reads one
JSON job from stdin::

    {"timeout": 20.0, "paths": ["/extra/sys/path"], "targets": [
        {"id": 0, "kind": "file", "path": "/abs/blur.py", "module": "blur", "origin": "folder"},
        {"id": 1, "kind": "package", "path": "/abs/fx/__init__.py", "module": "fx", ...},
        {"id": 2, "kind": "entry_point", "name": "fake", "value": "fakepkg.pipes",
         "dist": "fakedist", "origin": "package:fakedist"}]}

and writes JSON lines to stdout: ``{"event": "begin", "id": N}`` before importing a target
(so the parent knows the culprit if this process dies), ``{"event": "alive", "id": N}``
while its imports make progress, and ``{"event": "done", "id": N, "infos": [...]}`` after,
each flushed at once. User code cannot corrupt that stream: fd 1 is pointed at stderr while
it runs and the protocol goes to a private copy of the original fd. Each target's stderr
(prints, faulthandler dumps of a crash or a stall) follows a :data:`MARKER` line.

What a target reports:

* file targets list the pipelines *defined in that file*, package targets those defined in
  files under the package folder; a pipeline a file merely imports (from a neighbour or a
  library) belongs to its own file, which is a target of its own when it should be listed.
  Entry points list everything their module registered, each attributed to its source file.
* a file that registers nothing is skipped: no entry, no error (helpers are plain modules).
* an exception or ``sys.exit`` at import gives one error entry, located at the line of the
  deepest frame in the target's own file (``SyntaxError``: the line it names).

Each target runs with the modules and ``sys.path`` of the one before it restored, so two
folders with a same-named helper (``utils.py``) do not see each other's; third-party
modules (torch...) stay imported, which is what keeps a scan of many files fast.
"""

from __future__ import annotations

import faulthandler
import importlib
import importlib.util
import inspect
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import IO, Any, NoReturn

import studio.spec as spec_module
from studio.discovery.info import PipelineInfo

#: Written to stderr before each target so the parent can cut out that target's output.
MARKER = "--- studio discovery: begin {id} ---"

_real_exit: Callable[[int], NoReturn] = os._exit


def main() -> None:
    """Scan every target of the job on stdin, then leave without running user atexit code."""
    proto = _Protocol(_take_stdout())
    job = json.loads(sys.stdin.read() or "{}")
    _detach_stdin()
    faulthandler.enable(sys.stderr)
    os._exit = _exit_with_stack  # type: ignore[assignment]
    for path in reversed(job.get("paths") or []):
        sys.path.insert(0, str(path))
    proto.timeout = float(job.get("timeout") or 0)
    # Nearly every pipeline imports studio (so pydantic): pay for it before the first
    # target's clock starts, inside the parent's start-up allowance.
    importlib.import_module("studio.decorator")
    sys.meta_path.insert(0, proto)
    for target in job.get("targets") or []:
        proto.begin(target["id"])
        infos = scan_target(target)
        proto.done(target["id"], infos)
    sys.stderr.flush()
    # User modules may have started non-daemon threads or registered atexit hooks.
    _real_exit(0)


class _Protocol:
    """The JSON lines to the parent, plus a heartbeat while a target imports.

    It sits first on ``sys.meta_path`` and finds nothing: it only notices that imports are
    happening, and says so (at most every half second). The parent's timeout is thus "no
    progress for N seconds": a file stuck in a loop or a sleep is stopped, while a slow but
    busy ``import torch`` on a cold disk is not mistaken for a hang.
    """

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.timeout = 0.0
        self.current: int | None = None
        self.last = 0.0
        self.lock = threading.Lock()

    def begin(self, target_id: int) -> None:
        self.send({"event": "begin", "id": target_id})
        print(MARKER.format(id=target_id), file=sys.stderr, flush=True)
        self.current = target_id
        self.last = time.monotonic()
        self._arm()

    def done(self, target_id: int, infos: list[dict[str, Any]]) -> None:
        self.current = None
        faulthandler.cancel_dump_traceback_later()
        self.send({"event": "done", "id": target_id, "infos": infos})

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        now = time.monotonic()
        if self.current is not None and now - self.last >= 0.5:
            self.last = now
            self.send({"event": "alive", "id": self.current})
            self._arm()
        return None

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, default=str) + "\n"
        with self.lock:  # user threads import too
            self.stream.write(line)
            self.stream.flush()

    def _arm(self) -> None:
        if self.timeout > 0:
            # Where a hang sits, for the parent's error entry, before it kills this process.
            faulthandler.dump_traceback_later(self.timeout * 0.8, exit=False)


def scan_target(target: dict[str, Any]) -> list[dict[str, Any]]:
    """Import one target and describe what it registered (JSON-ready ``PipelineInfo`` dicts)."""
    from studio.decorator import REGISTRY

    first = len(REGISTRY)
    saved_modules = dict(sys.modules)
    saved_path = list(sys.path)
    try:
        _import_target(target)
        infos = _collect(target, REGISTRY[first:])
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: one bad file must not end the scan
        infos = [_error_info(target, exc)]
    finally:
        _restore(target, saved_modules, saved_path)
    return [info.to_json() for info in infos]


def _import_target(target: dict[str, Any]) -> None:
    from studio.spec import import_module

    if target["kind"] in ("file", "package"):
        import_module(target["module"], target["path"])
        return
    module_name, _, attr = str(target["value"]).partition(":")
    obj: Any = importlib.import_module(module_name.strip())
    attr = attr.split("[", 1)[0].strip()  # "mod:attr [extra]"
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)


def _collect(target: dict[str, Any], specs: list[Any]) -> list[PipelineInfo]:
    from studio.spec import resolve

    latest = {spec.pipeline: spec for spec in specs}  # a module run twice registers twice
    infos = []
    for spec in latest.values():
        origin = target["origin"]
        try:
            obj = resolve(spec.pipeline)
        except Exception as exc:
            infos.append(
                PipelineInfo.failure(
                    f"{_where(target)}: pipeline {spec.name!r} cannot be found again as "
                    f"{spec.pipeline}: {_one_line(exc)}",
                    file=_target_file(target),
                    traceback=_format(exc),
                    origin=origin,
                    spec=spec,
                )
            )
            continue
        file, line = _source_of(obj)
        if not _belongs(target, file, spec.pipeline):
            continue
        file = file or _target_file(target)
        info = _describe(spec, obj, file, line, origin)
        infos.append(info)
    return infos


def _describe(spec: Any, obj: Any, file: str | None, line: int | None, origin: str) -> PipelineInfo:
    """Doc, schema and defaults of a found pipeline, or an error entry that keeps its spec."""
    from pydantic import BaseModel

    from studio.params import params_defaults, params_schema
    from studio.spec import resolve

    where = f"{file}:{line}" if line else str(file)
    attached = getattr(obj, "__pipeline_spec__", None)
    if attached != spec:
        return PipelineInfo.failure(
            f"{where}: {spec.pipeline} no longer refers to pipeline {spec.name!r} "
            "(was the name reassigned after @pipeline?)",
            file=file,
            line=line,
            origin=origin,
            spec=spec,
        )
    doc = obj.__doc__
    try:
        if spec.params:
            model = resolve(spec.params)
            if not (inspect.isclass(model) and issubclass(model, BaseModel)):
                raise TypeError(f"{spec.params} is not a params model")
            schema = params_schema(model)
            defaults = params_defaults(model, spec.initial_params)
        else:
            schema, defaults = {}, {}
        json.dumps([schema, defaults])
    except Exception as exc:
        return PipelineInfo.failure(
            f"{where}: pipeline {spec.name!r}: its params cannot be described: "
            f"{type(exc).__name__}: {_one_line(exc)}",
            file=file,
            line=line,
            traceback=_format(exc),
            origin=origin,
            spec=spec,
        )
    return PipelineInfo(
        name=spec.name,
        spec=spec,
        file=file,
        line=line,
        doc=inspect.cleandoc(doc) if isinstance(doc, str) else "",
        params_schema=schema,
        defaults=defaults,
        origin=origin,
    )


def _source_of(obj: Any) -> tuple[str | None, int | None]:
    """The real path and first line (decorator included) of a function or class."""
    obj = inspect.unwrap(obj) if callable(obj) else obj
    try:
        file = inspect.getsourcefile(obj) or inspect.getfile(obj)
    except (TypeError, OSError):
        return None, None
    try:
        line: int | None = inspect.getsourcelines(obj)[1]
    except (OSError, TypeError, IndexError):
        code = getattr(obj, "__code__", None)
        line = code.co_firstlineno if code is not None else None
    return os.path.realpath(file), line


def _area(target: dict[str, Any]) -> tuple[str, bool] | None:
    """The target's own source: ``(path, is_folder)``; None for an entry point's package."""
    if target["kind"] == "file":
        return os.path.realpath(target["path"]), False
    if target["kind"] == "package":
        return os.path.dirname(os.path.realpath(target["path"])), True
    top = str(target["value"]).split(":", 1)[0].strip().split(".", 1)[0]
    try:
        found = importlib.util.find_spec(top)  # top level only: runs no package code
    except (ImportError, ValueError):
        return None
    if found is None:
        return None
    if found.submodule_search_locations:
        return os.path.realpath(next(iter(found.submodule_search_locations))), True
    return (os.path.realpath(found.origin), False) if found.origin else None


def _inside(file: str | None, area: tuple[str, bool] | None) -> bool:
    if not file or area is None:
        return False
    path, is_folder = area
    file = os.path.realpath(file)
    return file.startswith(path + os.sep) if is_folder else file == path


def _belongs(target: dict[str, Any], file: str | None, pipeline: str) -> bool:
    if target["kind"] == "entry_point":
        return True
    if file is not None:
        return _inside(file, _area(target))
    module = pipeline.partition(":")[0]
    return module == target["module"] or module.startswith(target["module"] + ".")


def _error_info(target: dict[str, Any], exc: BaseException) -> PipelineInfo:
    """One error entry for a target whose import raised."""
    area = _area(target)
    file, line = _target_file(target), None
    for frame in traceback.extract_tb(exc.__traceback__):
        if _inside(frame.filename, area):
            file, line = os.path.realpath(frame.filename), frame.lineno
    if isinstance(exc, SyntaxError) and _inside(exc.filename, area):
        file, line = os.path.realpath(str(exc.filename)), exc.lineno
        message = f"{type(exc).__name__}: {exc.msg}"
    elif isinstance(exc, SystemExit):
        message = f"SystemExit: sys.exit({exc.code!r}) called at import"
    else:
        text = _one_line(exc)
        message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    where = f"{file}:{line}" if file and line else file or _where(target)
    return PipelineInfo.failure(
        f"{where}: {message}",
        file=file,
        line=line,
        traceback=_format(exc),
        origin=target["origin"],
    )


def _restore(target: dict[str, Any], modules: dict[str, Any], path: list[str]) -> None:
    """Undo what a target did to ``sys.modules`` and ``sys.path`` (third-party code stays)."""
    folder = None
    if target["kind"] != "entry_point":
        folder = os.path.dirname(os.path.realpath(target["path"]))
        if target["kind"] == "package":
            folder = os.path.dirname(folder)
    for name, module in list(sys.modules.items()):
        if name in modules:
            if modules[name] is not module:
                sys.modules[name] = modules[name]  # e.g. a pipeline file named json.py
        elif folder is not None and _imported_from(name, module, folder):
            del sys.modules[name]
    sys.path[:] = path


def _imported_from(name: str, module: Any, folder: str) -> bool:
    """Whether ``module`` was found with ``folder`` as its ``sys.path`` entry (a neighbour).

    Only those are forgotten: torch from a ``.venv`` inside the folder must stay imported
    (it cannot be imported twice in one process).
    """
    file = getattr(module, "__file__", None)
    if not file:
        return False
    try:
        relative = os.path.relpath(os.path.realpath(file), folder)
    except ValueError:  # another drive
        return False
    first = relative.split(os.sep, 1)[0]
    top = name.split(".", 1)[0]
    return first == top + ".py" or (first == top and os.sep in relative)


def _target_file(target: dict[str, Any]) -> str | None:
    return os.path.realpath(target["path"]) if target.get("path") else None


def _where(target: dict[str, Any]) -> str:
    if target.get("path"):
        return os.path.realpath(target["path"])
    return f"entry point {target['name']} = {target['value']} ({target['dist']})"


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _format(exc: BaseException) -> str:
    """The traceback from the user's first frame on (the scanner's own frames are noise)."""
    tb = exc.__traceback__
    while tb is not None and _is_machinery(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _is_machinery(filename: str) -> bool:
    if filename.startswith("<frozen importlib"):
        return True
    return os.path.realpath(filename) in _MACHINERY


_MACHINERY = {os.path.realpath(__file__), os.path.realpath(spec_module.__file__)}


def _take_stdout() -> IO[str]:
    """A private stream on the original stdout; fd 1 and ``sys.stdout`` go to stderr."""
    sys.stdout.flush()
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return proto


def _detach_stdin() -> None:
    """User code that reads stdin at import gets EOF instead of waiting forever."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - lives as long as we do


def _exit_with_stack(code: int) -> NoReturn:
    """``os._exit`` from user code: leave the stack on stderr so the parent can point at it."""
    sys.stderr.flush()
    faulthandler.dump_traceback(sys.stderr, all_threads=False)
    _real_exit(code)


if __name__ == "__main__":
    main()
