"""Prove from the bytes that a module can unwind: find its exception handling.

`verify_file` / `verify_bytes` decode the whole module (every section and every
instruction of every function body), count the exception-handling
instructions, and check them against the expected encoding:

* ``legacy``: `try`/`catch`/`catch_all`/`rethrow`/`delegate` present and no
  exnref instruction (Node 20 rejects `try_table`);
* ``exnref``: `try_table`/`throw_ref` present and no legacy instruction
  (wasmtime rejects `try`);
* ``any``: either encoding (or both).

EH instructions alone do not prove that a panic can unwind: wasm-bindgen wraps
imported JS calls in try/try_table blocks that catch its JS tag even in
panic=abort builds (hello-worker's abort build has 92 of them). A panic is a
`throw` of Rust's own exception tag (a tag that is not one of wasm-bindgen's
JS tags; rustc defines it, param i32), and landing pads catch it. So the check
also requires such a tag to be thrown or caught somewhere.

A module without that evidence raises NoExceptionHandlingError; bytes that are
not a valid module raise InvalidWasmError. `inspect_bytes` builds the report
without the check.
"""

from __future__ import annotations

import copy
import os

from worker_build.errors import NoExceptionHandlingError
from worker_build.wasm import opcodes as ops
from worker_build.wasm.code import (
    CATCH_REF_USE,
    CATCH_USE,
    CLAUSE_SLOT_BASE,
    SLOT_NAMES,
    THROW_USE,
    TagUses,
)
from worker_build.wasm.module import parse_module
from worker_build.wasm.opcodes import CATCH_CLAUSES
from worker_build.wasm.records import Module, Record
from worker_build.wasm.scan import scan_module

TYPE_CHECKING = False  # like typing.TYPE_CHECKING, without importing typing
# pathlib and typing cost milliseconds of start-up that `verify` does not need.
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, Literal

    Expect = Literal["legacy", "exnref", "any"]
else:
    Expect = str
EXPECT_CHOICES: tuple[str, ...] = ("legacy", "exnref", "any")
# The instructions that tell the encodings apart (`throw` is in both).
LEGACY_NAMES = tuple(ops.EH_NAMES[op] for op in sorted(ops.LEGACY_EH))
EXNREF_NAMES = tuple(ops.EH_NAMES[op] for op in sorted(ops.EXNREF_EH))

# wasm-bindgen names (import names may carry a hash suffix: match prefixes).
JSTAG = "__wbindgen_jstag"
WRAPPED_JSTAG = "__wbindgen_wrapped_jstag"
PANIC_ERROR = ("__wbg___wbindgen_panic_error", "__wbindgen_panic_error")
RETHROW = ("__wbg___wbindgen_rethrow", "__wbindgen_rethrow")
INSTANCE_TERMINATED = "__instance_terminated"
ABORT_HANDLER = "__abort_handler"


def _p(name: str | None) -> str:
    """A name from the module, printable on one line."""
    text = name or ""
    return text if text.isprintable() else repr(text)


class Tag(Record):
    __slots__ = ("catches", "imported", "index", "module", "name", "params", "throws",
                 "type_index")  # fmt: skip

    def __init__(
        self,
        index: int,
        imported: bool,
        type_index: int,
        params: tuple[str, ...] | None,  # None when the type is not a function type
        module: str | None = None,  # import module / name, for imported tags
        name: str | None = None,
        throws: int = 0,  # `throw` instructions naming this tag
        catches: int = 0,  # legacy `catch` + try_table `catch`/`catch_ref` clauses naming it
    ) -> None:
        self.index = index
        self.imported = imported
        self.type_index = type_index
        self.params = params
        self.module = module
        self.name = name
        self.throws = throws
        self.catches = catches

    @property
    def bindgen_js(self) -> bool:
        """One of wasm-bindgen's JS-exception tags (not Rust's panic tag)."""
        return self.imported and (self.name or "").startswith((JSTAG, WRAPPED_JSTAG))

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "imported": self.imported,
            "module": self.module,
            "name": self.name,
            "type": self.type_index,
            "params": list(self.params) if self.params is not None else None,
            "throws": self.throws,
            "catches": self.catches,
            "wasm_bindgen_js": self.bindgen_js,
        }

    def describe(self) -> str:
        sig = "(" + " ".join(self.params) + ")" if self.params is not None else "(?)"
        where = f"import {_p(self.module)}::{_p(self.name)}" if self.imported else "defined"
        return f"tag {self.index} {sig} {where}: thrown {self.throws}, caught {self.catches}"


class BindgenInfo(Record):
    __slots__ = ("abort_handler", "instance_terminated", "jstag_import", "panic_error_import",
                 "reset_state_exports", "rethrow_import", "wrapped_jstag_import")  # fmt: skip

    def __init__(
        self,
        instance_terminated: bool,  # export __instance_terminated (abort flag global)
        abort_handler: bool,  # export __abort_handler
        reset_state_exports: tuple[str, ...],  # exports about resetting the instance, if any
        jstag_import: str | None,  # full import names of the JS tags
        wrapped_jstag_import: str | None,
        panic_error_import: str | None,
        rethrow_import: str | None,
    ) -> None:
        self.instance_terminated = instance_terminated
        self.abort_handler = abort_handler
        self.reset_state_exports = reset_state_exports
        self.jstag_import = jstag_import
        self.wrapped_jstag_import = wrapped_jstag_import
        self.panic_error_import = panic_error_import
        self.rethrow_import = rethrow_import

    def to_json(self) -> dict[str, Any]:
        return {
            "instance_terminated": self.instance_terminated,
            "abort_handler": self.abort_handler,
            "reset_state_exports": list(self.reset_state_exports),
            "jstag_import": self.jstag_import,
            "wrapped_jstag_import": self.wrapped_jstag_import,
            "panic_error_import": self.panic_error_import,
            "rethrow_import": self.rethrow_import,
        }

    def present(self) -> list[str]:
        out = []
        if self.instance_terminated:
            out.append(f"export {INSTANCE_TERMINATED}")
        if self.abort_handler:
            out.append(f"export {ABORT_HANDLER}")
        out.extend(f"export {_p(n)}" for n in self.reset_state_exports)
        for name in (self.jstag_import, self.wrapped_jstag_import):
            if name:
                out.append(f"tag import {_p(name)}")
        for name in (self.panic_error_import, self.rethrow_import):
            if name:
                out.append(f"import {_p(name)}")
        return out


class EHReport(Record):
    __slots__ = ("bindgen", "catch_clauses", "custom_sections", "encodings", "expect",
                 "functions_defined", "functions_imported", "functions_with_eh",
                 "instructions", "path", "size", "tags")  # fmt: skip

    def __init__(
        self,
        path: str | None,
        size: int,
        encodings: tuple[str, ...],  # subset of ("legacy", "exnref"), in that order
        instructions: tuple[tuple[str, int], ...],  # (text-format name, count), all 8 names
        catch_clauses: tuple[tuple[str, int], ...],  # try_table clause kind -> count
        functions_defined: int,
        functions_imported: int,
        functions_with_eh: int,
        tags: tuple[Tag, ...],
        bindgen: BindgenInfo,
        custom_sections: tuple[str, ...],
        expect: str = "any",
    ) -> None:
        self.path = path
        self.size = size
        self.encodings = encodings
        self.instructions = instructions
        self.catch_clauses = catch_clauses
        self.functions_defined = functions_defined
        self.functions_imported = functions_imported
        self.functions_with_eh = functions_with_eh
        self.tags = tags
        self.bindgen = bindgen
        self.custom_sections = custom_sections
        self.expect = expect

    def count(self, name: str) -> int:
        return dict(self.instructions)[name]

    @property
    def has_eh(self) -> bool:
        return bool(self.encodings)

    @property
    def unwind_tags(self) -> tuple[int, ...]:
        """Tags other than wasm-bindgen's JS tags that are thrown or caught."""
        return tuple(t.index for t in self.tags if not t.bindgen_js and (t.throws or t.catches))

    @property
    def can_unwind(self) -> bool:
        return self.has_eh and bool(self.unwind_tags)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "size": self.size,
            "expect": self.expect,
            "encodings": list(self.encodings),
            "can_unwind": self.can_unwind,
            "unwind_tags": list(self.unwind_tags),
            "instructions": dict(self.instructions),
            "try_table_catches": dict(self.catch_clauses),
            "functions": {
                "defined": self.functions_defined,
                "imported": self.functions_imported,
                "with_eh": self.functions_with_eh,
            },
            "tags": [t.to_json() for t in self.tags],
            "wasm_bindgen": self.bindgen.to_json(),
            "custom_sections": list(self.custom_sections),
        }

    def summary_lines(self) -> list[str]:
        name = os.path.basename(self.path) if self.path else "module"
        lines = [
            f"{name}: {self.size:,} bytes, {self.functions_defined:,} functions "
            f"(+{self.functions_imported} imported)"
        ]
        if self.encodings:
            lines.append(f"exception handling: {' + '.join(self.encodings)}")
        else:
            lines.append("exception handling: none")
        counts = [f"{n} {c:,}" for n, c in self.instructions if c]
        if counts:
            lines.append(f"  {', '.join(counts)} in {self.functions_with_eh:,} functions")
        clauses = [f"{n} {c:,}" for n, c in self.catch_clauses if c]
        if clauses:
            lines.append(f"  try_table clauses: {', '.join(clauses)}")
        if self.can_unwind:
            tags = ", ".join(str(i) for i in self.unwind_tags)
            lines.append(f"panics can unwind: yes (Rust exception tag {tags} thrown/caught)")
        elif self.has_eh:
            lines.append("panics can unwind: NO (EH only in wasm-bindgen's JS-exception wrappers)")
        lines.append(f"tags: {len(self.tags)}")
        lines.extend(f"  {t.describe()}" for t in self.tags)
        present = self.bindgen.present()
        lines.append(f"wasm-bindgen: {', '.join(present) if present else 'no EH/abort machinery'}")
        return lines

    def check(self, expect: str) -> EHReport:
        """Raise NoExceptionHandlingError unless the module matches `expect`."""
        if expect not in EXPECT_CHOICES:
            raise ValueError(f"expect must be one of {EXPECT_CHOICES}, not {expect!r}")
        name = self.path or "the module"
        found = ", ".join(f"{n} x{c}" for n, c in self.instructions if c)
        if not self.encodings:
            if self.count("throw"):
                raise NoExceptionHandlingError(
                    f"{name} has only `throw` ({found}) and no try/try_table: "
                    "it cannot catch a panic",
                    "build with --panic-unwind",
                )
            raise NoExceptionHandlingError(
                f"{name} contains no exception-handling instructions (a panic=abort build)",
                "build with --panic-unwind",
            )
        if not self.can_unwind:
            raise NoExceptionHandlingError(
                f"{name} has exception handling ({found}) only in wasm-bindgen's "
                "JS-exception wrappers: no Rust exception tag is thrown or caught, so a "
                "panic cannot unwind (a panic=abort build)",
                "build with --panic-unwind",
            )
        if expect != "any" and self.encodings != (expect,):
            other = "exnref" if expect == "legacy" else "legacy"
            raise NoExceptionHandlingError(
                f"{name} uses the {' + '.join(self.encodings)} exception-handling encoding "
                f"({found}), expected {expect}",
                f"{_HOW_TO[expect]}; or verify with --expect {other} or --expect any",
            )
        checked = copy.copy(self)
        checked.expect = expect
        return checked


_HOW_TO = {
    "legacy": "rustc emits legacy EH with -Cllvm-args=-wasm-use-legacy-eh (do not pass =false) "
    "and wasm-opt must not run --translate-to-exnref",
    "exnref": "build with -Cllvm-args=-wasm-use-legacy-eh=false, or run wasm-opt "
    "--translate-to-exnref",
}


def verify_file(path: Path, expect: Expect = "any") -> EHReport:
    return inspect_file(path).check(expect)


def verify_bytes(data: bytes, expect: Expect = "any") -> EHReport:
    return inspect_bytes(data).check(expect)


def inspect_file(path: Path | str) -> EHReport:
    with open(path, "rb") as f:
        data = f.read()
    return inspect_bytes(data, str(path))


def inspect_bytes(data: bytes, path: str | None = None, jobs: int | None = None) -> EHReport:
    """Decode the whole module and build the report (no expectation check).
    `jobs`: see wasm.scan.scan_module (None: automatic)."""
    data = bytes(data)
    m = parse_module(data)
    n_imported = sum(1 for i in m.imports if i.kind == "func")
    scanned = scan_module(data, m, jobs)
    totals, with_eh, tag_uses = scanned.totals, scanned.with_eh, scanned.tag_uses
    instructions = tuple(zip(SLOT_NAMES, totals[:CLAUSE_SLOT_BASE], strict=True))
    by_name = dict(instructions)
    encodings: tuple[str, ...] = ()
    if any(by_name[n] for n in LEGACY_NAMES):
        encodings += ("legacy",)
    if any(by_name[n] for n in EXNREF_NAMES):
        encodings += ("exnref",)
    return EHReport(
        path=path,
        size=len(data),
        encodings=encodings,
        instructions=instructions,
        catch_clauses=tuple(zip(CATCH_CLAUSES, totals[CLAUSE_SLOT_BASE:], strict=True)),
        functions_defined=len(m.bodies),
        functions_imported=n_imported,
        functions_with_eh=with_eh,
        tags=_tags(m, tag_uses),
        bindgen=_bindgen(m),
        custom_sections=tuple(c.name for c in m.customs),
    )


def _params(m: Module, type_index: int) -> tuple[str, ...] | None:
    t = m.types[type_index] if type_index < len(m.types) else None
    return t.params if t is not None else None


def _tags(m: Module, uses: TagUses) -> tuple[Tag, ...]:
    def used(i: int) -> tuple[int, int]:
        catches = uses.get((CATCH_USE, i), 0) + uses.get((CATCH_REF_USE, i), 0)
        return uses.get((THROW_USE, i), 0), catches

    tags = []
    for i, imp in enumerate(m.imported("tag")):
        ti = imp.type_index or 0
        throws, catches = used(i)
        tags.append(Tag(i, True, ti, _params(m, ti), imp.module, imp.name, throws, catches))
    base = len(tags)
    for i, ti in enumerate(m.tags):
        throws, catches = used(base + i)
        tags.append(Tag(base + i, False, ti, _params(m, ti), throws=throws, catches=catches))
    return tuple(tags)


def _bindgen(m: Module) -> BindgenInfo:
    exports = {e.name for e in m.exports}

    def first(kind: str, prefixes: tuple[str, ...]) -> str | None:
        return next((i.name for i in m.imports if i.kind == kind and i.name.startswith(prefixes)),
                    None)  # fmt: skip

    return BindgenInfo(
        instance_terminated=INSTANCE_TERMINATED in exports,
        abort_handler=ABORT_HANDLER in exports,
        reset_state_exports=tuple(sorted(n for n in exports if "reset_state" in n)),
        jstag_import=first("tag", (JSTAG,)),
        wrapped_jstag_import=first("tag", (WRAPPED_JSTAG,)),
        panic_error_import=first("func", PANIC_ERROR),
        rethrow_import=first("func", RETHROW),
    )
