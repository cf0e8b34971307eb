"""The opcode tables (wasm/opcodes.py): invariants the decoders and the verifier rely on.

That each known opcode decodes with the immediates its kind says is checked against
wasm-tools in tests/wasm/test_code.py; here, the tables' own consistency: no opcode
listed twice (a dict literal or two groups of the base table would silently keep the
last), every EH opcode the verifier counts present, prefixes and names agreeing.
"""

from __future__ import annotations

import ast
import inspect
from collections import Counter

from worker_build.wasm import code, eh
from worker_build.wasm import opcodes as ops

KIND_CONSTANTS = [
    ops.NONE, ops.U32, ops.U32X2, ops.BLOCK, ops.MEMARG, ops.I32, ops.I64, ops.F32, ops.F64,
    ops.BR_TABLE, ops.SELECT_T, ops.HEAPTYPE, ops.TRY_TABLE, ops.LANE, ops.MEMARG_LANE,
    ops.V128, ops.SHUFFLE, ops.ZERO_BYTE, ops.BR_ON_CAST, ops.PREFIX,
]  # fmt: skip
KINDS = set(KIND_CONSTANTS)


def _literal_ints(node: ast.expr) -> list[int]:
    """The opcodes a `for op in ...` of _base() goes over: a tuple literal or a range."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        return list(range(*(ast.literal_eval(a) for a in node.args)))
    values = ast.literal_eval(node)
    assert isinstance(values, tuple)
    return list(values)


def test_the_base_table_assigns_each_opcode_once() -> None:
    """_base() fills the table group by group; an opcode in two groups would take the
    later group's kind without a word."""
    tree = ast.parse(inspect.getsource(ops._base))
    seen: Counter[int] = Counter()
    for node in ast.walk(tree):
        if isinstance(node, ast.For):
            seen.update(_literal_ints(node.iter))
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                # `t[0x41] = I32`; the `t[op] = ...` inside the loops are counted above
                if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
                    seen[target.slice.value] += 1
    assert seen, "no assignment found: _base() changed shape, update this test"
    assert {hex(op): n for op, n in seen.items() if n > 1} == {}
    assigned = {op for op, kind in enumerate(ops.BASE) if kind != ops.UNKNOWN}
    assert assigned == set(seen)


def test_no_dict_literal_lists_an_opcode_twice() -> None:
    tree = ast.parse(inspect.getsource(ops))
    dicts = [node for node in ast.walk(tree) if isinstance(node, ast.Dict)]
    assert len(dicts) >= 4  # FB, EH_NAMES, VALTYPE_NAMES, PREFIX_NAMES, ...
    for node in dicts:
        keys = [ast.literal_eval(k) for k in node.keys if k is not None]
        assert [k for k, n in Counter(keys).items() if n > 1] == [], ast.unparse(node)[:60]


def test_every_kind_is_a_known_immediate_kind() -> None:
    assert len(ops.BASE) == 256
    assert set(ops.BASE) <= KINDS | {ops.UNKNOWN}
    for table in ops.PREFIXES.values():
        assert set(table.values()) <= KINDS - {ops.PREFIX}  # no prefix inside a prefix
    assert len(KINDS) == len(KIND_CONSTANTS)  # the kind constants are distinct
    assert ops.UNKNOWN not in KINDS


def test_prefixes_agree_with_the_base_table() -> None:
    prefixed = {op for op, kind in enumerate(ops.BASE) if kind == ops.PREFIX}
    assert prefixed == set(ops.PREFIXES) == set(ops.PREFIX_NAMES) == {0xFB, 0xFC, 0xFD, 0xFE}


def test_sub_opcodes_fit_a_u32_and_simd_gaps_stay_unknown() -> None:
    for table in ops.PREFIXES.values():
        assert all(0 <= sub < 2**32 for sub in table)
    assert not ops.SIMD_GAPS & set(ops.FD)
    assert max(ops.FD) < 0x114


def test_every_eh_opcode_the_verifier_counts_is_known() -> None:
    """The verifier counts EH instructions by code.EH_SLOT and names them in the report
    by EH_NAMES; each must also decode (a base kind) and belong to one encoding."""
    assert set(code.EH_SLOT) == set(ops.EH_NAMES)
    for op in ops.EH_NAMES:
        assert ops.BASE[op] not in (ops.UNKNOWN, ops.PREFIX), hex(op)
    assert not ops.LEGACY_EH & ops.EXNREF_EH
    assert ops.LEGACY_EH | ops.EXNREF_EH | {0x08} == set(ops.EH_NAMES)  # throw: both
    assert {ops.EH_NAMES[op] for op in ops.LEGACY_EH} == set(eh.LEGACY_NAMES)
    assert {ops.EH_NAMES[op] for op in ops.EXNREF_EH} == set(eh.EXNREF_NAMES)
    assert len(set(ops.EH_NAMES.values())) == len(ops.EH_NAMES)


def test_the_openers_are_the_block_instructions() -> None:
    assert {op for op in ops.OPENS if ops.BASE[op] == ops.BLOCK} == {0x02, 0x03, 0x04, 0x06}
    assert ops.BASE[0x1F] == ops.TRY_TABLE and 0x1F in ops.OPENS
    assert ops.BASE[0x05] == ops.BASE[0x0B] == ops.NONE  # else, end


def test_the_clause_kinds_are_named_in_their_encoding_order() -> None:
    """A try_table clause's kind byte (0-3) indexes CATCH_CLAUSES and the report's
    clause slots."""
    assert ops.CATCH_CLAUSES == ("catch", "catch_ref", "catch_all", "catch_all_ref")
    assert code.CLAUSE_SLOT_BASE + len(ops.CATCH_CLAUSES) == code.N_SLOTS


def test_value_types_are_single_bytes_that_cannot_be_confused() -> None:
    assert not ops.NUM_VEC_TYPES & ops.ABSTRACT_HEAP
    single = ops.NUM_VEC_TYPES | ops.ABSTRACT_HEAP
    assert {ops.REF, ops.REF_NULL, 0x40} & single == set()  # 0x40: the empty block type
    assert set(ops.VALTYPE_NAMES) == single
    assert len(set(ops.VALTYPE_NAMES.values())) == len(ops.VALTYPE_NAMES)
    # a heap type is an s33: these bytes must read as negative, never as a type index
    assert all(0x40 <= b < 0x80 for b in single)
