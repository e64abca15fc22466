"""Hand-written SQL for the rater hot path: server-side prepared statements, one round trip."""

from __future__ import annotations

from typing import Any

import psycopg
from django.db import connection, transaction
from django.db.models import Model


def _run(statements: list[str], params: dict[str, Any] | list[Any]) -> list[tuple]:
    connection.ensure_connection()
    raw = connection.connection
    with connection.wrap_database_errors:
        if len(statements) == 1:
            cursor = psycopg.Cursor(raw)
            cursor.execute(statements[0], params, prepare=True)
            return cursor.fetchall() if cursor.description else []
        cursors = []
        with raw.pipeline():
            for statement in statements:
                cursor = psycopg.Cursor(raw)
                cursor.execute(statement, params, prepare=True)
                cursors.append(cursor)
        last = cursors[-1]
        return last.fetchall() if last.description else []


def sql_rows(*, sql: str, params: dict[str, Any] | list[Any]) -> list[tuple]:
    """The rows of one statement, prepared once per connection and then only executed.

    Django's own cursors bind parameters on the client, so PostgreSQL plans every statement
    anew; the hot path's statements run thousands of times a minute with the same shape, and
    planning them would cost more than running them. Errors come out as Django's.
    """
    return _run([sql], params)


def sql_script_run(*, statements: list[str], params: dict[str, Any]) -> list[tuple]:
    """Run `statements` in one round trip as one transaction; the rows of the last one.

    Outside a transaction the statements are pipelined up to one Sync, which PostgreSQL runs as
    one implicit transaction (all or nothing, committed at the Sync); under READ COMMITTED each
    statement still takes a fresh snapshot, so a count in a statement after a lock sees
    everything committed before the lock was granted. Inside a transaction (tests, callers'
    atomic blocks) a savepoint keeps a failure from poisoning the caller's transaction.
    """
    if connection.in_atomic_block:
        with transaction.atomic():
            return _run(statements, params)
    return _run(statements, params)


def instances_mark_loaded(*instances: Model) -> None:
    """Mark instances built by hand from SQL rows as loaded from the database.

    A model instance built with its constructor counts as unsaved (``_state.adding``), so a
    later ``save()`` would try an INSERT and validation would treat it as new; what the ORM
    sets on instances it loads itself is set here.
    """
    for instance in instances:
        instance._state.adding = False
        instance._state.db = connection.alias
