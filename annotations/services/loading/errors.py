"""Problems found in an uploaded file, the exception that reports them, and their wording."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# How many problems a LoadError lists before it says "... and N more problems".
MAX_REPORTED = 50


@dataclass(frozen=True)
class Problem:
    """One problem: 1-based line as an editor shows it (None for the whole file), field, message."""

    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        if self.field:
            where += f", {self.field}"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "message": self.message}


class LoadError(Exception):
    """A file was refused: `errors` holds the first problems (by line), `total` counts them all."""

    def __init__(self, errors: list[Problem], total: int, filename: str = "") -> None:
        self.errors = errors
        self.total = total
        self.filename = filename
        super().__init__(self.render())

    @property
    def more(self) -> int:
        return self.total - len(self.errors)

    def render(self) -> str:
        name = f"{self.filename}: " if self.filename else ""
        head = f"{name}{self.total:,} problem{'s' if self.total != 1 else ''}; nothing was loaded."
        lines = [head, *(str(problem) for problem in self.errors)]
        if self.more:
            lines.append(f"... and {self.more:,} more problem{'s' if self.more != 1 else ''}")
        return "\n".join(lines)


class Problems:
    """Collects problems while a file is read, keeping the first MAX_REPORTED and a total."""

    def __init__(self) -> None:
        self._kept: list[Problem] = []
        self.total = 0

    def add(self, line: int | None, field: str, message: str) -> None:
        self.total += 1
        if len(self._kept) < MAX_REPORTED:
            self._kept.append(Problem(line, field, message))

    def __bool__(self) -> bool:
        return self.total > 0

    def raise_if_any(self, filename: str = "") -> None:
        if self.total:
            ordered = sorted(self._kept, key=lambda p: (p.line is not None, p.line or 0))
            raise LoadError(ordered, self.total, filename)


def type_name(value: Any) -> str:
    """How a JSON value's type reads in an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
