"""Streaming reads of a study's judgments with their context, for exports.

Rows come from one raw SQL query run through a PostgreSQL server-side cursor, so memory stays
constant whatever the study's size. Derived columns (outcome, winner, the order shown, the
pseudonymous rater id) are computed by the database so that writers do little per-row work.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import math
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils.dateparse import parse_date, parse_datetime

from annotations.models import Generator, Prompt, Study, User

# Rows fetched from the server per round trip; small enough to keep memory flat, large enough
# that round trips cost little next to formatting.
FETCH_ROWS = 2000

# Characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

_cursor_names = itertools.count(1)


# ---------------------------------------------------------------------------------------------
# Pseudonymous rater ids
# ---------------------------------------------------------------------------------------------


def rater_pseudonym(*, study_id: int, user_id: int) -> str:
    """A rater's id in exports: stable within a study, different across studies, not reversible
    without the server's SECRET_KEY, and never the username."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"{study_id}:{user_id}".encode(), hashlib.sha256
    ).hexdigest()
    return "r-" + digest[:10]


def study_rater_ids(*, study: Study) -> list[int]:
    """Ids of every user who has judged in the study.

    Raters are few and judgments many: the distinct raters of the whole table come from a
    skip scan of the (rater_id, created_at) index, one probe per rater, and each is then
    checked for a judgment in this study, instead of reading all of the study's judgments.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH RECURSIVE r(id) AS ("
            " (SELECT rater_id FROM annotations_judgment ORDER BY rater_id LIMIT 1)"
            " UNION ALL"
            " SELECT (SELECT j.rater_id FROM annotations_judgment j WHERE j.rater_id > r.id"
            " ORDER BY j.rater_id LIMIT 1) FROM r WHERE r.id IS NOT NULL)"
            " SELECT r.id FROM r WHERE r.id IS NOT NULL AND EXISTS (SELECT 1"
            " FROM annotations_judgment j JOIN annotations_comparison c ON c.id = j.comparison_id"
            " WHERE j.rater_id = r.id AND c.study_id = %s)",
            [study.pk],
        )
        return [row[0] for row in cursor.fetchall()]


def study_rater_pseudonyms(*, study: Study) -> dict[int, str]:
    """user id -> pseudonymous rater id, for every rater of the study."""
    return {
        uid: rater_pseudonym(study_id=study.pk, user_id=uid) for uid in study_rater_ids(study=study)
    }


class RaterPseudonyms(dict):
    """user id -> pseudonymous rater id of one study, each computed the first time it is asked
    for: exports need no pass over the study's judgments before the first byte."""

    def __init__(self, *, study_id: int) -> None:
        super().__init__()
        self.study_id = study_id

    def __missing__(self, user_id: int) -> str:
        pseudonym = self[user_id] = rater_pseudonym(study_id=self.study_id, user_id=user_id)
        return pseudonym


# ---------------------------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgmentFilter:
    """Which judgments of a study an export covers; build it with judgment_filter_build.

    Raters are resolved user ids. `since` is inclusive, `until` exclusive. `max_judgment_id`
    pins an export to the judgments that existed when its summary was computed.
    """

    generators: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    rater_ids: tuple[int, ...] = ()
    exclude_rater_ids: tuple[int, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    max_judgment_id: int | None = None
    # What the caller asked for, for summaries and file names.
    described: dict[str, object] = field(default_factory=dict, compare=False)


def _parse_moment(value: str | datetime | date, *, name: str, end_of_day: bool) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time.min)
        if end_of_day:
            moment += timedelta(days=1)
    else:
        text = value.strip()
        try:
            # A bare date first: parse_datetime would also read it, as midnight.
            day = parse_date(text)
            moment = None if day else parse_datetime(text)
        except ValueError as exc:
            raise ValidationError({name: f"{value!r} is not a valid date or time: {exc}"}) from exc
        if moment is None and day is None:
            raise ValidationError(
                {
                    name: f"{value!r} is not an ISO 8601 date (2024-05-31) or time "
                    "(2024-05-31T12:00:00Z)"
                }
            )
        if moment is None:
            moment = datetime.combine(day, time.min)
            if end_of_day:
                moment += timedelta(days=1)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _resolve_raters(*, study: Study, values: Sequence[str], name: str) -> tuple[int, ...]:
    by_pseudonym = {p: uid for uid, p in study_rater_pseudonyms(study=study).items()}
    wanted = [v.strip() for v in values if v and v.strip()]
    by_username = dict(
        User.objects.filter(username__in=[v for v in wanted if v not in by_pseudonym]).values_list(
            "username", "id"
        )
    )
    ids: list[int] = []
    unknown: list[str] = []
    for value in wanted:
        uid = by_pseudonym.get(value, by_username.get(value))
        if uid is None:
            unknown.append(value)
        else:
            ids.append(uid)
    if unknown:
        raise ValidationError(
            {
                name: f"unknown rater(s) {', '.join(map(repr, unknown))}: give a pseudonymous id "
                "from an export of this study (r-...) or a username"
            }
        )
    return tuple(dict.fromkeys(ids))


def judgment_filter_build(
    *,
    study: Study,
    generators: Sequence[str] = (),
    categories: Sequence[str] = (),
    raters: Sequence[str] = (),
    exclude_raters: Sequence[str] = (),
    since: str | datetime | date | None = None,
    until: str | datetime | date | None = None,
) -> JudgmentFilter:
    """Validate export filters against the study and return them resolved.

    - generators: names; a judgment matches when either side of its comparison is one of them.
    - categories: prompt categories.
    - raters / exclude_raters: each a pseudonymous id as exports show it (r-...) or a username.
    - since (inclusive) / until (exclusive): ISO 8601 dates or times, UTC when no offset is
      given; a bare date for `until` means the end of that day, so since=2024-05-01
      until=2024-05-31 covers all of May.

    Raises ValidationError naming the filter that is wrong.
    """
    generators = tuple(dict.fromkeys(g.strip() for g in generators if g and g.strip()))
    categories = tuple(dict.fromkeys(c.strip() for c in categories if c and c.strip()))
    if generators:
        known = set(
            Generator.objects.filter(study=study, name__in=generators).values_list(
                "name", flat=True
            )
        )
        missing = [g for g in generators if g not in known]
        if missing:
            raise ValidationError(
                {
                    "generator": f"no model named {', '.join(map(repr, missing))} in study "
                    f"{study.slug!r}"
                }
            )
    if categories:
        known = set(
            Prompt.objects.filter(study=study, category__in=categories).values_list(
                "category", flat=True
            )
        )
        missing = [c for c in categories if c not in known]
        if missing:
            raise ValidationError(
                {
                    "category": f"no prompt category {', '.join(map(repr, missing))} in study "
                    f"{study.slug!r}"
                }
            )
    rater_ids = _resolve_raters(study=study, values=raters, name="rater") if raters else ()
    exclude_ids = (
        _resolve_raters(study=study, values=exclude_raters, name="exclude_rater")
        if exclude_raters
        else ()
    )
    since_at = _parse_moment(since, name="since", end_of_day=False) if since else None
    until_at = _parse_moment(until, name="until", end_of_day=True) if until else None
    if since_at and until_at and since_at >= until_at:
        raise ValidationError({"until": "must be later than since"})
    described: dict[str, object] = {}
    for key, value in (
        ("generator", list(generators)),
        ("category", list(categories)),
        ("rater", [r.strip() for r in raters if r and r.strip()]),
        ("exclude_rater", [r.strip() for r in exclude_raters if r and r.strip()]),
        ("since", since_at.isoformat() if since_at else None),
        ("until", until_at.isoformat() if until_at else None),
    ):
        if value:
            described[key] = value
    return JudgmentFilter(
        generators=generators,
        categories=categories,
        rater_ids=rater_ids,
        exclude_rater_ids=exclude_ids,
        since=since_at,
        until=until_at,
        described=described,
    )


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


def _judgment_clauses(filters: JudgmentFilter) -> list[str]:
    """Conditions on the judgment itself (alias j), with named parameters from _where."""
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
    return clauses


def _comparison_where(filters: JudgmentFilter) -> str:
    """The WHERE clause of _where without the conditions on judgments."""
    clauses = ["c.study_id = %(study_id)s"]
    if filters.generators:
        clauses.append("(ga.name = ANY(%(generators)s) OR gb.name = ANY(%(generators)s))")
    if filters.categories:
        clauses.append("p.category = ANY(%(categories)s)")
    return "WHERE " + " AND ".join(clauses)


def _where(*, study: Study, filters: JudgmentFilter) -> tuple[str, dict[str, object]]:
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


def _stream(sql: str, params: dict[str, object], *, fetch_rows: int) -> Iterator[list[tuple]]:
    """_cursor_batches in a transaction of its own (a savepoint inside an outer one)."""
    with transaction.atomic():
        yield from _cursor_batches(sql, params, fetch_rows=fetch_rows)


# ---------------------------------------------------------------------------------------------
# One row per judgment
# ---------------------------------------------------------------------------------------------

# Columns of judgment_rows_stream, in order; "messages" only when asked for.
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
    """The column names of judgment_rows_stream for the given options."""
    return tuple(c for c in JUDGMENT_COLUMNS if with_messages or c != "messages")


def _guard(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def _judgment_joins(filters: JudgmentFilter) -> str:
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
    """SQL for exports._csv_quote of the text expression `value`."""
    return (
        f"CASE WHEN {value} ~ E'[\",\\r\\n]' THEN '\"' || replace({value}, '\"', '\"\"') || '\"'"
        f" ELSE {value} END"
    )


def _sql_literal(char: str) -> str:
    return "E'" + char.encode("unicode_escape").decode().replace("'", "\\'") + "'"


# exports._csv_text of the rationale (empty when there is none), FORMULA_PREFIXES guarded.
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
    (RFC 4180-quoted, the rationale spreadsheet-safe as exports._csv_text makes it) and `tail`
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
    where, params = _where(study=study, filters=filters)
    context_sql = (
        "SELECT c.id, p.key, p.text, "
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
        judgment_select + _judgment_joins(filters) + where + " ORDER BY j.comparison_id, j.rater_id"
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


def judgment_rows_stream(
    *,
    study: Study,
    filters: JudgmentFilter,
    with_messages: bool = True,
    spreadsheet_safe: bool = False,
    fetch_rows: int = FETCH_ROWS,
) -> Iterator[list[tuple]]:
    """Yield batches of flat judgment rows (tuples in judgment_columns() order), ordered by
    comparison then rater; values as in judgment_groups_stream (rater the pseudonymous id),
    plus winner_generator (a
    name or ""), left_generator and right_generator.

    spreadsheet_safe prefixes a single quote to free-text values that begin with = + - @ tab or
    carriage return, so spreadsheets show them as text instead of running them as formulas.
    """
    clean = _guard if spreadsheet_safe else str
    pseudonyms = RaterPseudonyms(study_id=study.pk)
    slug = clean(study.slug)
    rows: list[tuple] = []
    for context, judgments in judgment_groups_stream(
        study=study, filters=filters, with_messages=with_messages, fetch_rows=fetch_rows
    ):
        texts = tuple(clean(v) if isinstance(v, str) else v for v in context[1:])
        head = (slug, *texts)
        generator_a, generator_b = texts[-4], texts[-3]
        winners = {"a": generator_a, "b": generator_b, "tie": ""}
        for (
            _,
            preference,
            strength,
            outcome,
            both_bad,
            left_is_a,
            criteria,
            flags,
            rationale,
            rater_id,
            duration_ms,
            created_at,
            source,
        ) in judgments:
            rows.append(
                (
                    *head,
                    preference,
                    strength,
                    outcome,
                    both_bad,
                    winners[outcome],
                    left_is_a,
                    *((generator_a, generator_b) if left_is_a else (generator_b, generator_a)),
                    criteria,
                    flags,
                    clean(rationale),
                    pseudonyms[rater_id],
                    duration_ms,
                    created_at,
                    source,
                )
            )
        if len(rows) >= fetch_rows:
            yield rows
            rows = []
    if rows:
        yield rows


# ---------------------------------------------------------------------------------------------
# One row per comparison, with its votes (training pairs)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Votes:
    """The judgments of one comparison by outcome; `tie` excludes both-bad answers."""

    a: int
    b: int
    tie: int
    both_bad: int

    @property
    def total(self) -> int:
        return self.a + self.b + self.tie + self.both_bad


def _votes_sql(where: str, filters: JudgmentFilter) -> str:
    return (
        "SELECT j.comparison_id AS comparison_id,"
        " count(*) FILTER (WHERE j.preference > 0) AS a,"
        " count(*) FILTER (WHERE j.preference < 0) AS b,"
        " count(*) FILTER (WHERE j.preference = 0 AND NOT j.both_bad) AS tie,"
        " count(*) FILTER (WHERE j.both_bad) AS both_bad"
        + _judgment_joins(filters)
        + where
        + " GROUP BY j.comparison_id"
    )


def comparison_vote_patterns(
    *, study: Study, filters: JudgmentFilter
) -> tuple[list[tuple[Votes, int]], int | None]:
    """How many comparisons have each vote pattern, and the newest judgment id counted.

    Cheap (a handful of rows whatever the size): exports use it to report kept and dropped
    pairs before streaming. Pass the returned id as filters.max_judgment_id to the stream so
    that both describe the same judgments.
    """
    where, params = _where(study=study, filters=filters)
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(j.id)" + _judgment_joins(filters) + where, params)
        max_id = cursor.fetchone()[0]
        if max_id is None:
            return [], None
        where, params = _where(study=study, filters=replace(filters, max_judgment_id=max_id))
        cursor.execute(
            "SELECT a, b, tie, both_bad, count(*) FROM ("
            + _votes_sql(where, filters)
            + ") v GROUP BY a, b, tie, both_bad ORDER BY a, b, tie, both_bad",
            params,
        )
        patterns = [(Votes(a, b, t, x), n) for a, b, t, x, n in cursor.fetchall()]
    return patterns, max_id


# Columns of comparison_vote_rows_stream, in order.
COMPARISON_VOTE_COLUMNS: tuple[str, ...] = (
    "comparison_id",
    "prompt_key",
    "prompt",
    "messages",
    "generator_a",
    "generator_b",
    "output_a",
    "output_b",
    "a",
    "b",
    "tie",
    "both_bad",
)


def comparison_vote_rows_stream(
    *, study: Study, filters: JudgmentFilter, fetch_rows: int = FETCH_ROWS
) -> Iterator[list[tuple]]:
    """Yield batches of per-comparison rows (COMPARISON_VOTE_COLUMNS order) for every comparison
    with at least one judgment passing the filters, ordered by comparison; messages is JSON text
    or None."""
    where, params = _where(study=study, filters=filters)
    sql = (
        "SELECT c.id, p.key, p.text, p.messages::text, ga.name, gb.name, oa.text, ob.text,"
        " v.a, v.b, v.tie, v.both_bad FROM (" + _votes_sql(where, filters) + ") v"
        " JOIN annotations_comparison c ON c.id = v.comparison_id"
        " JOIN annotations_prompt p ON p.id = c.prompt_id"
        " JOIN annotations_output oa ON oa.id = c.output_a_id"
        " JOIN annotations_output ob ON ob.id = c.output_b_id"
        " JOIN annotations_generator ga ON ga.id = oa.generator_id"
        " JOIN annotations_generator gb ON gb.id = ob.generator_id"
        " ORDER BY c.id"
    )
    yield from _stream(sql, params, fetch_rows=fetch_rows)


def study_has_chat_prompts(*, study: Study) -> bool:
    """Whether any prompt of the study is a chat transcript (a message list)."""
    return Prompt.objects.filter(study=study, messages__isnull=False).exists()
