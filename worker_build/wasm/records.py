"""What parse_module (module.py) returns: the Module and the records it holds."""

from __future__ import annotations


class Record:
    """Small immutable-by-convention value class: equality, hash and repr from
    __slots__. (Plain classes, not dataclasses: importing dataclasses costs `verify`
    more start-up time than decoding a module of a few hundred KB.)"""

    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, f) for f in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Record)
            and type(other) is type(self)
            and (self._values() == other._values())
        )

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.__slots__)
        return f"{type(self).__name__}({fields})"


class FuncType(Record):
    __slots__ = ("params", "results")

    def __init__(self, params: tuple[str, ...], results: tuple[str, ...]) -> None:
        self.params = params
        self.results = results


class Import(Record):
    __slots__ = ("kind", "module", "name", "type_index")

    def __init__(self, module: str, name: str, kind: str, type_index: int | None = None) -> None:
        self.module = module
        self.name = name
        self.kind = kind  # one of KIND_NAMES
        self.type_index = type_index  # func and tag imports


class Export(Record):
    __slots__ = ("index", "kind", "name")

    def __init__(self, name: str, kind: str, index: int) -> None:
        self.name = name
        self.kind = kind
        self.index = index


class CustomSection(Record):
    __slots__ = ("name", "offset", "size")

    def __init__(self, name: str, offset: int, size: int) -> None:
        self.name = name
        self.offset = offset  # of the section payload
        self.size = size


class Module:
    """What parse_module found; function bodies are (expression start, end) ranges."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.types: list[FuncType | None] = []  # None: a GC struct/array type
        self.imports: list[Import] = []
        self.func_types: list[int] = []  # type index per defined function
        self.tables = 0
        self.memories: list[bool] = []  # memory64 flag per defined memory
        self.globals = 0
        self.exports: list[Export] = []
        self.start: int | None = None
        self.elements = 0
        self.data_count: int | None = None
        self.data_segments = 0
        self.tags: list[int] = []  # type index per defined tag
        self.bodies: list[tuple[int, int]] = []
        self.customs: list[CustomSection] = []
        self.mem64 = False  # any memory (defined or imported) uses 64-bit addresses

    def imported(self, kind: str) -> list[Import]:
        return [i for i in self.imports if i.kind == kind]
