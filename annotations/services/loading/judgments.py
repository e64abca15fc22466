"""Importing judgments made elsewhere into a study whose prompts and outputs are loaded.

One streaming pass checks each row against the study (prompt keys, model names, outputs, the
scale) and stages the compact, already-oriented rows in a temporary table with COPY. Checks that
need the whole file (a rater judging a pair twice differently) or the stored judgments run in
SQL on that table. Only when everything is valid are raters, missing comparisons and judgments
written, with the comparisons' judgment_count kept in step, all in one transaction.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.utils import timezone

from annotations.models import (
    JUDGE_PREFIX,
    SCALE_MAX_STRENGTH,
    Generator,
    JudgmentSource,
    Role,
    Scale,
    Study,
    User,
)
from annotations.services.generators import generator_name_key
from annotations.services.judging import WINNERS
from annotations.services.loading.common import (
    MAX_GENERATOR_CHARS,
    MAX_KEY_CHARS,
    MAX_RATIONALE_CHARS,
    check_name,
    check_text,
    output_slot,
    raw_connection,
    stream_rows,
)
from annotations.services.loading.errors import Problems, type_name
from annotations.services.loading.reading import CsvColumns, FileArg, Progress, Source, source_open
from annotations.services.pairing import orientation_key, same_pair_sql, study_pairing_lock

log = logging.getLogger(__name__)

# Imported raters get the username EXT_PREFIX + their source id. Django's username rules forbid
# ":", so no account made through a form or add_user can ever take such a name.
EXT_PREFIX = "ext:"
MAX_RATER_CHARS = 150 - len(EXT_PREFIX)
_COLUMNS = CsvColumns(
    required=("key", "left", "right", "winner", "rater"),
    optional=("created_at", "rationale", "strength"),
)
# An automatic judge's file: every row is the judge's, so a rater column is not needed.
_JUDGE_COLUMNS = CsvColumns(
    required=("key", "left", "right", "winner"),
    optional=("rater", "created_at", "rationale", "strength"),
)
JUDGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}", re.ASCII)


def judge_name_check(name: str) -> str:
    """An automatic judge's name (for example gpt-4o-2024-08-06); ValueError when unusable."""
    name = (name or "").strip()
    if not JUDGE_NAME.fullmatch(name):
        raise ValueError(
            f"judge name {name!r}: use 1-100 letters, digits, '.', '_', '+' or '-', starting "
            "with a letter or digit"
        )
    return name


# A strength written as text: an optional minus sign and ASCII digits.
_STRENGTH_TEXT = re.compile(r"-?[0-9]+", re.ASCII)
# A date-time whose year is not 1-9999: signed, five digits or more, or year 0.
_OTHER_YEAR = re.compile(r"\s*([+-][0-9]|[0-9]{5}|0000)", re.ASCII)
# Verdict code in the staging table for "both are bad" (other codes are the preference).
_BOTH_BAD = 10


@dataclass(frozen=True)
class ImportSummary:
    """What an import found: judgments and raters in the file, and how many were already there."""

    filename: str
    study: str
    judgments: int
    judgments_existing: int
    raters: int
    raters_existing: int
    comparisons_added: int
    # The automatic judge the verdicts were imported as; "" for human raters.
    judge: str = ""

    @property
    def judgments_added(self) -> int:
        return self.judgments - self.judgments_existing

    def __str__(self) -> str:
        if self.judge:
            return (
                f"Imported {self.filename} into '{self.study}' as automatic judge "
                f"'{self.judge}': {self.judgments:,} verdicts ({self.judgments_existing:,} "
                f"already there), {self.comparisons_added:,} comparisons added; they are kept "
                "out of the human results and never count toward k."
            )
        return (
            f"Imported {self.filename} into '{self.study}': "
            f"{self.judgments:,} judgments ({self.judgments_existing:,} already there), "
            f"{self.raters:,} raters ({self.raters_existing:,} already there), "
            f"{self.comparisons_added:,} comparisons added."
        )


class _Study:
    """Lookups of one study: prompt keys, model names and outputs, held as compact ints."""

    def __init__(self, study: Study) -> None:
        self.study = study
        self.prompt_ids: dict[str, int] = {}
        self.prompt_keys: dict[int, str] = {}
        for key, pk in stream_rows(
            "SELECT key, id FROM annotations_prompt WHERE study_id = %s", [study.pk]
        ):
            self.prompt_ids[key] = pk
        generators = list(Generator.objects.filter(study=study).values_list("id", "name"))
        self.generator_ids = {name: pk for pk, name in generators}
        self.generator_names = dict(generators)
        self._generator_index = {pk: i for i, (pk, _) in enumerate(generators)}
        self._name_keys: dict[str, str] | None = None
        self._orientation = {
            pk: orientation_key(name=name, is_baseline=pk == study.baseline_id)
            for pk, name in generators
        }
        self.outputs: dict[int, int] = {}
        # By generator, not study: output_generator indexes it.
        for prompt_id, generator_id, output_id in stream_rows(
            "SELECT prompt_id, generator_id, id FROM annotations_output "
            "WHERE generator_id = ANY(%s)",
            [list(self._generator_index)],
        ):
            self.outputs[output_slot(prompt_id, self._generator_index[generator_id])] = output_id

    def output(self, prompt_id: int, generator_id: int) -> int | None:
        return self.outputs.get(output_slot(prompt_id, self._generator_index[generator_id]))

    def generator_like(self, name: str) -> str | None:
        """The study's model whose name generator_name_key() makes the same as `name`."""
        if self._name_keys is None:
            self._name_keys = {}
            for known in self.generator_ids:
                self._name_keys.setdefault(generator_name_key(known), known)
        return self._name_keys.get(generator_name_key(name))

    def left_is_a(self, left: int, right: int) -> bool:
        """Whether the left model is output_a of a comparison oriented canonically."""
        return self._orientation[left] < self._orientation[right]


def _lookup(
    value: Any,
    table: dict[str, int],
    line: int,
    field: str,
    problems: Problems,
    what: str,
    max_chars: int,
    like: Callable[[str], str | None] | None = None,
) -> int | None:
    found = table.get(value) if type(value) is str else None
    if found is not None:
        return found
    name = check_name(value, line, field, problems, max_chars=max_chars)
    if name is None:
        return None
    found = table.get(name)
    if found is None:
        near = like(name) if like else None
        hint = f" (the study has '{near}')" if near else ""
        problems.add(line, field, f"unknown {what} '{name}'{hint}")
    return found


def _strength(value: Any, winner: str, study: Study, line: int, problems: Problems) -> int | None:
    if value is None or value == "":
        return 0 if winner in ("tie", "both_bad") else 1
    if isinstance(value, str):
        # ASCII digits only: str.isdigit() also takes "²" and "٣", which int() refuses or reads.
        text = value.strip()
        if not _STRENGTH_TEXT.fullmatch(text):
            problems.add(line, "strength", f"must be a whole number, not '{value[:20]}'")
            return None
        # Past 18 digits it is out of range anyway; int() of thousands of digits is refused.
        value = int(text) if len(text) <= 18 else 10**18
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(line, "strength", f"must be a whole number, not {type_name(value)}")
        return None
    if winner in ("tie", "both_bad"):
        if value != 0:
            problems.add(line, "strength", f"a '{winner}' verdict has no strength")
            return None
        return 0
    top = SCALE_MAX_STRENGTH[study.scale]
    if not 1 <= value <= top:
        problems.add(line, "strength", f"must be from 1 to {top} on a {study.scale} scale")
        return None
    return value


def _created_at(value: Any, line: int, problems: Problems) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problems.add(line, "created_at", f"must be an ISO 8601 string, not {type_name(value)}")
        return None
    out_of_range = f"'{value[:60]}' is outside the years 1 to 9999"
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        if _OTHER_YEAR.match(value):
            problems.add(line, "created_at", out_of_range)
        else:
            problems.add(
                line,
                "created_at",
                f"'{value[:60]}' is not an ISO 8601 date-time (2024-05-01T12:00:00Z)",
            )
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        # Stored in UTC: 0001-01-01T00:30+01:00 would be 1 BC, which no export can write.
        moment.astimezone(UTC)
    except OverflowError:
        problems.add(line, "created_at", f"{out_of_range} in UTC")
        return None
    return moment


def _stage_row(
    line: int, obj: dict[str, Any], lookups: _Study, problems: Problems
) -> tuple[Any, ...] | None:
    """The staging row of one judgment, or None with its problems recorded."""
    study = lookups.study
    before = problems.total
    prompt_id = _lookup(
        obj.get("key"), lookups.prompt_ids, line, "key", problems, "prompt key", MAX_KEY_CHARS
    )
    models = lookups.generator_ids
    longest = MAX_GENERATOR_CHARS
    like = lookups.generator_like
    left = _lookup(obj.get("left"), models, line, "left", problems, "model", longest, like)
    right = _lookup(obj.get("right"), models, line, "right", problems, "model", longest, like)
    winner = obj.get("winner")
    if isinstance(winner, str) and winner not in WINNERS:
        winner = winner.strip().lower()
    if winner not in WINNERS:
        shown = f"'{winner[:40]}'" if isinstance(winner, str) else type_name(winner)
        problems.add(
            line,
            "winner",
            "is missing"
            if winner is None or winner == ""
            else f"unknown value {shown}; use left, right, tie or both_bad",
        )
        winner = None
    elif winner == "tie" and study.scale == Scale.BINARY:
        problems.add(line, "winner", "this study's scale is binary: it has no tie")
    elif winner == "both_bad" and not study.allow_both_bad:
        problems.add(line, "winner", "this study has no 'both are bad' answer")
    rater = obj.get("rater")
    # The common case, a short clean string, skips check_name's checks.
    if (
        type(rater) is not str
        or not rater.strip()
        or len(rater) > MAX_RATER_CHARS
        or "\x00" in rater
    ):
        rater = check_name(rater, line, "rater", problems, max_chars=MAX_RATER_CHARS)
    else:
        rater = rater.strip()
    strength = (
        None if winner is None else _strength(obj.get("strength"), winner, study, line, problems)
    )
    created_at = _created_at(obj.get("created_at"), line, problems)
    rationale = obj.get("rationale")
    if rationale is None or rationale == "":
        rationale = ""
    else:
        rationale = check_text(
            rationale, line, "rationale", problems, max_chars=MAX_RATIONALE_CHARS, allow_empty=True
        )
    if prompt_id is None or left is None or right is None:
        return None
    if left == right:
        problems.add(line, "right", "is the same model as left: a judgment compares two models")
        return None
    out_left = lookups.output(prompt_id, left)
    out_right = lookups.output(prompt_id, right)
    for field, generator, output in (("left", left, out_left), ("right", right, out_right)):
        if output is None:
            key = obj.get("key")
            problems.add(
                line,
                field,
                f"model '{lookups.generator_names[generator]}' has no output for prompt '{key}'",
            )
    if problems.total > before or out_left is None or out_right is None:
        return None
    preference = {"left": strength, "right": -strength, "tie": 0, "both_bad": 0}[winner]
    left_is_lo = out_left < out_right
    lo, hi = (out_left, out_right) if left_is_lo else (out_right, out_left)
    verdict = _BOTH_BAD if winner == "both_bad" else (preference if left_is_lo else -preference)
    a_is_lo = lookups.left_is_a(left, right) == left_is_lo
    return (line, rater, prompt_id, lo, hi, a_is_lo, left_is_lo, verdict, created_at, rationale)


_STAGE = """
    CREATE TEMPORARY TABLE judgment_import_stage (
        line integer NOT NULL,
        rater text NOT NULL,
        prompt_id bigint NOT NULL,
        lo bigint NOT NULL,
        hi bigint NOT NULL,
        a_is_lo boolean NOT NULL,
        left_is_lo boolean NOT NULL,
        verdict smallint NOT NULL,
        created_at timestamptz,
        rationale text NOT NULL
    ) ON COMMIT DROP
"""

# Lines whose verdict differs from the same rater's first verdict on the same pair.
_SELF_CONFLICTS = """
    WITH split AS (
        SELECT rater, lo, hi FROM judgment_import_stage
        GROUP BY rater, lo, hi HAVING min(verdict) <> max(verdict)
    ),
    lines AS (
        SELECT s.line, s.rater, s.verdict,
               first_value(s.line) OVER w AS first_line,
               first_value(s.verdict) OVER w AS first_verdict
        FROM judgment_import_stage s JOIN split USING (rater, lo, hi)
        WINDOW w AS (PARTITION BY s.rater, s.lo, s.hi ORDER BY s.line)
    )
    SELECT line, rater, first_line, count(*) OVER () FROM lines
    WHERE verdict <> first_verdict ORDER BY line LIMIT %s
"""

# Lines that contradict a judgment an earlier import stored for the same rater and pair.
_STORED_CONFLICTS = f"""
    SELECT s.line, s.rater, count(*) OVER ()
    FROM judgment_import_stage s
    JOIN annotations_user u ON u.username = %(prefix)s || s.rater
    JOIN annotations_comparison c
      ON c.study_id = %(study)s AND {same_pair_sql(comparison="c", lo="s.lo", hi="s.hi")}
    JOIN annotations_judgment j ON j.comparison_id = c.id AND j.rater_id = u.id
    WHERE CASE WHEN j.both_bad THEN %(both_bad)s
               WHEN c.output_a_id = s.lo THEN j.preference
               ELSE -j.preference END <> s.verdict
    ORDER BY s.line LIMIT %(limit)s
"""  # noqa: S608 - built from fixed fragments; values are bound

# What a new imported rater's columns hold when it is not the model's default, as SQL over the
# staged `rater` id. The password is unusable, as set_unusable_password() makes one ("!" first).
_RATER_VALUES = {
    "password": "'!' || replace(gen_random_uuid()::text, '-', '')",
    "username": "%(prefix)s || rater",
    "date_joined": "%(now)s",
    "role": "%(rater_role)s",
    "external_id": "rater",
}


def _add_raters_sql() -> tuple[str, dict[str, Any]]:
    """The INSERT of new raters, with a column for each of User's fields, and its parameters.

    Built from User._meta, so a field added to User gets its default here without an edit;
    a field with no default and no NULL must be given a value in _RATER_VALUES.
    """
    columns: list[str] = []
    values: list[str] = []
    params: dict[str, Any] = {"rater_role": Role.RATER}
    for user_field in User._meta.concrete_fields:
        if user_field.primary_key:
            continue
        columns.append(connection.ops.quote_name(user_field.column))
        if user_field.attname in _RATER_VALUES:
            values.append(_RATER_VALUES[user_field.attname])
            continue
        default = user_field.get_default()
        if default is None and not user_field.null:
            raise ImproperlyConfigured(
                f"User.{user_field.name} has no default: give imported raters a value for it "
                "in annotations.services.loading.judgments._RATER_VALUES"
            )
        name = f"default_{user_field.attname}"
        params[name] = user_field.get_db_prep_save(default, connection)
        values.append(f"%({name})s")
    sql = f"""
        WITH raters AS (SELECT DISTINCT rater FROM judgment_import_stage),
        added AS (
            INSERT INTO annotations_user ({", ".join(columns)})
            SELECT {", ".join(values)} FROM raters
            ON CONFLICT (username) DO NOTHING
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM raters), (SELECT count(*) FROM added)
    """  # noqa: S608 - built from fixed fragments; values are bound
    return sql, params


# A rater's repeats of one verdict on one pair (the checks refused differing ones): keep the
# first line, so that every staged row is one judgment and a pair's row count is its raters.
_DROP_REPEATS = """
    DELETE FROM judgment_import_stage s
    USING (SELECT rater, lo, hi, min(line) AS first_line FROM judgment_import_stage
           GROUP BY rater, lo, hi HAVING count(*) > 1) r
    WHERE s.rater = r.rater AND s.lo = r.lo AND s.hi = r.hi AND s.line <> r.first_line
"""

# The file's pairs, with the comparison that already exists (NULL when none does).
_PAIRS = f"""
    CREATE TEMPORARY TABLE judgment_import_pairs ON COMMIT DROP AS
    SELECT p.lo, p.hi, p.prompt_id, p.a_is_lo, p.raters, c.id AS comparison_id
    FROM (SELECT lo, hi, min(prompt_id) AS prompt_id, bool_and(a_is_lo) AS a_is_lo,
                 count(*) AS raters
          FROM judgment_import_stage GROUP BY lo, hi) p
    LEFT JOIN annotations_comparison c
      ON c.study_id = %(study)s AND {same_pair_sql(comparison="c", lo="p.lo", hi="p.hi")}
"""  # noqa: S608 - built from fixed fragments; values are bound

# New comparisons are born with their final judgment_count: every staged judgment of a new
# pair is new, and updating the rows afterwards would rewrite each of them and its indexes.
# A plain INSERT: only the loader and the importer create comparisons, both under the study's
# lock, so no other transaction can add one of these pairs meanwhile.
_ADD_COMPARISONS = """
    INSERT INTO annotations_comparison
        (study_id, prompt_id, output_a_id, output_b_id, judgment_count, created_at)
    SELECT %(study)s, prompt_id,
           CASE WHEN a_is_lo THEN lo ELSE hi END, CASE WHEN a_is_lo THEN hi ELSE lo END,
           CASE WHEN %(counted)s THEN raters ELSE 0 END, %(now)s
    FROM judgment_import_pairs WHERE comparison_id IS NULL
"""

_ADD_JUDGMENTS = f"""
    WITH added AS (
        INSERT INTO annotations_judgment
            (comparison_id, rater_id, scale, preference, both_bad, left_is_a, criteria, flags,
             rationale, source, created_at)
        SELECT c.id, u.id, %(scale)s,
               CASE WHEN s.verdict = %(both_bad)s THEN 0
                    WHEN c.output_a_id = s.lo THEN s.verdict ELSE -s.verdict END,
               s.verdict = %(both_bad)s,
               s.left_is_lo = (c.output_a_id = s.lo),
               '{{}}'::jsonb, '{{}}'::jsonb, s.rationale, %(source)s,
               coalesce(s.created_at, %(now)s)
        FROM judgment_import_stage s
        JOIN annotations_user u ON u.username = %(prefix)s || s.rater
        JOIN annotations_comparison c ON {same_pair_sql(comparison="c", lo="s.lo", hi="s.hi")}
        WHERE c.study_id = %(study)s
        ORDER BY s.line
        ON CONFLICT (comparison_id, rater_id) DO NOTHING
        RETURNING comparison_id, rater_id
    ),
    counted AS (
        -- Judgments of a rater excluded from the study do not count toward k
        -- (services/quality.py).
        UPDATE annotations_comparison c SET judgment_count = c.judgment_count + n.added
        FROM (SELECT a.comparison_id, count(*) AS added
              FROM added a JOIN judgment_import_pairs p ON p.comparison_id = a.comparison_id
             WHERE %(counted)s
               AND NOT EXISTS (SELECT 1 FROM annotations_raterstanding xs
                                WHERE xs.study_id = %(study)s AND xs.rater_id = a.rater_id
                                  AND xs.excluded)
              GROUP BY a.comparison_id) n
        WHERE c.id = n.comparison_id
    )
    SELECT count(*) FROM added
"""  # noqa: S608 - built from fixed fragments; values are bound


def _stage(
    source: Source,
    lookups: _Study,
    problems: Problems,
    progress: Progress | None,
    judge: str = "",
) -> int:
    """Check every row and COPY the valid ones into the staging table; return the row count.
    With `judge`, every row is that automatic judge's."""
    columns = _JUDGE_COLUMNS if judge else _COLUMNS
    rows = source.rows(problems, columns=columns, progress=progress, phase="checking")
    count = 0
    with raw_connection().cursor() as cursor:
        # Inside an outer transaction an earlier import's table may still exist.
        cursor.execute("DROP TABLE IF EXISTS judgment_import_stage, judgment_import_pairs")
        cursor.execute(_STAGE)
        with cursor.copy("COPY judgment_import_stage FROM STDIN") as copy:
            write = copy.write_row
            for line, obj in rows:
                count += 1
                if judge:
                    obj = {**obj, "rater": judge}
                row = _stage_row(line, obj, lookups, problems)
                if row is not None:
                    write(row)
    return count


def _check_stage(problems: Problems, limit: int, study_id: int, prefix: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE judgment_import_stage")
        # Tables just filled by a load may have no statistics yet, and a nested loop over a
        # million staged rows would then take hours: bulk joins here are hash joins.
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(_SELF_CONFLICTS, [limit])
        rows = cursor.fetchall()
        for line, rater, first_line, _ in rows:
            problems.add(
                line, "winner", f"rater '{rater}' judged this pair differently on line {first_line}"
            )
        cursor.execute(
            _STORED_CONFLICTS,
            {"prefix": prefix, "both_bad": _BOTH_BAD, "limit": limit, "study": study_id},
        )
        stored = cursor.fetchall()
        for line, rater, _ in stored:
            problems.add(
                line,
                "winner",
                f"rater '{rater}' already has a different judgment of this pair in the study",
            )
        # Problems past the listed ones are only counted.
        for found in (rows, stored):
            if found:
                problems.total += found[0][-1] - len(found)


# An automatic judge's verdicts on pairs the study does not compare (the raters would then be
# asked to judge them): refused, by line.
_OUTSIDE_PAIRS = """
    SELECT s.line, count(*) OVER () FROM judgment_import_stage s
      JOIN judgment_import_pairs p ON p.lo = s.lo AND p.hi = s.hi
     WHERE p.comparison_id IS NULL
     ORDER BY s.line LIMIT 50"""


def _refuse_pairs_outside(cursor: Any, filename: str) -> None:
    cursor.execute(_OUTSIDE_PAIRS)
    rows = cursor.fetchall()
    if not rows:
        return
    problems = Problems()
    for line, _ in rows:
        problems.add(
            line,
            "right",
            "this pair is not one of the study's comparisons: an automatic judge's verdicts "
            "are taken only on pairs the raters are asked about",
        )
    problems.total += rows[0][1] - len(rows)
    problems.raise_if_any(filename)


def judgments_import(
    *,
    study: Study,
    file: FileArg,
    filename: str = "",
    progress: Progress | None = None,
    judge: str = "",
) -> ImportSummary:
    """Import judgments (CSV or JSONL, one per row) into `study`.

    Each row names a prompt key, the models shown left and right, the winner (left, right, tie
    or both_bad), the rater's id in the source, and optionally created_at (ISO 8601; naive means
    UTC), rationale and strength (Likert studies). A rater account EXT_PREFIX + id is made for
    each new rater. Re-importing a file adds nothing; a row that contradicts a stored judgment
    by the same rater is an error. Raises LoadError (nothing written) on any problem.

    With `judge`, the verdicts are an automatic judge's (an LLM): every row is attributed to
    the account JUDGE_PREFIX + judge (no rater column needed), stored with source "judge", kept
    out of the human results and exports, and never counted toward k. ValueError for a bad
    judge name.
    """
    judge = judge_name_check(judge) if judge else ""
    prefix = JUDGE_PREFIX if judge else EXT_PREFIX
    with source_open(file=file, filename=filename) as source, transaction.atomic():
        study_pairing_lock(study_id=study.pk)
        lookups = _Study(study)
        problems = Problems()
        started = time.perf_counter()
        count = _stage(source, lookups, problems, progress, judge)
        del lookups
        log.info("import: read and staged %s rows in %.1f s", count, time.perf_counter() - started)
        if count == 0 and not problems:
            problems.add(None, "", "the file is empty: no judgments found")
        _check_stage(problems, limit=50, study_id=study.pk, prefix=prefix)
        log.info("import: checked in %.1f s", time.perf_counter() - started)
        problems.raise_if_any(source.filename)
        now = timezone.now()
        params = {
            "prefix": prefix,
            "now": now,
            "study": study.pk,
            "scale": study.scale,
            "both_bad": _BOTH_BAD,
            "source": JudgmentSource.JUDGE if judge else JudgmentSource.IMPORT,
            # Whether the verdicts count toward k: human ones do, a judge's never.
            "counted": not judge,
        }
        with connection.cursor() as cursor:
            add_raters, defaults = _add_raters_sql()
            cursor.execute(add_raters, {**params, **defaults})
            raters, raters_added = cursor.fetchone()
            log.info("import: raters in %.1f s", time.perf_counter() - started)
            cursor.execute(_DROP_REPEATS)
            cursor.execute(_PAIRS, params)
            if judge:
                _refuse_pairs_outside(cursor, source.filename)
            cursor.execute(_ADD_COMPARISONS, params)
            comparisons_added = cursor.rowcount
            cursor.execute("ANALYZE judgment_import_pairs")
            log.info("import: comparisons in %.1f s", time.perf_counter() - started)
            cursor.execute(_ADD_JUDGMENTS, params)
            (judgments_added,) = cursor.fetchone()
            cursor.execute("DROP TABLE judgment_import_stage, judgment_import_pairs")
            log.info("import: wrote in %.1f s", time.perf_counter() - started)
    return ImportSummary(
        filename=source.filename,
        study=study.slug,
        judgments=count,
        judgments_existing=count - int(judgments_added),
        raters=raters,
        raters_existing=raters - raters_added,
        comparisons_added=comparisons_added,
        judge=judge,
    )
