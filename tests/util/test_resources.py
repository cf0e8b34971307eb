"""The files that ship with worker-build (util/resources.py): the templates directory in a
source checkout and in an installed wheel, and the error when a template is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.paths import REPO
from worker_build.errors import EXIT_TOOL_FAILED, WorkerBuildError
from worker_build.util import resources

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


def package(root: Path, *, templates_inside: bool, templates_beside: bool) -> Path:
    """A `worker_build/` package directory under `root`, with a templates directory
    inside it (a wheel's layout), beside it (a checkout's), or neither."""
    pkg = root / "worker_build"
    pkg.mkdir(parents=True)
    for where, on in ((pkg, templates_inside), (root, templates_beside)):
        if on:
            (where / "templates").mkdir()
            (where / "templates" / "shim.js").write_text(f"// in {where.name}\n")
    return pkg


def test_a_checkout_uses_the_repositorys_templates() -> None:
    assert resources.template_dir() == REPO / "templates"
    shipped = sorted((REPO / "templates").iterdir())
    assert shipped
    for path in shipped:
        assert resources.template(path.name) == path


def test_the_wheel_puts_the_templates_inside_the_package() -> None:
    """The layout the next tests stand in for (pyproject.toml's wheel target)."""
    with (REPO / "pyproject.toml").open("rb") as fh:
        wheel = tomllib.load(fh)["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == ["worker_build"]
    assert wheel["force-include"] == {"templates": "worker_build/templates"}


def test_a_wheel_uses_the_templates_inside_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = package(tmp_path / "site-packages", templates_inside=True, templates_beside=False)
    monkeypatch.setattr(resources, "_PACKAGE_DIR", pkg)
    assert resources.template_dir() == pkg / "templates"
    assert resources.template("shim.js").read_text() == "// in worker_build\n"


def test_the_packages_own_templates_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wheel installed into a directory that happens to hold a templates/ of its own
    (a project's site-packages beside the project) still reads the package's."""
    pkg = package(tmp_path, templates_inside=True, templates_beside=True)
    monkeypatch.setattr(resources, "_PACKAGE_DIR", pkg)
    assert resources.template_dir() == pkg / "templates"


def test_a_file_named_templates_is_not_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = package(tmp_path, templates_inside=False, templates_beside=True)
    (pkg / "templates").write_text("not a directory")
    monkeypatch.setattr(resources, "_PACKAGE_DIR", pkg)
    assert resources.template_dir() == tmp_path / "templates"


def test_no_templates_directory_says_reinstall(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        resources,
        "_PACKAGE_DIR",
        package(tmp_path, templates_inside=False, templates_beside=False),
    )
    for call in (resources.template_dir, lambda: resources.template("shim.js")):
        with pytest.raises(WorkerBuildError) as info:
            call()
        assert info.value.message == "worker-build's templates directory is missing"
        assert info.value.fix == "reinstall worker-build"
        assert info.value.exit_code == EXIT_TOOL_FAILED


def test_a_missing_template_names_it_and_where_it_was_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = package(tmp_path, templates_inside=True, templates_beside=False)
    (pkg / "templates" / "loader.py.tmpl").mkdir()  # a directory is no template either
    monkeypatch.setattr(resources, "_PACKAGE_DIR", pkg)
    for name in ("shim-legacy.js", "loader.py.tmpl"):
        with pytest.raises(WorkerBuildError) as info:
            resources.template(name)
        assert info.value.message == f"template {name} is missing from {pkg / 'templates'}"
        assert info.value.fix == "reinstall worker-build"
