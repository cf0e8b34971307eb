"""The development harness that tests, benchmarks and compat share (not shipped in the wheel).

Importable from the project's own virtualenv: its editable install puts the repository
root on the path (`dev-mode-dirs` in pyproject.toml).
"""
