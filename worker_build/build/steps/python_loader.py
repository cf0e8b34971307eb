"""Step: emit the Python loader (`loader.py`) next to wasm-bindgen's output.

The signatures come from the JS glue (see worker_build/loader/glue/). wasmtime
runs only the exnref encoding of exception handling, so a legacy-EH module gets
an exnref copy, `loader_bg.wasm`, made with `wasm-opt --translate-to-exnref`;
the Worker itself keeps using `index_bg.wasm`.

A Worker crate (its glue exports a handler such as `fetch`) cannot run on wasmtime:
its loader serves the build in workerd instead (templates/worker_loader.py.tmpl,
worker_build/serve/worker_loader.py), and needs neither wasmtime nor `loader_bg.wasm`.

The translation is most of this step's cost, so the pipeline starts it early
(`start_translation`, right after wasm-bindgen): it translates wasm-bindgen's
module while the main wasm-opt optimises the Worker's copy, on another core.
`emit_loader` then joins it when the final module does hold legacy EH, and
stops it otherwise. The exnref copy is therefore made from the module before
wasm-opt; both have the same exports and the same behaviour.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from worker_build.build.context import BuildContext
from worker_build.build.options import WASM_OPT_FEATURES, BuildOptions
from worker_build.errors import ToolMissingError, WorkerBuildError
from worker_build.loader import emit
from worker_build.loader.glue import parse_glue
from worker_build.loader.glue.functions import WasmSig
from worker_build.rust.flags import EhEncoding
from worker_build.serve.worker_loader import HANDLERS, render_worker_loader, worker_exports
from worker_build.tools import resolve
from worker_build.tools.tool import Tool
from worker_build.util import proc
from worker_build.wasm.eh import inspect_bytes
from worker_build.wasm.module import parse_module
from worker_build.wasm.records import Module

# The pipeline's name of the background step (`start`) that `run` joins.
TRANSLATION_JOB = "loader translation (background)"
LOADER_FILE = "loader.py"
EXNREF_FILE = "loader_bg.wasm"
# wasm-bindgen's module as the background translation reads it: wasm-opt and the
# producers step replace index_bg.wasm by rename, this hard link keeps the old bytes.
TRANSLATION_SOURCE = "loader_src.wasm"
TRANSLATE_FIX = "the Python loader needs binaryen's wasm-opt (version 117 or newer)"
GLUE_FILES = ("index_bg.js", "index.js")  # index_bg.js only exists with some bindgen layouts


@dataclass(frozen=True)
class LoaderInfo:
    files: list[str]  # written into staging, relative names
    functions: list[str]  # callable from Python: functions, and `Class.method`
    unsupported: list[str]  # "name: reason" for what raises NotImplementedError
    translated_to_exnref: bool  # loader_bg.wasm was made from a legacy-EH module
    classes: list[str] = field(default_factory=list)  # exported structs
    enums: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)  # JS functions to provide(), typed
    unsupported_imports: list[str] = field(default_factory=list)  # "name: reason"
    kind: str = "wasmtime"  # or "worker": loader.serve() runs the build in workerd

    def facts(self) -> dict[str, object]:
        """The loader's part of the build report (`loader` in worker-build.json)."""
        return {
            "kind": self.kind,
            "files": list(self.files),
            "functions": list(self.functions),
            "unsupported": list(self.unsupported),
            "classes": list(self.classes),
            "enums": list(self.enums),
            "imports": list(self.imports),
            "unsupported_imports": list(self.unsupported_imports),
            "translated_to_exnref": self.translated_to_exnref,
        }


@dataclass(frozen=True)
class WorkerPaths:
    """Where a Worker crate's loader finds the crate (its wrangler configuration) from
    the final output directory."""

    crate_dir: Path
    out_dir: Path


def import_signatures(module: Module) -> dict[str, WasmSig]:
    """{import name: (param types, result types)} of the imported functions."""
    sigs: dict[str, WasmSig] = {}
    for imp in module.imports:
        ty = (
            module.types[imp.type_index]
            if imp.kind == "func" and imp.type_index is not None
            else None
        )
        if ty is not None:
            sigs[imp.name] = (ty.params, ty.results)
    return sigs


def export_signatures(module: Module) -> dict[str, WasmSig]:
    """{export name: (param types, result types)} of the exported functions."""
    imported = [i.type_index for i in module.imports if i.kind == "func"]
    sigs: dict[str, WasmSig] = {}
    for export in module.exports:
        if export.kind != "func":
            continue
        if export.index < len(imported):
            type_index = imported[export.index]
        else:
            type_index = module.func_types[export.index - len(imported)]
        ty = module.types[type_index] if type_index is not None else None
        if ty is not None:
            sigs[export.name] = (ty.params, ty.results)
    return sigs


def translate_command(wasm_opt: Path, source: Path, target: Path) -> list[str]:
    return [str(wasm_opt), str(source), *WASM_OPT_FEATURES, "--translate-to-exnref", "-g",
            "-o", str(target)]  # fmt: skip


def translate_to_exnref(wasm_opt: Path, source: Path, target: Path) -> None:
    proc.run(translate_command(wasm_opt, source, target), fix=TRANSLATE_FIX)


def exports_a_handler(module_path: Path) -> bool:
    """Whether the module exports a Worker handler (`fetch`, ...): its loader then
    serves the build in workerd and needs no exnref copy. The test emit_loader makes
    on the glue's exports, made here on the module's, before the glue is parsed."""
    module = parse_module(module_path.read_bytes())
    return any(e.kind == "func" and e.name in HANDLERS for e in module.exports)


def start_translation(wasm_opt: Path, staging: Path) -> proc.Background:
    """Start translating staging/index_bg.wasm, as it is now, into staging/loader_bg.wasm
    in the background. The caller joins or stops the returned job."""
    source = staging / TRANSLATION_SOURCE
    try:
        os.link(staging / "index_bg.wasm", source)
    except OSError:  # a filesystem without hard links
        shutil.copyfile(staging / "index_bg.wasm", source)
    return proc.Background(
        translate_command(wasm_opt, source, staging / EXNREF_FILE), fix=TRANSLATE_FIX
    )


def _check_wasmtime_accepts(path: Path) -> None:
    import wasmtime

    config = wasmtime.Config()
    config.wasm_exceptions = True
    try:
        wasmtime.Module.validate(wasmtime.Engine(config), path.read_bytes())
    except wasmtime.WasmtimeError as exc:
        if path.name == EXNREF_FILE and "legacy_exceptions" in str(exc):
            raise WorkerBuildError(
                f"wasm-opt left legacy exception handling in {EXNREF_FILE} ({exc})",
                "use binaryen 117 or newer (--translate-to-exnref)",
            ) from exc
        raise WorkerBuildError(
            f"wasmtime cannot load {path.name} for the Python loader: {exc}",
            "build without the Python loader, or report this module",
        ) from exc


def emit_loader(
    staging: Path,
    *,
    wasm_opt: Path | None,
    worker: WorkerPaths | None = None,
    translation: proc.Background | None = None,
    encodings: tuple[str, ...] | None = None,
) -> LoaderInfo:
    """Write staging/loader.py (and loader_bg.wasm when the module uses legacy EH); for a
    Worker crate, given `worker`, the loader that serves it in workerd. `translation`:
    the job start_translation returned, if the pipeline started one; joined when the
    module needs it, stopped (and its output removed) otherwise. `encodings`: the
    module's EH encodings when the caller decoded it already."""
    module_path = staging / "index_bg.wasm"
    glue_paths = [staging / name for name in GLUE_FILES if (staging / name).is_file()]
    if not module_path.is_file() or not glue_paths:
        raise WorkerBuildError(
            f"{staging} does not hold wasm-bindgen's index.js and index_bg.wasm",
            "run wasm-bindgen with --target module --out-name index first",
        )
    glue_text = "\n".join(p.read_text(encoding="utf-8") for p in glue_paths)
    data = module_path.read_bytes()
    module = parse_module(data)
    glue = parse_glue(glue_text, export_signatures(module), import_signatures(module))
    exports = worker_exports([f.name for f in glue.functions], tuple(c.name for c in glue.classes))
    if exports is not None and worker is not None:
        _drop(translation, staging)  # a Worker's loader needs no exnref copy
        text = render_worker_loader(exports, crate_dir=worker.crate_dir, out_dir=worker.out_dir)
        (staging / LOADER_FILE).write_text(text, encoding="utf-8")
        return LoaderInfo(
            [LOADER_FILE],
            list(exports.rpc_methods),
            [],
            False,
            classes=list(exports.classes),
            kind="worker",
        )
    if encodings is None:
        encodings = inspect_bytes(data).encodings
    files = [LOADER_FILE]
    loaded = module_path  # what loader.py loads into wasmtime
    translated = "legacy" in encodings
    if translated:
        if translation is not None:
            translation.join()
        elif wasm_opt is None:
            raise ToolMissingError(
                "the Python loader needs wasm-opt: this module uses legacy exception "
                "handling, which wasmtime cannot run, and wasm-opt translates it to exnref",
                "install binaryen's wasm-opt (npm i binaryen) or set WASM_OPT_BIN",
            )
        else:
            translate_to_exnref(wasm_opt, module_path, staging / EXNREF_FILE)
        loaded = staging / EXNREF_FILE
        files.append(EXNREF_FILE)
    else:  # started for nothing: the module has no legacy EH
        _drop(translation, staging)
    # wasmtime rejects legacy EH too ("legacy_exceptions feature required"): this also
    # proves the translation left none.
    _check_wasmtime_accepts(loaded)
    if translated:
        # The signatures of the module loaded: the exnref copy is translated from
        # wasm-bindgen's output, before wasm-opt (which may drop unused imports).
        module = parse_module(loaded.read_bytes())
        glue = parse_glue(glue_text, export_signatures(module), import_signatures(module))
    rendered = emit.render_loader(glue, loaded.name)
    (staging / LOADER_FILE).write_text(rendered.text, encoding="utf-8")
    return LoaderInfo(
        files,
        rendered.functions,
        rendered.unsupported,
        translated,
        classes=rendered.classes,
        enums=rendered.enums,
        imports=rendered.imports,
        unsupported_imports=rendered.unsupported_imports,
    )


def _drop(translation: proc.Background | None, staging: Path) -> None:
    """Stop a translation whose output is not needed, and remove what it wrote."""
    if translation is not None:
        translation.stop()
        (staging / EXNREF_FILE).unlink(missing_ok=True)


# --- the steps -------------------------------------------------------------------------


def translates(options: BuildOptions) -> bool:
    """Whether the module will likely hold legacy EH, which the loader must translate:
    unwind builds unless exnref was asked for (rustc 1.96 defaults to legacy). Abort
    builds get wasm-bindgen's exnref wrappers. A wrong guess costs only time: `run`
    translates what it finds, and stops a translation it does not need."""
    return options.panic_unwind and options.eh_encoding is not EhEncoding.EXNREF


def _wasm_opt(ctx: BuildContext) -> Tool:
    """wasm-opt for the loader's exnref copy, even when the build does not optimise."""
    tool = ctx.tools.get("wasm-opt")
    if tool is None:
        tool = resolve.wasm_opt(ctx.options.crate_path, ctx.options.install_policy)
        ctx.tools["wasm-opt"] = tool
    return tool


def start(ctx: BuildContext) -> None:
    """Step `loader translation (background)`: right after wasm-bindgen, start the exnref
    translation of its module, so that it runs beside the main wasm-opt."""
    if exports_a_handler(ctx.bindgen_dir / "index_bg.wasm"):
        ctx.facts["loader_translation"] = "not needed: a Worker's loader serves it in workerd"
        return
    ctx.jobs[TRANSLATION_JOB] = start_translation(_wasm_opt(ctx).path, ctx.bindgen_dir)


def run(ctx: BuildContext) -> None:
    """Step `python loader`: write loader.py (and loader_bg.wasm) into the output."""
    wasm_opt_tool = ctx.tools.get("wasm-opt")
    if wasm_opt_tool is None and ctx.options.panic_unwind:
        # legacy EH must be translated to exnref even when the build did not optimise
        wasm_opt_tool = _wasm_opt(ctx)
    info = emit_loader(
        ctx.bindgen_dir,
        wasm_opt=wasm_opt_tool.path if wasm_opt_tool else None,
        worker=WorkerPaths(ctx.options.crate_path, ctx.options.out_dir),
        translation=ctx.jobs.get(TRANSLATION_JOB),
        encodings=ctx.eh_encodings,  # the verify step decoded the module already
    )
    for name in info.files:
        shutil.copyfile(ctx.bindgen_dir / name, ctx.out_dir / name)
    ctx.facts["loader"] = info.facts()
    if info.translated_to_exnref:
        ctx.notes.append("loader: legacy EH translated to exnref for wasmtime (wasm-opt)")
