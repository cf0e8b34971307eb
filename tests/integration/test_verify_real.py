"""The decoder on real modules, cross-checked against wasm-tools.

Modules are built from sample-crates with worker-build's own cargo command
(conftest.cargo_build) and wasm-bindgen, then optionally run through
wasm-opt, in both EH encodings and as panic=abort. For every function, the
offsets of all instructions must equal those `wasm-tools print --print-offsets`
shows (so every body is decoded instruction by instruction to its exact end
byte), and the EH instruction counts must equal the mnemonics it prints.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from harness.paths import CACHE, NODE_BIN, SAMPLES
from tests.support.builds import cargo_build, wasm_bindgen_for
from worker_build.cli import verify
from worker_build.errors import NoExceptionHandlingError
from worker_build.wasm import code
from worker_build.wasm.eh import inspect_file, verify_file
from worker_build.wasm.fast import scan_body
from worker_build.wasm.module import parse_module
from worker_build.wasm.opcodes import CATCH_CLAUSES

pytestmark = pytest.mark.slow

WORK = CACHE / "verify-tests"
WASM_OPT = NODE_BIN / "wasm-opt"
WASM_TOOLS = Path(sys.executable).parent / "wasm-tools"
# The feature list worker-build passes to wasm-opt (see shared/REFERENCE.md).
OPT_FEATURES = (
    "--enable-mutable-globals", "--enable-sign-ext", "--enable-nontrapping-float-to-int",
    "--enable-bulk-memory", "--enable-multivalue", "--enable-reference-types",
    "--enable-exception-handling",
)  # fmt: skip
OPT_PASSES = {
    "opt": ("-O",),
    "translate": ("-O", "--translate-to-exnref"),
}


def _require(path: Path) -> str:
    if not path.exists():
        pytest.fail(f"required tool {path} is missing: run ./setup.sh", pytrace=False)
    return str(path)


@functools.cache
def build_module(crate: str, variant: str) -> Path:
    """cargo build as worker-build runs it (conftest.cargo_build: the fixtures' target
    dir for the variant, so nothing is compiled twice) + wasm-bindgen."""
    raw = cargo_build(crate, variant)
    out = WORK / "out" / f"{crate}-{variant}"
    subprocess.run(
        [str(wasm_bindgen_for(SAMPLES / crate)), str(raw), "--out-dir", str(out), "--target", "module",
         "--out-name", "index", "--no-typescript", "--experimental-reset-state-function",
         "--force-enable-abort-handler"],
        check=True, capture_output=True,
    )  # fmt: skip
    return out / "index_bg.wasm"


@functools.cache
def module_for(spec: str) -> Path:
    """spec: "<crate>/<variant>[+<wasm-opt passes>]"."""
    crate, rest = spec.split("/")
    variant, _, opt = rest.partition("+")
    wasm = build_module(crate, variant)
    if not opt:
        return wasm
    out = wasm.with_name(f"index_bg.{opt}.wasm")
    subprocess.run(
        [_require(WASM_OPT), *OPT_PASSES[opt], *OPT_FEATURES, str(wasm), "-o", str(out)],
        check=True,
        capture_output=True,
    )
    return out


UNWIND = [
    "pure-exports/legacy",
    "pure-exports/exnref",
    "pure-exports/legacy+opt",
    "pure-exports/legacy+translate",
    "pure-exports/exnref+opt",
    "hello-worker/legacy",
    "hello-worker/exnref",
    "hello-worker/legacy+opt",
    "hello-worker/legacy+translate",
]
ABORT = ["pure-exports/abort", "hello-worker/abort", "hello-worker/abort+opt"]
EXPECTED = {"legacy": "legacy", "exnref": "exnref", "legacy+opt": "legacy"}
EXPECTED |= {"legacy+translate": "exnref", "exnref+opt": "exnref"}

OFFSET_LINE = re.compile(r"^\(;@([0-9a-f]+) *;\)(\s*)(.*)$")
CLAUSE = re.compile(r"\((catch_all_ref|catch_all|catch_ref|catch) ")
CLAUSE_TAG = re.compile(r"\((catch_ref|catch) (\d+) ")


def wasm_tools_functions(path: Path) -> list[tuple[list[int], Counter[str]]]:
    """(instruction offsets, EH mnemonic counts) per defined function, from
    `wasm-tools print --print-offsets` (flat text format: one instruction a line)."""
    text = subprocess.run(
        [_require(WASM_TOOLS), "print", "--print-offsets", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    funcs: list[tuple[list[int], Counter[str]]] = []
    current: tuple[list[int], Counter[str]] | None = None
    for line in text.splitlines():
        m = OFFSET_LINE.match(line)
        if m is None:
            continue
        indent, body = len(m.group(2)), m.group(3).split(";;")[0].strip()
        if indent == 2:  # a module field
            current = ([], Counter()) if body.startswith("(func ") else None
            if current is not None:
                funcs.append(current)
            continue
        if current is None or body.startswith("("):  # (local ...) declarations
            continue
        current[0].append(int(m.group(1), 16))
        words = body.split()
        mnemonic = words[0]
        if mnemonic in code.SLOT_NAMES:
            current[1][mnemonic] += 1
        if mnemonic in ("throw", "catch"):  # tag uses, as "<use> <tag index>"
            current[1][f"{mnemonic} {words[1]}"] += 1
        if mnemonic == "try_table":
            current[1].update(f"clause_{k}" for k in CLAUSE.findall(body))
            current[1].update("catch " + t for _, t in CLAUSE_TAG.findall(body))
    return funcs


def our_functions(data: bytes) -> list[tuple[list[int], Counter[str], list[int]]]:
    m = parse_module(data)
    out = []
    names = code.SLOT_NAMES + tuple(f"clause_{c}" for c in CATCH_CLAUSES)
    for start, end in m.bodies:
        offsets = code.instruction_offsets(data, start, end, m.mem64)
        slow = code.walk_body(data, start, end, m.mem64)
        fast = scan_body(data, start, end, m.mem64)
        assert fast == slow, (start, fast, slow)
        counts = Counter({n: c for n, c in zip(names, slow, strict=True) if c})
        uses: code.TagUses = {}
        code.walk_body(data, start, end, m.mem64, uses)
        fast_uses: code.TagUses = {}
        scan_body(data, start, end, m.mem64, fast_uses)
        assert fast_uses == uses
        for (use, tag), n in uses.items():
            counts[f"{'throw' if use == code.THROW_USE else 'catch'} {tag}"] += n
        out.append((offsets, counts, [start, end]))
    return out


@pytest.mark.parametrize("spec", UNWIND + ABORT)
def test_decoder_matches_wasm_tools(spec: str) -> None:
    path = module_for(spec)
    features = "legacy-exceptions" if "legacy" in spec and "translate" not in spec else "all"
    subprocess.run(
        [_require(WASM_TOOLS), "validate", "--features", features, str(path)],
        check=True,
        capture_output=True,
    )
    data = path.read_bytes()
    ours = our_functions(data)
    theirs = wasm_tools_functions(path)
    assert len(ours) == len(theirs) > 10
    for i, ((offsets, counts, (start, end)), (t_offsets, t_counts)) in enumerate(
        zip(ours, theirs, strict=True)
    ):
        # every instruction at the same offset; the final end is the body's last byte
        assert offsets[:-1] == t_offsets, f"function body {i}"
        assert offsets[-1] == end - 1 and data[end - 1] == 0x0B
        assert code.walk_expr(data, start, end) == end
        assert counts == t_counts, f"function body {i}"


@pytest.mark.parametrize("spec", UNWIND)
def test_verify_reports_the_encoding(spec: str) -> None:
    path = module_for(spec)
    expected = EXPECTED[spec.split("/")[1]]
    report = verify_file(path, expected)  # type: ignore[arg-type]
    assert report.encodings == (expected,)
    totals: Counter[str] = Counter()
    for _, t_counts in wasm_tools_functions(path):
        totals.update(t_counts)
    doc = report.to_json()
    for name in code.SLOT_NAMES:
        assert doc["instructions"][name] == totals[name], name
    for kind in CATCH_CLAUSES:
        assert doc["try_table_catches"][kind] == totals[f"clause_{kind}"], kind
    with_eh = sum(1 for _, c in wasm_tools_functions(path) if any(n in c for n in code.SLOT_NAMES))
    assert report.functions_with_eh == with_eh
    for tag in report.tags:
        assert tag.throws == totals[f"throw {tag.index}"]
        assert tag.catches == totals[f"catch {tag.index}"]
    # Rust's own tag (defined by rustc, param i32) is both thrown and caught
    assert report.can_unwind and len(report.unwind_tags) == 1
    rust = report.tags[report.unwind_tags[0]]
    assert not rust.imported and rust.params == ("i32",) and rust.throws >= 1
    other = "exnref" if expected == "legacy" else "legacy"
    with pytest.raises(NoExceptionHandlingError, match=f"expected {other}"):
        verify_file(path, other)  # type: ignore[arg-type]
    # the wasm-bindgen unwind machinery
    b = report.bindgen
    assert b.instance_terminated and b.jstag_import and b.wrapped_jstag_import
    assert b.panic_error_import or "hello-worker" in spec
    tag_names = {t.name for t in report.tags if t.imported}
    assert {b.jstag_import, b.wrapped_jstag_import} <= tag_names


@pytest.mark.parametrize("spec", ABORT)
def test_abort_builds_cannot_unwind(spec: str) -> None:
    """wasm-bindgen puts try_table wrappers (catching its JS tag) around imported
    calls even in panic=abort builds: EH instructions are there, unwinding is not."""
    path = module_for(spec)
    report = inspect_file(path)
    assert report.encodings == ("exnref",) and report.count("try_table") >= 1
    assert report.count("throw") == 0
    assert all(t.bindgen_js for t in report.tags)
    assert not report.can_unwind and report.unwind_tags == ()
    assert report.bindgen.instance_terminated  # --force-enable-abort-handler
    for expect in ("any", "exnref", "legacy"):
        with pytest.raises(NoExceptionHandlingError, match="JS-exception wrappers") as e:
            verify_file(path, expect)  # type: ignore[arg-type]
        assert e.value.fix == "build with --panic-unwind"


def test_verify_cli_on_real_modules(capsys: pytest.CaptureFixture[str]) -> None:
    assert verify.main([str(module_for("hello-worker/legacy")), "--expect", "legacy"]) == 0
    assert "exception handling: legacy" in capsys.readouterr().out
    assert verify.main([str(module_for("hello-worker/abort")), "--json"]) == 6
    assert '"ok": false' in capsys.readouterr().out
