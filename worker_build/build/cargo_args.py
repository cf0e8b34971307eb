"""What worker-build knows of `cargo build`'s own arguments, which users pass through it.

Which of cargo's options take a value (so that the value is never taken for the crate
path), and the one option it refuses: `--target`, since a Worker is always built for
wasm32-unknown-unknown. Standard library only: the build's command-line parser reads
it before anything else is imported.
"""

from __future__ import annotations

from collections.abc import Sequence

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


def options(cargo_args: Sequence[str]) -> list[tuple[str, str | None]]:
    """cargo's options among the arguments for it, each with its value (None for a flag),
    read as cargo reads them: `--name=value`, `--name value`, `-Zflag`, `-j4`; so that
    a value (`--features --locked`, say) is never taken for an option."""
    found: list[tuple[str, str | None]] = []
    index = 0
    while index < len(cargo_args):
        arg = cargo_args[index]
        index += 1
        if arg.startswith("--") and "=" in arg:
            name, _, value = arg.partition("=")
            found.append((name, value))
        elif arg in VALUE_OPTIONS:
            following = cargo_args[index] if index < len(cargo_args) else None
            if following is not None and (VALUE_OPTIONS[arg] or not following.startswith("-")):
                found.append((arg, following))
                index += 1
            else:
                found.append((arg, None))
        elif arg[:2] in VALUE_OPTIONS and len(arg) > 2:  # -Zflag, -j4, -Ffeat, -pname
            found.append((arg[:2], arg[2:].removeprefix("=")))
        elif arg.startswith("-"):
            found.append((arg, None))
    return found
