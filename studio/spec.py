"""PipelineSpec: how a pipeline is named and found again in another process.

The app never imports user code. It holds specs (plain strings) and hands them to a child
process, which resolves them with importlib: ``"package.module:Outer.Inner"``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class PipelineSpec:
    """Everything needed to load a pipeline: its name and two import paths.

    ``pipeline`` and ``params`` are ``"module:qualname"`` strings; ``params`` is None when
    the pipeline takes no params. ``initial_params`` override the model's defaults.
    """

    name: str
    pipeline: str
    params: str | None = None
    initial_params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pipeline": self.pipeline,
            "params": self.params,
            "initial_params": dict(self.initial_params),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineSpec:
        return cls(
            name=data["name"],
            pipeline=data["pipeline"],
            params=data.get("params"),
            initial_params=dict(data.get("initial_params") or {}),
        )


def import_module(module: str, file: str | None = None) -> Any:
    """Import ``module``; from ``file`` when given (a pipeline folder is not a package).

    The folder that makes ``module`` importable goes on ``sys.path`` first (for
    ``pkg.sub.mod`` in ``.../pkg/sub/mod.py``: the folder above ``pkg``), so a pipeline can
    import its neighbours and a package's relative imports work.
    """
    if file is None:
        return importlib.import_module(module)
    path = Path(file).resolve()
    depth = module.count(".") + (1 if path.name == "__init__.py" else 0)
    root = path.parent
    for _ in range(depth):
        root = root.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    if depth:
        return importlib.import_module(module)
    spec = importlib.util.spec_from_file_location(module, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {module!r} from {file}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[module] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(module, None)
        raise
    return mod


def resolve(target: str, file: str | None = None) -> Any:
    """Resolve ``"module:qualname"``, walking a dotted qualname through nested classes."""
    module_name, _, qualname = target.partition(":")
    if not qualname:
        raise ValueError(f"{target!r} is not of the form 'module:qualname'")
    module = sys.modules.get(module_name)
    if module is None or (file and not _same_file(getattr(module, "__file__", None), file)):
        module = import_module(module_name, file)
    obj: Any = module
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ImportError(
                f"{target!r}: {module_name} has no attribute path {qualname!r}"
            ) from None
    return obj


def _same_file(a: str | None, b: str) -> bool:
    return a is not None and Path(a).resolve() == Path(b).resolve()


def target_of(obj: Any) -> str:
    """The ``"module:qualname"`` string of a top-level or class-nested object."""
    return f"{obj.__module__}:{obj.__qualname__}"
