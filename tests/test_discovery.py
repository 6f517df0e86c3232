"""Discovery: pipelines are found in a child process, and bad files cost only themselves.

Every pipeline file here is written into tmp_path with a module name unique to the test, so
the checks that the calling process never imported user code are meaningful.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from studio.discovery import BUNDLED_DIR, PipelineInfo, discover, discover_json

REQUIRED_KEYS = {
    "name",
    "spec",
    "file",
    "line",
    "doc",
    "params_schema",
    "defaults",
    "error",
    "traceback",
    "origin",
    "conflict",
}


def write(folder: Path, name: str, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(source).lstrip("\n"))
    return path


def unique(stem: str) -> str:
    """A module name no other test (or library) uses, so sys.modules checks mean something."""
    return f"{stem}_{uuid.uuid4().hex[:8]}"


def scan(*folders: Path, **options) -> list[PipelineInfo]:
    options.setdefault("bundled", False)
    options.setdefault("entry_points", False)
    return discover(folders, **options)


def by_name(infos: list[PipelineInfo]) -> dict[str, PipelineInfo]:
    return {i.name: i for i in infos if i.error is None and i.name is not None}


def errors_by_file(infos: list[PipelineInfo]) -> dict[str, PipelineInfo]:
    return {Path(i.file).name: i for i in infos if i.error is not None and i.file}


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def assert_not_imported(*stems: str, folder: Path | None = None) -> None:
    for stem in stems:
        assert stem not in sys.modules, f"{stem} was imported in the calling process"
    if folder is not None:
        root = str(folder.resolve())
        leaked = [
            name
            for name, module in list(sys.modules.items())
            if str(getattr(module, "__file__", "") or "").startswith(root)
        ]
        assert not leaked, f"user modules imported in the calling process: {leaked}"


GOOD = '''
"""A module of good pipelines."""
import os

from pydantic import BaseModel, Field

from studio import BaseParams, Pipeline, pipeline

print("noise on stdout at import must not break discovery")
os.write(1, b"raw noise on fd 1 neither\\n")


class Look(BaseModel):
    gamma: float = Field(1.0, ge=0.1, le=4)


class Params(BaseParams):
    strength: float = Field(0.5, ge=0, le=1)
    look: Look = Look()


@pipeline(params=Params, initial_params={"strength": 0.25})
def invert_colors(frame, params):
    """Invert the colours.

    Strength blends with the input.
    """
    return 1 - frame.tensor


@pipeline(name="Tinted")
class Tint(Pipeline):
    """Tint everything."""

    def transform(self, frame, params):
        return frame.tensor


class Outer:
    @pipeline(name="nested")
    class Inner:
        def transform(self, frame, params):
            return frame.tensor
'''


def test_function_and_class_pipelines(tmp_path: Path) -> None:
    stem = unique("good")
    path = write(tmp_path, f"{stem}.py", GOOD)
    infos = scan(tmp_path)
    assert [i.error for i in infos] == [None, None, None]
    assert [i.name for i in infos] == ["Tinted", "invert-colors", "nested"]  # sorted by name
    found = by_name(infos)

    fn = found["invert-colors"]
    assert fn.spec is not None
    assert fn.spec.pipeline == f"{stem}:invert_colors"
    assert fn.spec.params == f"{stem}:Params"
    assert fn.spec.initial_params == {"strength": 0.25}
    assert fn.file == str(path.resolve())
    assert fn.line == line_of(path, "@pipeline(params=Params")
    assert fn.doc == "Invert the colours.\n\nStrength blends with the input."
    assert fn.origin == "folder" and not fn.conflict
    schema = fn.params_schema
    assert set(schema["properties"]) == {"strength", "look"}
    assert schema["properties"]["strength"]["maximum"] == 1
    assert "Look" in schema["$defs"]  # the nested model is kept
    assert fn.defaults == {"strength": 0.25, "look": {"gamma": 1.0}}

    cls = found["Tinted"]
    assert cls.spec is not None and cls.spec.pipeline == f"{stem}:Tint"
    assert cls.spec.params is None
    assert cls.line == line_of(path, '@pipeline(name="Tinted")')
    assert cls.doc == "Tint everything."
    assert cls.params_schema == {} and cls.defaults == {}

    nested = found["nested"]
    assert nested.spec is not None and nested.spec.pipeline == f"{stem}:Outer.Inner"
    assert nested.line == line_of(path, '@pipeline(name="nested")')
    assert nested.doc == ""  # no docstring of its own, none inherited
    assert_not_imported(stem, folder=tmp_path)


def test_nested_class_spec_resolves_in_another_process(tmp_path: Path) -> None:
    stem = unique("nest")
    path = write(tmp_path, f"{stem}.py", GOOD)
    (nested,) = [i for i in scan(tmp_path) if i.name == "nested"]
    assert nested.spec is not None
    code = (
        "import sys; from studio.spec import resolve; "
        "obj = resolve(sys.argv[1], sys.argv[2]); print(obj.__pipeline_spec__.name)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, nested.spec.pipeline, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip().splitlines()[-1] == "nested"


def test_bad_files_give_errors_and_never_hide_good_ones(tmp_path: Path) -> None:
    good_a, good_z = unique("a_good"), unique("z_good")
    write(
        tmp_path,
        f"{good_a}.py",
        """
        from studio import pipeline

        @pipeline
        def first_good(frame, params):
            return frame.tensor
        """,
    )
    write(
        tmp_path,
        f"{good_z}.py",
        """
        from studio import pipeline

        @pipeline
        def last_good(frame, params):
            return frame.tensor
        """,
    )
    files = {
        "syntax.py": "x = 1\ndef broken(:\n    pass\n",
        "missing_import.py": "import os\nimport no_such_module_for_studio_tests\n",
        "raises.py": "x = 1\nraise RuntimeError('boom at import')\n",
        "decorator.py": (
            "from studio import pipeline\n\n@pipeline\nclass NoTransform:\n    pass\n"
        ),
        "exits.py": "import sys\nsys.exit(3)\n",
        "crashes.py": "import os\nos._exit(7)\n",
        "segfaults.py": "import ctypes\nctypes.string_at(0)\n",
        "hangs.py": "import time\ntime.sleep(3600)\n",
    }
    stems = {name: unique(name.removesuffix(".py")) for name in files}
    for name, source in files.items():
        write(tmp_path, f"{stems[name]}.py", source)
    write(tmp_path, "_helper.py", "raise RuntimeError('private helpers are not scanned')\n")
    write(tmp_path, "notes.txt", "not python\n")

    infos = scan(tmp_path, timeout_per_file=3)

    assert [i.name for i in infos if i.error is None] == ["first-good", "last-good"]
    errors = [i for i in infos if i.error is not None]
    assert infos[2:] == errors  # valid pipelines first, then the errors
    by_stem = {Path(i.file).stem: i for i in errors if i.file}
    assert set(by_stem) == set(stems.values())  # one entry per bad file, _helper skipped
    expected = {
        "syntax.py": (2, "SyntaxError"),
        "missing_import.py": (2, "ModuleNotFoundError: No module named"),
        "raises.py": (2, "RuntimeError: boom at import"),
        "decorator.py": (3, "TypeError: @pipeline class NoTransform has no transform"),
        "exits.py": (2, "SystemExit"),
        "crashes.py": (2, "crashed the scanner (exit code 7)"),
        "segfaults.py": (2, "crashed the scanner (signal 11"),
        "hangs.py": (2, "no progress for 3 s"),
    }
    for name, (line, text) in expected.items():
        info = by_stem[stems[name]]
        assert info.name is None and info.spec is None
        assert info.file == str((tmp_path / f"{stems[name]}.py").resolve())
        assert info.line == line, (name, info.error)
        assert text in (info.error or ""), (name, info.error)
        assert info.error.startswith(f"{info.file}:{line}: "), info.error
        assert "\n" not in info.error
        assert info.traceback, name
    assert_not_imported(good_a, good_z, *stems.values(), folder=tmp_path)


def test_a_slow_but_busy_import_is_not_a_hang(tmp_path: Path) -> None:
    """The timeout is "no progress": each import in a long chain counts as progress."""
    slow, user = unique("_slow"), unique("busy")
    write(tmp_path / slow, "__init__.py", "")
    for n in range(12):
        write(tmp_path / slow, f"m{n}.py", "import time\ntime.sleep(0.3)\n")
    imports = "\n".join(f"import {slow}.m{n}" for n in range(12))
    write(
        tmp_path,
        f"{user}.py",
        f"{imports}\nfrom studio import pipeline\n\n@pipeline\ndef busy(frame, params):\n"
        "    return frame.tensor\n",
    )
    infos = scan(tmp_path, timeout_per_file=2)
    assert [(i.name, i.error) for i in infos] == [("busy", None)]


def test_same_name_in_two_files_is_a_conflict(tmp_path: Path) -> None:
    """Same module name in two folders, each with its own private helper: kept apart."""
    stem, helper = unique("effects"), unique("_names")
    for folder in ("first", "second"):
        write(tmp_path / folder, f"{helper}.py", f"ALONE = 'only-{folder}'\n")
        write(
            tmp_path / folder,
            f"{stem}.py",
            f"""
            from studio import pipeline
            from {helper} import ALONE

            @pipeline(name="twin")
            def effect(frame, params):
                return frame.tensor

            @pipeline(name=ALONE)
            def alone(frame, params):
                return frame.tensor
            """,
        )
    infos = scan(tmp_path / "first", tmp_path / "second")
    assert [(i.name, i.conflict) for i in infos] == [
        ("only-first", False),
        ("only-second", False),
        ("twin", True),
        ("twin", True),
    ]
    twins = [i for i in infos if i.name == "twin"]
    assert [Path(i.file).parent.name for i in twins] == ["first", "second"]
    assert all(i.spec is not None and i.spec.pipeline == f"{stem}:effect" for i in twins)
    assert_not_imported(stem, helper, folder=tmp_path)


def test_packages_helpers_and_neighbour_imports(tmp_path: Path) -> None:
    pkg, user, base = unique("pkg"), unique("user"), unique("base")
    write(
        tmp_path / pkg,
        "effects.py",
        """
        from studio import pipeline

        @pipeline
        def from_package(frame, params):
            return frame.tensor
        """,
    )
    write(tmp_path / pkg, "__init__.py", "from . import effects\n")
    write(
        tmp_path,
        f"{base}.py",
        """
        from studio import pipeline

        @pipeline
        def shared_base(frame, params):
            return frame.tensor
        """,
    )
    write(
        tmp_path,
        f"{user}.py",
        f"""
        from studio import pipeline
        from {base} import shared_base  # a neighbour: listed once, under its own file

        @pipeline
        def user_one(frame, params):
            return shared_base(frame, params)
        """,
    )
    write(tmp_path / "not_a_package", "loose.py", "raise RuntimeError('not scanned')\n")
    write(tmp_path, f"{unique('plain')}.py", "VALUE = 1  # no pipelines: skipped quietly\n")
    infos = scan(tmp_path)
    assert [i.error for i in infos] == [None, None, None]
    found = by_name(infos)
    assert set(found) == {"from-package", "shared-base", "user-one"}
    assert found["from-package"].file == str((tmp_path / pkg / "effects.py").resolve())
    assert found["from-package"].spec.pipeline == f"{pkg}.effects:from_package"
    assert found["shared-base"].file == str((tmp_path / f"{base}.py").resolve())
    assert_not_imported(pkg, f"{pkg}.effects", user, base, folder=tmp_path)


def test_missing_folder_is_an_error_entry(tmp_path: Path) -> None:
    stem = unique("fine")
    write(tmp_path / "real", f"{stem}.py", GOOD)
    missing = tmp_path / "nowhere"
    infos = scan(missing, tmp_path / "real")
    assert len(by_name(infos)) == 3
    (error,) = [i for i in infos if i.error is not None]
    assert error.file == str(missing.resolve())
    assert "not found" in error.error


def make_fake_distribution(site: Path) -> None:
    info = site / "fakedist-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakedist\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[studio.pipelines]\nfake = fakepkg.pipes\nbroken = fakepkg.broken\n"
    )
    write(site / "fakepkg", "__init__.py", "")
    write(
        site / "fakepkg",
        "pipes.py",
        '''
        from studio import BaseParams, pipeline


        class Params(BaseParams):
            level: int = 2


        @pipeline(params=Params)
        def packaged(frame, params):
            """Shipped in a wheel."""
            return frame.tensor
        ''',
    )
    write(site / "fakepkg", "broken.py", "import os\nraise ValueError('bad package')\n")


def test_entry_points_from_an_installed_distribution(tmp_path: Path) -> None:
    site = tmp_path / "site"
    make_fake_distribution(site)
    infos = discover(bundled=False, entry_points=True, extra_paths=[site])
    (packaged,) = [i for i in infos if i.name == "packaged"]
    assert packaged.error is None
    assert packaged.origin == "package:fakedist"
    assert packaged.spec is not None and packaged.spec.pipeline == "fakepkg.pipes:packaged"
    assert packaged.file == str((site / "fakepkg" / "pipes.py").resolve())
    assert packaged.doc == "Shipped in a wheel."
    assert packaged.defaults == {"level": 2}
    (broken,) = [i for i in infos if i.origin == "package:fakedist" and i.error]
    assert broken.file == str((site / "fakepkg" / "broken.py").resolve())
    assert broken.line == 2
    assert "ValueError: bad package" in broken.error
    assert "fakepkg" not in sys.modules and "fakepkg.pipes" not in sys.modules


def test_json_form(tmp_path: Path) -> None:
    write(tmp_path, f"{unique('json')}.py", GOOD)
    write(tmp_path, f"{unique('bad')}.py", "raise ImportError('nope')\n")
    data = discover_json([tmp_path], bundled=False, entry_points=False)
    assert len(data) == 4
    json.dumps(data)
    for entry in data:
        assert set(entry) >= REQUIRED_KEYS
        assert PipelineInfo.from_json(entry).to_json() == entry
    assert data[0]["spec"]["name"] == data[0]["name"]
    assert data[-1]["error"] and data[-1]["spec"] is None


@pytest.mark.timeout(600)
def test_bundled_pipelines_are_valid() -> None:
    """Whatever the bundled folder holds must import cleanly (torch may take a while)."""
    infos = discover(bundled=True, entry_points=False, timeout_per_file=300)
    errors = [i.error for i in infos if i.error is not None]
    assert not errors, "\n".join(str(e) for e in errors)
    bundled = BUNDLED_DIR.resolve()
    for info in infos:
        assert info.origin == "bundled"
        assert info.spec is not None and info.spec.name == info.name
        assert info.file is not None and bundled in Path(info.file).parents
        assert isinstance(info.params_schema, dict) and isinstance(info.defaults, dict)
    names = [i.name for i in infos]
    assert names == sorted(names)


def test_only_neighbours_are_forgotten_between_targets(tmp_path: Path) -> None:
    """A .venv inside a pipeline folder is not a neighbour: torch must stay imported."""
    from types import SimpleNamespace

    from studio.discovery.scan import _imported_from

    folder = str(tmp_path.resolve())

    def module(*parts: str) -> SimpleNamespace:
        return SimpleNamespace(__file__=str(Path(folder, *parts)))

    venv_torch = module(".venv", "lib", "site-packages", "torch", "__init__.py")
    assert not _imported_from("torch", venv_torch, folder)
    assert _imported_from("utils", module("utils.py"), folder)
    assert _imported_from("fx.blur", module("fx", "blur.py"), folder)
    assert not _imported_from("json", SimpleNamespace(), folder)
