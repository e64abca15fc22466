"""Streaming reads of a study's judgments with their context, for exports: the SQL and cursors.

Rows come from raw SQL run through PostgreSQL server-side cursors, so memory stays constant
whatever the study's size. Derived columns (outcome, the order shown, pre-rendered CSV fields)
are computed by the database so that writers do little per-row work. The filters' WHERE clause
and the cursor streaming here are shared with the per-comparison vote rows (selectors.votes).
"""

from __future__ import annotations

import itertools
import math
import queue
import threading
from collections.abc import Callable, Iterator

from django.db import connection, transaction

from annotations.exports.spreadsheet import FORMULA_PREFIXES
from annotations.models import Study
from annotations.selectors.judgment_filters import JudgmentFilter

# Rows fetched from the server per round trip; small enough to keep memory flat, large enough
# that round trips cost little next to formatting.
FETCH_ROWS = 2000

_cursor_names = itertools.count(1)


# The joins every judgment query shares: a judgment with its comparison, prompt, both outputs and
# their generators.
_JUDGMENT_JOINS = """
FROM annotations_judgment j
JOIN annotations_comparison c ON c.id = j.comparison_id
JOIN annotations_prompt p ON p.id = c.prompt_id
JOIN annotations_output oa ON oa.id = c.output_a_id
JOIN annotations_output ob ON ob.id = c.output_b_id
JOIN annotations_generator ga ON ga.id = oa.generator_id
JOIN annotations_generator gb ON gb.id = ob.generator_id
"""


# The one rule for "this judgment's rater is not excluded from the study" (judgment j of
# comparison c): results and exports leave excluded raters out by default.
NOT_EXCLUDED_SQL = (
    "NOT EXISTS (SELECT 1 FROM annotations_raterstanding xs WHERE xs.study_id = c.study_id"
    " AND xs.rater_id = j.rater_id AND xs.excluded)"
)
# A human's judgment, not an automatic judge's verdict (import_judgments --judge).
HUMAN_SQL = "j.source <> 'judge'"
# The judgments that count: human, from raters in good standing (what the overlap k counts).
COUNTED_SQL = f"{HUMAN_SQL} AND {NOT_EXCLUDED_SQL}"


def _judgment_clauses(filters: JudgmentFilter) -> list[str]:
    """Conditions on the judgment itself (alias j), with named parameters as judgment_where_build
    gives them."""
    clauses = []
    if filters.rater_ids:
        clauses.append("j.rater_id = ANY(%(rater_ids)s)")
    if filters.exclude_rater_ids:
        clauses.append("NOT (j.rater_id = ANY(%(exclude_rater_ids)s))")
    if filters.since is not None:
        clauses.append("j.created_at >= %(since)s")
    if filters.until is not None:
        clauses.append("j.created_at < %(until)s")
    if filters.max_judgment_id is not None:
        clauses.append("j.id <= %(max_judgment_id)s")
    if not filters.include_excluded:
        clauses.append(NOT_EXCLUDED_SQL)
    if filters.judge_id is not None:
        clauses.append("j.source = 'judge' AND j.rater_id = %(judge_id)s")
    else:
        clauses.append(HUMAN_SQL)
    return clauses


def _comparison_where(filters: JudgmentFilter) -> str:
    """The WHERE clause of judgment_where_build without the conditions on judgments."""
    clauses = ["c.study_id = %(study_id)s"]
    if filters.generators:
        clauses.append("(ga.name = ANY(%(generators)s) OR gb.name = ANY(%(generators)s))")
    if filters.categories:
        clauses.append("p.category = ANY(%(categories)s)")
    return "WHERE " + " AND ".join(clauses)


def judgment_where_build(*, study: Study, filters: JudgmentFilter) -> tuple[str, dict[str, object]]:
    """The WHERE clause over _JUDGMENT_JOINS (aliases c, p, ga, gb, j) and its parameters."""
    params: dict[str, object] = {
        "study_id": study.pk,
        "generators": list(filters.generators),
        "categories": list(filters.categories),
        "rater_ids": list(filters.rater_ids),
        "exclude_rater_ids": list(filters.exclude_rater_ids),
        "since": filters.since,
        "until": filters.until,
        "max_judgment_id": filters.max_judgment_id,
        "judge_id": filters.judge_id,
    }
    where = " AND ".join([_comparison_where(filters), *_judgment_clauses(filters)])
    return where, params


def _cursor_batches(
    sql: str, params: dict[str, object], *, fetch_rows: int, prefetch: bool = False
) -> Iterator[list[tuple]]:
    """Run `sql` through a server-side cursor and yield its rows in batches.

    Must run inside a transaction: the cursor then needs no WITH HOLD copy of the whole
    result, and closing the generator early frees it. With `prefetch`, the next batch is
    fetched on a thread while the caller works on this one (see _prefetch).
    """
    connection.ensure_connection()
    name = f"export_{next(_cursor_names)}"
    with connection.connection.cursor(name=name) as cursor:
        cursor.itersize = fetch_rows
        cursor.execute(sql, params)
        if prefetch:
            yield from _prefetch(lambda: cursor.fetchmany(fetch_rows))
        else:
            while batch := cursor.fetchmany(fetch_rows):
                yield batch


_END = object()


def _prefetch(fetch: Callable[[], list[tuple]]) -> Iterator[list[tuple]]:
    """Yield fetch() results until one is empty, calling it on a thread up to two batches ahead.

    PostgreSQL producing rows and Python formatting them then overlap instead of taking turns
    (psycopg releases the GIL while it waits for the server, and its connection lock keeps a
    second cursor on the same connection safe). The thread stops, and is joined, before this
    generator ends however it ends, so the caller may close the cursor at once.
    """
    ready: queue.Queue[object] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            while batch := fetch():
                if not put(batch):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)

    thread = threading.Thread(target=run, name="export-prefetch", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


def query_batches_stream(
    *, sql: str, params: dict[str, object], fetch_rows: int = FETCH_ROWS
) -> Iterator[list[tuple]]:
    """The rows of `sql` in batches, through a server-side cursor in a transaction of its own
    (a savepoint inside an outer one)."""
    with transaction.atomic():
        yield from _cursor_batches(sql, params, fetch_rows=fetch_rows)


# ---------------------------------------------------------------------------------------------
# One row per judgment
# ---------------------------------------------------------------------------------------------

# Columns of the judgment exports (one row per judgment), in order; "messages" only when asked.
JUDGMENT_COLUMNS: tuple[str, ...] = (
    "study",
    "prompt_key",
    "prompt",
    "messages",
    "category",
    "generator_a",
    "generator_b",
    "output_a",
    "output_b",
    "preference",
    "strength",
    "outcome",
    "both_bad",
    "winner_generator",
    "left_is_a",
    "left_generator",
    "right_generator",
    "criteria",
    "flags",
    "rationale",
    "rater",
    "duration_ms",
    "created_at",
    "source",
)


def judgment_columns(*, with_messages: bool) -> tuple[str, ...]:
    """The column names of the judgment exports for the given options."""
    return tuple(c for c in JUDGMENT_COLUMNS if with_messages or c != "messages")


def judgment_joins_build(*, filters: JudgmentFilter) -> str:
    """Judgments joined to what the filters need: the full context only for comparison-level
    filters (generator, category), which keeps the common case a narrow scan."""
    if filters.generators or filters.categories:
        return _JUDGMENT_JOINS
    return " FROM annotations_judgment j JOIN annotations_comparison c ON c.id = j.comparison_id "


# Fields of the context tuple of judgment_groups_stream, in order ("messages" only when asked).
CONTEXT_FIELDS: tuple[str, ...] = (
    "comparison_id",
    "prompt_key",
    "prompt",
    "messages",
    "category",
    "generator_a",
    "generator_b",
    "output_a",
    "output_b",
)
# Fields of each judgment tuple of judgment_groups_stream, in order.
JUDGMENT_FIELDS: tuple[str, ...] = (
    "comparison_id",
    "preference",
    "strength",
    "outcome",
    "both_bad",
    "left_is_a",
    "criteria",
    "flags",
    "rationale",
    "rater_id",
    "duration_ms",
    "created_at",
    "source",
)


_CREATED_AT = "to_char(j.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

_JUDGMENT_SELECT = (
    "SELECT j.comparison_id, j.preference, abs(j.preference),"
    " CASE WHEN j.preference > 0 THEN 'a' WHEN j.preference < 0 THEN 'b' ELSE 'tie' END,"
    " j.both_bad, j.left_is_a, j.criteria::text, j.flags::text, j.rationale, j.rater_id,"
    f" j.duration_ms, {_CREATED_AT}, j.source"
)


def _sql_csv_quote(value: str) -> str:
    """SQL for exports.judgments.csv_quote of the text expression `value`."""
    return (
        f"CASE WHEN {value} ~ E'[\",\\r\\n]' THEN '\"' || replace({value}, '\"', '\"\"') || '\"'"
        f" ELSE {value} END"
    )


def _sql_literal(char: str) -> str:
    return "E'" + char.encode("unicode_escape").decode().replace("'", "\\'") + "'"


# The rationale as the CSV writer renders free text (empty when there is none): formula-guarded
# as exports.spreadsheet.formula_guard does, then quoted.
_SQL_RATIONALE = _sql_csv_quote(
    f"(CASE WHEN left(j.rationale, 1) IN ({', '.join(map(_sql_literal, FORMULA_PREFIXES))})"
    " THEN chr(39) || j.rationale ELSE coalesce(j.rationale, '') END)"
)

# Fields of each judgment tuple of judgment_csv_groups_stream, in order.
CSV_JUDGMENT_FIELDS: tuple[str, ...] = ("comparison_id", "shown", "rater_id", "pre", "post", "tail")

_CSV_JUDGMENT_SELECT = (
    "SELECT j.comparison_id,"
    " 2 * (sign(j.preference)::int + 1) + j.left_is_a::int,"
    " j.rater_id,"
    " j.preference || ',' || abs(j.preference) || ','"
    " || CASE WHEN j.preference > 0 THEN 'a' WHEN j.preference < 0 THEN 'b' ELSE 'tie' END"
    " || CASE WHEN j.both_bad THEN ',True,' ELSE ',False,' END,"
    f" {_sql_csv_quote('j.criteria::text')} || ',' || {_sql_csv_quote('j.flags::text')}"
    f" || ',' || {_SQL_RATIONALE} || ',',"
    f" ',' || coalesce(j.duration_ms::text, '') || ',' || {_CREATED_AT} || ',' || j.source"
    " || E'\\r\\n'"
)


def judgment_groups_stream(
    *,
    study: Study,
    filters: JudgmentFilter,
    with_messages: bool = True,
    fetch_rows: int = FETCH_ROWS,
) -> Iterator[tuple[tuple, list[tuple]]]:
    """Yield (context, judgments) for each comparison with judgments passing the filters, in
    comparison order, its judgments in rater order (the order of the one-judgment-per-rater
    index, so rows stream without a sort of the whole result first).

    context follows CONTEXT_FIELDS (without "messages" unless with_messages; messages is JSON
    text or None); each judgment follows JUDGMENT_FIELDS: preference/strength ints, outcome
    "a"/"b"/"tie", bools, criteria and flags as JSON text, rater_id the user id (exports show
    it as RaterPseudonyms(study_id=...)[rater_id], never as is),
    duration_ms int or None, created_at ISO 8601 UTC text ("2024-05-31T12:00:00.000000Z").

    Two server-side cursors run side by side, both in comparison order: one over the
    comparisons' context (the long text, sent once per comparison) and one over the narrow
    judgment rows. Sending each output once instead of once per judgment, and letting writers
    render the context once per comparison, is what makes large exports fast.
    """
    yield from _groups_stream(
        study=study,
        filters=filters,
        with_messages=with_messages,
        fetch_rows=fetch_rows,
        judgment_select=_JUDGMENT_SELECT,
    )


def judgment_csv_groups_stream(
    *, study: Study, filters: JudgmentFilter, fetch_rows: int = FETCH_ROWS
) -> Iterator[tuple[tuple, list[tuple]]]:
    """judgment_groups_stream (without messages) for the judgments CSV, each judgment's part
    of a line rendered by the database: tuples follow CSV_JUDGMENT_FIELDS.

    `pre` is "preference,strength,outcome,both_bad,", `post` is "criteria,flags,rationale,"
    (RFC 4180-quoted, the rationale spreadsheet-safe as the CSV writer makes it) and `tail`
    is ",duration_ms,created_at,source\r\n". What depends on the comparison's generator names
    or needs the server's secret goes in between, in Python: the winner and the order shown
    (by `shown` = 2 * (sign(preference) + 1) + left_is_a, 0..5) and the rater's pseudonym.
    Three pre-joined text columns cost the server and the client's parser less than ten.
    """
    yield from _groups_stream(
        study=study,
        filters=filters,
        with_messages=False,
        fetch_rows=fetch_rows,
        judgment_select=_CSV_JUDGMENT_SELECT,
    )


def _groups_stream(
    *,
    study: Study,
    filters: JudgmentFilter,
    with_messages: bool,
    fetch_rows: int,
    judgment_select: str,
) -> Iterator[tuple[tuple, list[tuple]]]:
    where, params = judgment_where_build(study=study, filters=filters)
    context_sql = (
        "SELECT c.id, p.key, p.text, "  # noqa: S608 - built from fixed fragments; values are bound
        + ("p.messages::text, " if with_messages else "")
        + "p.category, ga.name, gb.name, oa.text, ob.text"
        " FROM annotations_comparison c"
        " JOIN annotations_prompt p ON p.id = c.prompt_id"
        " JOIN annotations_output oa ON oa.id = c.output_a_id"
        " JOIN annotations_output ob ON ob.id = c.output_b_id"
        " JOIN annotations_generator ga ON ga.id = oa.generator_id"
        " JOIN annotations_generator gb ON gb.id = ob.generator_id "
        + _comparison_where(filters)
        + " AND EXISTS (SELECT 1 FROM annotations_judgment j WHERE j.comparison_id = c.id"
        + "".join(f" AND {clause}" for clause in _judgment_clauses(filters))
        + ") ORDER BY c.id"
    )
    judgment_sql = (
        judgment_select
        + judgment_joins_build(filters=filters)
        + where
        + " ORDER BY j.comparison_id, j.rater_id"
    )
    with transaction.atomic():
        context_batches = _cursor_batches(context_sql, params, fetch_rows=max(fetch_rows // 4, 1))
        try:
            contexts = itertools.chain.from_iterable(context_batches)
            context: tuple | None = None
            group: list[tuple] = []
            current_id: float = -1
            for batch in _cursor_batches(
                judgment_sql, params, fetch_rows=fetch_rows, prefetch=True
            ):
                for row in batch:
                    comparison_id = row[0]
                    if comparison_id != current_id:
                        if group:
                            yield context, group
                            group = []
                        # Both cursors are in comparison order. A comparison deleted between
                        # the two cursors' snapshots has no context: its judgments are skipped.
                        while current_id < comparison_id:
                            context = next(contexts, None)
                            current_id = context[0] if context else math.inf
                    if current_id == comparison_id:
                        group.append(row)
            if group:
                yield context, group
        finally:
            # Close the context cursor while its transaction is still open, also when the
            # consumer stops early (a client that disconnects).
            context_batches.close()
