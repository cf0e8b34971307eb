"""A `tools.download.Progress` that records every event, for tests of what a download,
an install or a repair tells the user (no terminal, no clock)."""

from __future__ import annotations

from typing import Any


class RecordingProgress:
    def __init__(self, *, show_tasks: bool = True) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.show_tasks = show_tasks  # what task_started answers (False: as --quiet)

    @property
    def notes(self) -> list[str]:
        return [e[1] for e in self.events if e[0] == "note"]

    @property
    def started(self) -> list[str]:
        """The URLs whose download started."""
        return [e[2] for e in self.events if e[0] == "started"]

    @property
    def tasks(self) -> list[tuple[str, str]]:
        """(what, why) of each long job started."""
        return [(e[1], e[2]) for e in self.events if e[0] == "task"]

    def download_started(self, what: str, url: str, total: int | None) -> None:
        self.events.append(("started", what, url, total))

    def download_advanced(self, done: int, total: int | None) -> None:
        self.events.append(("advanced", done, total))

    def download_ended(self) -> None:
        self.events.append(("ended",))

    def note(self, text: str) -> None:
        self.events.append(("note", text))

    def task_started(self, what: str, why: str) -> bool:
        self.events.append(("task", what, why))
        return self.show_tasks

    def task_ended(self) -> None:
        self.events.append(("task ended",))
