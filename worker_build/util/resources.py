"""Files that ship with worker-build (the templates directory)."""

from __future__ import annotations

from pathlib import Path

from worker_build.errors import WorkerBuildError

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # worker_build/


def template_dir() -> Path:
    """Inside a wheel the templates live in the package; in a source checkout
    (editable install) they are the repository's top-level templates/."""
    for candidate in (_PACKAGE_DIR / "templates", _PACKAGE_DIR.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise WorkerBuildError(
        "worker-build's templates directory is missing", "reinstall worker-build"
    )


def template(name: str) -> Path:
    path = template_dir() / name
    if not path.is_file():
        raise WorkerBuildError(
            f"template {name} is missing from {template_dir()}", "reinstall worker-build"
        )
    return path
