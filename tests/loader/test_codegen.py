"""codegen: one Python function per export assembled from the abi snippets, compiled,
and bound to an instance (here the fake wasm side of tests/support/loaderabi.py)."""

from __future__ import annotations

import pytest

from tests.support.loaderabi import FakeWasm, make
from worker_build.loader import abi
from worker_build.loader.codegen import FunctionSpec, compile_function, function_source


def test_failed_call_goes_to_fail() -> None:
    _, fake = make(["int32"], "int32")
    fake.call = lambda *a: 0x1234  # type: ignore[method-assign]
    f2 = compile_function(fake.spec)(fake)
    with pytest.raises(RuntimeError, match=str(0x1234)):
        f2(1)


def test_every_kind_has_code() -> None:
    for kind in abi.PARAMS:
        source = function_source(FunctionSpec("g", "g", (("x", kind),), "none", False))
        compile(source, "<test>", "exec")
    for kind in abi.RETURNS:
        source = function_source(FunctionSpec("g", "g", (), kind, True))
        compile(source, "<test>", "exec")


def test_parameter_names_cannot_shadow_helpers() -> None:
    # Rust parameters named like the bound helpers, and a function named `call`
    spec = FunctionSpec("call", "call", (("malloc", "str"), ("base", "int32")), "str", False)
    fake = FakeWasm(spec)
    f = compile_function(spec)(fake)
    assert f("x", 3) == "x"
