"""Streaming readers for JSONL and CSV files that keep the line numbers an editor shows."""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from annotations.services.loading.errors import Problems, type_name

JSONL = "jsonl"
CSV = "csv"
# File name extensions of each format, in any case; uploads must have one of them.
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})
CSV_SUFFIXES = frozenset({".csv"})
# A longer line is refused rather than read into memory (a nested record holds every output of
# one prompt, so this is generous).
MAX_LINE_BYTES = 16 * 1024 * 1024
_PROGRESS_STEP = 1 << 20

# progress(phase, bytes_done, bytes_total)
Progress = Callable[[str, int, int], None]
FileArg = BinaryIO | str | os.PathLike[str]


@contextmanager
def open_binary(file: FileArg) -> Iterator[BinaryIO]:
    """A seekable binary handle on `file` (a path or an open binary file), for several passes."""
    if isinstance(file, str | os.PathLike):
        with open(file, "rb") as handle:
            yield handle
        return
    if hasattr(file, "seekable") and file.seekable():
        file.seek(0)
        yield file
        return
    # A pipe or socket can be read once only: keep a copy on disk for the second pass.
    with tempfile.TemporaryFile() as copy:
        shutil.copyfileobj(file, copy)
        copy.seek(0)
        yield copy


def file_size(handle: BinaryIO) -> int:
    position = handle.tell()
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(position)
    return size


def _first_byte(handle: BinaryIO) -> bytes:
    head = handle.read(4096)
    handle.seek(0)
    return head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]


def detect_format(filename: str, handle: BinaryIO) -> str:
    """JSONL or CSV, from the file name's extension, else from the first character."""
    suffix = Path(filename or "").suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return JSONL
    if suffix in CSV_SUFFIXES:
        return CSV
    return JSONL if _first_byte(handle) in {b"{", b"["} else CSV


def _decode(raw: bytes, line: int, problems: Problems) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        column = len(raw[: exc.start].decode("utf-8", "replace")) + 1
        problems.add(line, "", f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {column})")
        return None


def _raw_lines(
    handle: BinaryIO, problems: Problems, progress: Progress | None, phase: str
) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) for every physical line; None for a line that is too long."""
    total = file_size(handle) if progress else 0
    readline = handle.readline
    line = done = 0
    next_report = _PROGRESS_STEP
    while True:
        raw = readline(MAX_LINE_BYTES + 1)
        if not raw:
            break
        line += 1
        done += len(raw)
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = readline(MAX_LINE_BYTES)
                done += len(raw)
            problems.add(line, "", f"line longer than {MAX_LINE_BYTES // 2**20} MiB")
            yield line, None
            continue
        if line == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        if progress and done >= next_report:
            progress(phase, done, total)
            next_report = done + _PROGRESS_STEP
        yield line, raw
    if progress:
        progress(phase, done, total or done)


def iter_jsonl(
    handle: BinaryIO, problems: Problems, progress: Progress | None = None, phase: str = "reading"
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, object) for each non-blank line that is a JSON object; problems for the rest."""
    handle.seek(0)
    if _first_byte(handle) == b"[":
        problems.add(1, "", "a JSON array is not supported: write one JSON object per line (JSONL)")
        return
    loads = json.loads
    fast_loads = orjson.loads
    for line, raw in _raw_lines(handle, problems, progress, phase):
        if raw is None:
            continue
        # orjson parses valid UTF-8 JSON several times faster than json; whatever it refuses
        # (bad bytes or syntax, NaN, lone surrogates, huge integers) takes the json path below,
        # which accepts what json accepts and words the problems.
        try:
            value = fast_loads(raw)
        except ValueError:
            pass
        else:
            if type(value) is dict:
                yield line, value
                continue
        if not raw.strip():
            continue
        text = _decode(raw, line, problems)
        if text is None:
            continue
        try:
            value = loads(text)
            # json reads "\ud800" as a lone surrogate, which no text column can store.
            json.dumps(value, ensure_ascii=False).encode()
        except RecursionError:
            # orjson refuses more than 1,024 levels; json runs out of stack at about as many.
            problems.add(line, "", "JSON nested too deeply (up to about 1,000 levels are read)")
            continue
        except UnicodeEncodeError:
            problems.add(line, "", "has an unpaired surrogate escape (\\ud800-\\udfff): not text")
            continue
        except ValueError as exc:
            message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            column = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            problems.add(line, "", f"not JSON: {message}{column}")
            continue
        if not isinstance(value, dict):
            problems.add(line, "", f"expected a JSON object, got {type_name(value)}")
            continue
        yield line, value


def iter_csv(
    handle: BinaryIO,
    problems: Problems,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    aliases: dict[str, str] | None = None,
    progress: Progress | None = None,
    phase: str = "reading",
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line where the record starts, {column: value}) for each CSV record after the header.

    Header names are matched after trimming spaces and lower-casing; `aliases` maps an
    alternative name to its canonical one. Columns outside required + optional are ignored.
    """
    handle.seek(0)
    csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE_BYTES))
    aliases = aliases or {}

    def decoded() -> Iterator[str]:
        for line, raw in _raw_lines(handle, problems, progress, phase):
            text = None if raw is None else _decode(raw, line, problems)
            # Keep the line count right for the CSV reader even when a line is unreadable.
            yield text if text is not None else "\n"

    reader = csv.reader(decoded(), strict=True)
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
    except csv.Error as exc:
        problems.add(reader.line_num or 1, "", f"not valid CSV: {exc}")
        return
    if header is None:
        return
    header_line = reader.line_num
    names = [aliases.get(n, n) for n in (cell.strip().lower() for cell in header)]
    missing = [column for column in required if column not in names]
    for column in missing:
        problems.add(header_line, column, f"the header has no '{column}' column")
    duplicated = sorted({n for n in names if n and names.count(n) > 1})
    for column in duplicated:
        problems.add(header_line, column, f"the header names '{column}' more than once")
    if missing or duplicated:
        return
    wanted = set(required) | set(optional)
    columns = [(i, n) for i, n in enumerate(names) if n in wanted]
    width = len(names)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.add(start, "", f"not valid CSV: {exc}")
            return
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != width:
            problems.add(start, "", f"has {len(row)} fields but the header has {width}")
            continue
        yield start, {name: row[i] for i, name in columns}


@dataclass(frozen=True)
class CsvColumns:
    """The columns a CSV file of one kind has: required, optional, and alternative names."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Source:
    """An open file being loaded: a seekable handle, its format, the name problems cite."""

    handle: BinaryIO
    format: str
    filename: str

    @property
    def is_csv(self) -> bool:
        return self.format == CSV

    def rows(
        self, problems: Problems, *, columns: CsvColumns, progress: Progress | None, phase: str
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """(line, record) of each row, read again from the start, by the file's format."""
        if self.format == CSV:
            return iter_csv(
                self.handle,
                problems,
                required=columns.required,
                optional=columns.optional,
                aliases=dict(columns.aliases),
                progress=progress,
                phase=phase,
            )
        return iter_jsonl(self.handle, problems, progress, phase)


def source_name(*, file: FileArg, filename: str = "") -> str:
    """The name a file is reported by: `filename`, else its base name, else "upload"."""
    if filename:
        return filename
    name = os.path.basename(file) if isinstance(file, str | os.PathLike) else ""
    return name or os.path.basename(getattr(file, "name", "") or "") or "upload"


@contextmanager
def source_open(*, file: FileArg, filename: str = "") -> Iterator[Source]:
    """`file` (a path or an open binary file) opened for several passes, with its format."""
    with open_binary(file) as handle:
        name = source_name(file=file, filename=filename)
        yield Source(handle=handle, format=detect_format(name, handle), filename=name)
