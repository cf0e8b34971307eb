"""What worker-build knows of `cargo build`'s own arguments, which users pass through it.

Which of cargo's options take a value (so that the value is never taken for the crate
path), and the one option it refuses: `--target`, since a Worker is always built for
wasm32-unknown-unknown. Standard library only: the build's command-line parser reads
it before anything else is imported.
"""

from __future__ import annotations

# cargo build's options that take a value: the next argument is that value, never the
# crate path. `False`: the value is optional (clap takes the next argument unless it
# starts with `-`).
VALUE_OPTIONS: dict[str, bool] = {
    "--message-format": True,
    "--color": True,
    "--config": True,
    "-Z": True,
    "--exclude": True,
    "-F": True,
    "--features": True,
    "-j": True,
    "--jobs": True,
    "--target-dir": True,
    "--artifact-dir": True,
    "--manifest-path": True,
    "--lockfile-path": True,
    "-p": False,
    "--package": False,
    "--example": False,
    "--test": False,
    "--bench": False,
}
WASM_TARGET = "wasm32-unknown-unknown"
# The wasm-bindgen target the Rust tool always passes (`--target module`).
BINDGEN_TARGET = "module"
TARGET_FIX = "remove --target"


def target_problem(where: str) -> str:
    """The message of a refused --target (cargo's, or the Rust tool's hidden
    wasm-bindgen one with another value)."""
    return (
        f"{where}: worker-build always builds for {WASM_TARGET} with wasm-bindgen "
        f"--target {BINDGEN_TARGET}"
    )


def find_target(cargo_args: tuple[str, ...] | list[str]) -> str | None:
    """`cargo's --target VALUE` when the arguments for cargo hold a --target, else None."""
    for index, arg in enumerate(cargo_args):
        if arg == "--target" or arg.startswith("--target="):
            value = arg.partition("=")[2] or (
                cargo_args[index + 1] if index + 1 < len(cargo_args) else ""
            )
            return f"cargo's --target {value}".rstrip()
    return None
