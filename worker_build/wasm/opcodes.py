"""Opcode tables: for every known opcode, the kind of immediates that follow it.

Sources of truth are the WebAssembly 3.0 binary format plus the threads, SIMD
(incl. relaxed SIMD), legacy exception-handling and GC proposals. Tables are
plain tuples/dicts of small ints so the walker in code.py can index them
without creating objects.
"""

from __future__ import annotations

# Immediate kinds.
NONE = 0
U32 = 1  # one u32: index or label
U32X2 = 2  # two u32s
BLOCK = 3  # blocktype
MEMARG = 4  # align/flags (+ memidx when bit 6 is set) + offset
I32 = 5  # s32
I64 = 6  # s64
F32 = 7  # 4 raw bytes
F64 = 8  # 8 raw bytes
BR_TABLE = 9  # vec(label) label
SELECT_T = 10  # vec(valtype)
HEAPTYPE = 11  # s33 heap type
TRY_TABLE = 12  # blocktype vec(catch clause)
LANE = 13  # one lane byte
MEMARG_LANE = 14  # memarg + lane byte
V128 = 15  # 16 raw bytes
SHUFFLE = 16  # 16 lane bytes, each < 32
ZERO_BYTE = 17  # one reserved 0x00 byte (atomic.fence)
BR_ON_CAST = 18  # flags byte, label, heap type, heap type
PREFIX = 19  # 0xFB..0xFE: a u32 sub-opcode follows
UNKNOWN = -1

# Control-structure roles (second table, only for opcodes that shape nesting).
OPENS = frozenset((0x02, 0x03, 0x04, 0x06, 0x1F))  # block loop if try try_table

# Exception-handling opcodes by text-format name (the report's keys).
EH_NAMES: dict[int, str] = {
    0x06: "try",
    0x07: "catch",
    0x08: "throw",
    0x09: "rethrow",
    0x0A: "throw_ref",
    0x18: "delegate",
    0x19: "catch_all",
    0x1F: "try_table",
}
LEGACY_EH = frozenset((0x06, 0x07, 0x09, 0x18, 0x19))
EXNREF_EH = frozenset((0x0A, 0x1F))
CATCH_CLAUSES = ("catch", "catch_ref", "catch_all", "catch_all_ref")  # try_table clause kinds


def _base() -> tuple[int, ...]:
    t = [UNKNOWN] * 256
    for op in (0x00, 0x01, 0x05, 0x0A, 0x0B, 0x0F, 0x19, 0x1A, 0x1B, 0xD1, 0xD3, 0xD4):
        t[op] = NONE
    for op in range(0x45, 0xC5):  # numeric MVP + sign-extension
        t[op] = NONE
    for op in (0x02, 0x03, 0x04, 0x06):
        t[op] = BLOCK
    # catch throw rethrow br br_if call return_call call_ref return_call_ref delegate
    for op in (0x07, 0x08, 0x09, 0x0C, 0x0D, 0x10, 0x12, 0x14, 0x15, 0x18):
        t[op] = U32
    for op in range(0x20, 0x27):  # local.* global.* table.get/set
        t[op] = U32
    for op in (0x3F, 0x40, 0xD2, 0xD5, 0xD6):  # memory.size/grow ref.func br_on_(non_)null
        t[op] = U32
    t[0x11] = t[0x13] = U32X2  # call_indirect return_call_indirect
    t[0x0E] = BR_TABLE
    t[0x1C] = SELECT_T
    t[0x1F] = TRY_TABLE
    for op in range(0x28, 0x3F):
        t[op] = MEMARG
    t[0x41] = I32
    t[0x42] = I64
    t[0x43] = F32
    t[0x44] = F64
    t[0xD0] = HEAPTYPE
    for op in (0xFB, 0xFC, 0xFD, 0xFE):
        t[op] = PREFIX
    return tuple(t)


BASE: tuple[int, ...] = _base()

# 0xFC: saturating truncation, bulk memory, table ops.
FC: dict[int, int] = {i: NONE for i in range(8)}
FC.update({8: U32X2, 9: U32, 10: U32X2, 11: U32, 12: U32X2, 13: U32, 14: U32X2})
FC.update({15: U32, 16: U32, 17: U32})
FC.update({i: NONE for i in range(0x13, 0x17)})  # wide arithmetic (i64.add128 ...)

# 0xFD: SIMD and relaxed SIMD.
SIMD_GAPS = frozenset(
    (0x9A, 0xA2, 0xA5, 0xA6, 0xAF, 0xB0, 0xB2, 0xB3, 0xB4, 0xBB,
     0xC2, 0xC5, 0xC6, 0xCF, 0xD0, 0xD2, 0xD3, 0xD4, 0xE2, 0xEE)
)  # fmt: skip
FD: dict[int, int] = {i: NONE for i in range(0x114) if i not in SIMD_GAPS}
FD.update({i: MEMARG for i in range(0x0C)})  # v128.load* and v128.store
FD[0x0C] = V128
FD[0x0D] = SHUFFLE
FD.update({i: LANE for i in range(0x15, 0x23)})  # extract/replace_lane
FD.update({i: MEMARG_LANE for i in range(0x54, 0x5C)})  # load/store*_lane
FD[0x5C] = FD[0x5D] = MEMARG  # v128.load32_zero load64_zero

# 0xFE: threads.
FE: dict[int, int] = {0: MEMARG, 1: MEMARG, 2: MEMARG, 3: ZERO_BYTE}
FE.update({i: MEMARG for i in range(0x10, 0x4F)})

# 0xFB: GC.
FB: dict[int, int] = {
    0: U32, 1: U32, 2: U32X2, 3: U32X2, 4: U32X2, 5: U32X2, 6: U32, 7: U32,
    8: U32X2, 9: U32X2, 10: U32X2, 11: U32, 12: U32, 13: U32, 14: U32, 15: NONE,
    16: U32, 17: U32X2, 18: U32X2, 19: U32X2, 20: HEAPTYPE, 21: HEAPTYPE,
    22: HEAPTYPE, 23: HEAPTYPE, 24: BR_ON_CAST, 25: BR_ON_CAST, 26: NONE, 27: NONE,
    28: NONE, 29: NONE, 30: NONE,
}  # fmt: skip

PREFIXES: dict[int, dict[int, int]] = {0xFB: FB, 0xFC: FC, 0xFD: FD, 0xFE: FE}
PREFIX_NAMES = {0xFB: "GC", 0xFC: "0xFC (bulk memory/saturating)", 0xFD: "SIMD", 0xFE: "atomics"}

# Value types (single-byte encodings) and abstract heap types.
NUM_VEC_TYPES = frozenset((0x7F, 0x7E, 0x7D, 0x7C, 0x7B))  # i32 i64 f32 f64 v128
ABSTRACT_HEAP = frozenset((0x70, 0x6F, 0x6E, 0x6D, 0x6C, 0x6B, 0x6A, 0x69, 0x71, 0x72, 0x73, 0x74))
REF_NULL, REF = 0x63, 0x64  # (ref null ht), (ref ht): a heap type follows
VALTYPE_NAMES = {
    0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128",
    0x70: "funcref", 0x6F: "externref", 0x6E: "anyref", 0x6D: "eqref", 0x6C: "i31ref",
    0x6B: "structref", 0x6A: "arrayref", 0x69: "exnref", 0x71: "nullref",
    0x72: "nullexternref", 0x73: "nullfuncref", 0x74: "nullexnref",
}  # fmt: skip
