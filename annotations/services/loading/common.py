"""Field checks and database helpers shared by the prompt-set loader and the judgment importer."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from django.db import connection

from annotations.services.loading.errors import Problems, type_name

# Limits on single fields (characters). Keys, names and categories match the column sizes; long
# texts are capped so that one runaway field cannot exhaust memory or bloat the database.
MAX_KEY_CHARS = 200
MAX_GENERATOR_CHARS = 200
MAX_CATEGORY_CHARS = 100
MAX_TEXT_CHARS = 1_000_000
MAX_MESSAGES = 1_000
MAX_RATIONALE_CHARS = 100_000

# The loaders index a study's outputs by one int per (prompt, generator) pair, packed as
# prompt << GENERATOR_BITS | generator index: a dict of ints costs far less memory than a dict
# of tuples at millions of outputs. A generator index counts the study's generators, so it is
# below 2**63 (their ids are bigint): 64 bits keep any count of models apart from the prompt.
GENERATOR_BITS = 64


def output_slot(prompt: int, generator: int) -> int:
    """The packed int of a (prompt, generator index) pair; distinct pairs never share one."""
    return prompt << GENERATOR_BITS | generator


def fingerprint(data: bytes) -> int:
    """A signed 64-bit digest; SQL computes the same with sql_fingerprint()."""
    return int.from_bytes(hashlib.md5(data, usedforsecurity=False).digest()[:8], "big", signed=True)


def sql_fingerprint(expression: str) -> str:
    """SQL computing fingerprint() of a text expression's UTF-8 bytes."""
    return f"('x' || left(md5({expression}), 16))::bit(64)::bigint"


def check_text(
    value: Any,
    line: int,
    field: str,
    problems: Problems,
    *,
    max_chars: int,
    allow_empty: bool = False,
) -> str | None:
    """The string `value` if it is a usable text field, else None with a problem recorded."""
    if value is None:
        problems.add(line, field, "is missing" if not allow_empty else "must be a string, not null")
        return None
    if not isinstance(value, str):
        problems.add(line, field, f"must be a string, not {type_name(value)}")
        return None
    if not allow_empty and not value.strip():
        problems.add(line, field, "is empty")
        return None
    if len(value) > max_chars:
        problems.add(line, field, f"is longer than {max_chars:,} characters ({len(value):,})")
        return None
    if "\x00" in value:
        problems.add(line, field, "contains a NUL character (\\u0000), which cannot be stored")
        return None
    return value


def check_name(
    value: Any, line: int, field: str, problems: Problems, *, max_chars: int
) -> str | None:
    """A key or name: a non-empty string (a whole number is taken as its digits), trimmed."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = check_text(value, line, field, problems, max_chars=max_chars)
    return None if text is None else text.strip()


def raw_connection() -> Any:
    """The psycopg connection under Django's, in the same transaction (for COPY)."""
    connection.ensure_connection()
    return connection.connection


def stream_rows(sql: str, params: list[Any], batch: int = 20_000) -> Iterator[tuple[Any, ...]]:
    """Rows of a query through a server-side cursor, so large results never sit in memory."""
    with raw_connection().cursor(name="annotations_loading_stream") as cursor:
        cursor.itersize = batch
        cursor.execute(sql, params)
        yield from cursor
