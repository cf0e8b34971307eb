"""The pytest plugin's public name: the `pytest11` entry point and `-p worker_build.pytest_plugin`.

The plugin itself lives with what it serves, in worker_build.serve.pytest_plugin; this
module keeps the name that installed projects and their pytest configurations use.
"""

from worker_build.serve.pytest_plugin import (
    pytest_addoption,
    pytest_configure,
    pytest_runtest_makereport,
    pytest_terminal_summary,
    worker,
    worker_build_bindings,
    worker_build_loader,
    worker_build_output,
    worker_build_storage,
)

__all__ = [
    "pytest_addoption",
    "pytest_configure",
    "pytest_runtest_makereport",
    "pytest_terminal_summary",
    "worker",
    "worker_build_bindings",
    "worker_build_loader",
    "worker_build_output",
    "worker_build_storage",
]
