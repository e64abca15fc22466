"""What a study's results are computed from, read as numpy arrays and plain data (no statistics).

The judgments are read with one narrow query that packs every judgment into a fixed-width
binary record on the server, so the result is parsed with a single np.frombuffer and no Python
object is made per judgment; two more narrow queries map outputs to generators and prompts to
categories. JSON columns (criteria, flags) are read by separate queries
that only touch judgments where they are non-empty, and only when the study asks for them.
Every query reads only the judgments the filters (ResultsFilters) pick, with one WHERE clause.
study_results_version() fingerprints all of it for the results cache (annotations.analysis.cache).
The outputs' texts, for their style features, are read apart (study_output_texts), since they
change only when outputs are loaded: study_outputs_version() says when.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from django.db import connection, transaction

from annotations.analysis.inputs import (
    NO_FILTERS,
    GeneratorRow,
    JudgmentArrays,
    OutputFeatures,
    ResultsFilters,
    ResultsInputs,
)
from annotations.models import JUDGE_PREFIX, Criterion, Flag, Generator, Study, User
from annotations.selectors.judgment_filters import study_judges
from annotations.selectors.judgments import HUMAN_SQL, NOT_EXCLUDED_SQL
from annotations.selectors.pseudonyms import rater_pseudonym

# Judgment records as the server packs them (big-endian: the *send functions are PostgreSQL's
# binary wire encodings); outputs and prompts are mapped to generators and categories in numpy.
# While every id fits in 32 bits (checked before each read) the narrow record is used: it is
# half the bytes to pack, send and parse; the wide one keeps bigger ids exact.
_ID_FIELDS = ("id", "comparison", "output_a", "output_b", "prompt", "rater")


def _judgment_record(id_type: str) -> np.dtype:
    return np.dtype(
        [(name, id_type) for name in _ID_FIELDS]
        + [("preference", ">i2"), ("both_bad", "?"), ("left_is_a", "?"), ("duration_ms", ">i4")]
        + [("revised_us", ">i8")]
    )


_NARROW_RECORD = _judgment_record(">i4")
_WIDE_RECORD = _judgment_record(">i8")
_PAIR_RECORD = np.dtype([("key", ">i8"), ("value", ">i8")])

# Each query returns one bytea of fixed-width records, so numpy reads a whole study with one
# np.frombuffer: a cursor or a COPY would hand Python one message per row, which costs more
# than all the statistics at a million judgments. No ORDER BY: sorting in numpy is cheaper than
# a server sort that spills to disk. Outputs and prompts are read on their own because joining
# the wide output table twice per judgment costs the server far more than one narrow scan.
# The revision time travels as microseconds since the epoch (the fingerprint hashes it); only
# revised judgments pay for the conversion.
_JUDGMENTS_SQL = """
SELECT string_agg(
    {send}(j.id{cast}) || {send}(c.id{cast}) || {send}(c.output_a_id{cast})
    || {send}(c.output_b_id{cast}) || {send}(c.prompt_id{cast}) || {send}(j.rater_id{cast})
    || int2send({preference}) || boolsend({both_bad}) || boolsend(j.left_is_a)
    || int4send(coalesce(j.duration_ms, -1))
    || int8send(coalesce((extract(epoch FROM j.revised_at) * 1000000)::int8, -1)),
    ''::bytea
)
FROM annotations_judgment j
JOIN annotations_comparison c ON c.id = j.comparison_id
WHERE c.study_id = %(study)s{where}
"""
# Under a criterion filter the verdict is that criterion's answer; criteria have no "both bad".
_OVERALL_VERDICT = {"preference": "j.preference", "both_bad": "j.both_bad"}
_CRITERION_VERDICT = {"preference": "(j.criteria ->> %(criterion)s)::int2", "both_bad": "false"}
# Largest ids of the tables whose ids a judgment record carries: index-only lookups.
_MAX_IDS_SQL = """
SELECT greatest(
    (SELECT max(id) FROM annotations_judgment), (SELECT max(id) FROM annotations_comparison),
    (SELECT max(id) FROM annotations_output), (SELECT max(id) FROM annotations_prompt),
    (SELECT max(id) FROM {users})
)
"""
_OUTPUTS_SQL = """
SELECT string_agg(int8send(id) || int8send(generator_id), ''::bytea)
FROM annotations_output WHERE study_id = %(study)s
"""
_PROMPTS_SQL = """
SELECT string_agg(int8send(id) || int8send(category_code), ''::bytea) FROM (
    SELECT id, dense_rank() OVER (ORDER BY category) - 1 AS category_code
    FROM annotations_prompt WHERE study_id = %(study)s
) p
"""


def _judgment_conditions(study: Study, filters: ResultsFilters) -> tuple[str, dict[str, Any]]:
    """The filters as SQL conditions on judgments j of comparisons c (to follow the study's
    condition) and their parameters."""
    params: dict[str, Any] = {"study": study.pk}
    where = []
    if filters.category is not None:
        where.append(
            "c.prompt_id IN (SELECT id FROM annotations_prompt"
            " WHERE study_id = %(study)s AND category = %(category)s)"
        )
        params["category"] = filters.category
    if filters.since is not None:
        where.append("j.created_at >= %(since)s")
        params["since"] = filters.since
    if filters.until is not None:
        where.append("j.created_at <= %(until)s")
        params["until"] = filters.until
    if filters.source is not None:
        where.append("j.source = %(source)s")
        params["source"] = filters.source
    if filters.criterion is not None:
        where.append("jsonb_typeof(j.criteria -> %(criterion)s) = 'number'")
        params["criterion"] = filters.criterion
    if filters.judge is not None:
        # An automatic judge's verdicts in place of the humans' (never mixed with them).
        where.append(
            "j.source = 'judge' AND j.rater_id ="
            " (SELECT u.id FROM annotations_user u WHERE u.username = %(judge_user)s)"
        )
        params["judge_user"] = JUDGE_PREFIX + filters.judge
    else:
        where.append(HUMAN_SQL)
    if not filters.include_excluded:
        where.append(NOT_EXCLUDED_SQL)
    return "".join(f" AND {condition}" for condition in where), params


def _records(
    cursor: Any, sql: str, params: dict[str, Any], dtype: np.dtype
) -> npt.NDArray[np.void]:
    # Binary results: a text bytea would arrive hex-encoded, twice the bytes to make, send and
    # decode.
    cursor.execute(sql, params, binary=True)
    packed = cursor.fetchone()[0]
    return np.frombuffer(packed or b"", dtype=dtype)


def _lookup(
    pairs: npt.NDArray[np.void], *keys: npt.NDArray[np.int64]
) -> list[npt.NDArray[np.int64]]:
    """Map each array of keys through (key, value) records; every key must be present."""
    order = np.argsort(pairs["key"])
    known = pairs["key"][order].astype(np.int64)
    values = pairs["value"][order].astype(np.int64)
    out = []
    for wanted in keys:
        at = np.searchsorted(known, wanted)
        if len(wanted) and (at.max() >= len(known) or np.any(known[at] != wanted)):
            raise RuntimeError("a judgment refers to an output or prompt outside its study")
        out.append(values[at])
    return out


def study_judgment_arrays(*, study: Study, filters: ResultsFilters = NO_FILTERS) -> JudgmentArrays:
    """The judgments of `study` that `filters` pick, as numpy arrays in judgment id order
    (three narrow queries, no Python object per row)."""
    where, params = _judgment_conditions(study, filters)
    verdict = _CRITERION_VERDICT if filters.criterion is not None else _OVERALL_VERDICT
    # A hash join of the study's comparisons fits in memory with a little more than the
    # default work_mem; SET LOCAL ends with this transaction.
    with (
        transaction.atomic(),
        connection.cursor() as django_cursor,
        # Django's cursor binds parameters on the client, which cannot ask for binary results.
        psycopg.Cursor(django_cursor.connection) as cursor,
    ):
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(
            "SELECT DISTINCT category FROM annotations_prompt WHERE study_id = %s "
            "ORDER BY category",
            [study.pk],
        )
        categories = tuple(row[0] for row in cursor.fetchall())
        cursor.execute(_MAX_IDS_SQL.format(users=connection.ops.quote_name(User._meta.db_table)))
        narrow = (cursor.fetchone()[0] or 0) < 2**31
        sql = _JUDGMENTS_SQL.format(
            send="int4send" if narrow else "int8send",
            cast="::int4" if narrow else "",
            where=where,
            **verdict,
        )
        rows = _records(cursor, sql, params, _NARROW_RECORD if narrow else _WIDE_RECORD)
        outputs = _records(cursor, _OUTPUTS_SQL, {"study": study.pk}, _PAIR_RECORD)
        prompts = _records(cursor, _PROMPTS_SQL, {"study": study.pk}, _PAIR_RECORD)
    # Sort native copies of the columns: fields of big-endian records sort and gather slowly.
    ids = rows["id"].astype(np.int64)
    order = np.argsort(ids)
    column: dict[str, npt.NDArray[Any]] = {
        name: rows[name].astype(np.int64)[order] for name in _ID_FIELDS[1:]
    }
    prompt = column["prompt"]
    generator_a, generator_b = _lookup(outputs, column["output_a"], column["output_b"])
    (category,) = _lookup(prompts, prompt)
    return JudgmentArrays(
        id=ids[order],
        comparison=column["comparison"],
        generator_a=generator_a,
        generator_b=generator_b,
        prompt=prompt,
        rater=column["rater"],
        category=category.astype(np.int32),
        preference=rows["preference"].astype(np.int16)[order],
        both_bad=rows["both_bad"].astype(bool)[order],
        left_is_a=rows["left_is_a"].astype(bool)[order],
        duration_ms=rows["duration_ms"].astype(np.int64)[order],
        categories=categories,
        output_a=column["output_a"],
        output_b=column["output_b"],
        revised_us=rows["revised_us"].astype(np.int64)[order],
    )


_CRITERIA_SQL = (
    "SELECT j.id, kv.key, kv.value::int FROM annotations_judgment j "
    "JOIN annotations_comparison c ON c.id = j.comparison_id, jsonb_each(j.criteria) kv "
    "WHERE c.study_id = %(study)s AND j.criteria <> '{}'::jsonb"
)
_FLAGS_SQL = (
    "SELECT j.id, side.key, f.value FROM annotations_judgment j "
    "JOIN annotations_comparison c ON c.id = j.comparison_id, "
    "jsonb_each(j.flags) side, jsonb_array_elements_text(side.value) f "
    "WHERE c.study_id = %(study)s AND j.flags <> '{}'::jsonb "
    "AND jsonb_typeof(side.value) = 'array'"
)


def _criterion_answers(study: Study, filters: ResultsFilters) -> tuple[tuple[int, str, int], ...]:
    where, params = _judgment_conditions(study, filters)
    with connection.cursor() as cursor:
        cursor.execute(_CRITERIA_SQL + where, params)
        return tuple(cursor.fetchall())


def _flag_marks(study: Study, filters: ResultsFilters) -> tuple[tuple[int, str, str], ...]:
    where, params = _judgment_conditions(study, filters)
    with connection.cursor() as cursor:
        cursor.execute(_FLAGS_SQL + where, params)
        return tuple(cursor.fetchall())


def study_output_texts(*, study: Study) -> tuple[npt.NDArray[np.int64], list[str]]:
    """The ids (ascending) and texts of the outputs of `study`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, text FROM annotations_output WHERE study_id = %s ORDER BY id", [study.pk]
        )
        rows = cursor.fetchall()
    return np.array([row[0] for row in rows], dtype=np.int64), [row[1] for row in rows]


def study_outputs_version(*, study: Study) -> str:
    """Changes whenever an output of `study` is added or removed: the loaders refuse to change
    a stored output's text, and ids only grow, so the count and the largest id say it all."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), coalesce(max(id), 0) FROM annotations_output WHERE study_id = %s",
            [study.pk],
        )
        count, last = cursor.fetchone()
    return f"{count}-{last}"


def study_results_inputs(
    *,
    study: Study,
    filters: ResultsFilters = NO_FILTERS,
    output_features: OutputFeatures | None = None,
) -> ResultsInputs:
    """Everything the results of `study` are computed from: the judgments `filters` pick as
    arrays, its generators, rater pseudonyms, criterion answers and flags when the study asks
    for them, and the outputs' style features as given (annotations.analysis.cache reads and
    caches them apart)."""
    arrays = study_judgment_arrays(study=study, filters=filters)
    generators = tuple(
        GeneratorRow(**row)
        for row in Generator.objects.filter(study=study)
        .order_by("name")
        .values("id", "name", "family", "size")
    )
    criterion_labels = dict(Criterion.choices)
    flag_labels = dict(Flag.choices)
    return ResultsInputs(
        slug=study.slug,
        name=study.name,
        generators=generators,
        arrays=arrays,
        rater_pseudonyms={
            rater: rater_pseudonym(study_id=study.pk, user_id=rater)
            for rater in np.unique(arrays.rater).tolist()
        },
        criteria=tuple((c, criterion_labels.get(c, c)) for c in study.criteria),
        criterion_answers=_criterion_answers(study, filters) if study.criteria else (),
        flags=tuple((f, flag_labels.get(f, f)) for f in study.flags),
        flag_marks=_flag_marks(study, filters) if study.flags and len(arrays) else (),
        output_features=output_features,
        judges=tuple(
            (name, study_judgment_arrays(study=study, filters=replace(filters, judge=name)))
            for name in (study_judges(study=study) if filters.judge is None else ())
        ),
    )


_STANDING_VERSION_SQL = (
    "SELECT string_agg(rater_id::text, ',' ORDER BY rater_id) FROM annotations_raterstanding"
    " WHERE study_id = %s AND excluded"
)
_JUDGES_VERSION_SQL = (
    "SELECT count(*), max(j.id), max(j.revised_at) FROM annotations_judgment j"
    " JOIN annotations_comparison c ON c.id = j.comparison_id"
    " WHERE j.rater_id IN (SELECT id FROM annotations_user WHERE username LIKE %s)"
    " AND c.study_id = %s"
)


def study_results_version(*, study: Study) -> str:
    """A fingerprint of what the results depend on: judgments and comparisons, and the
    generators (names, families, sizes). It changes when a judgment arrives.

    Judgments are counted through Comparison.judgment_count, which every writer keeps in step in
    the judgment's own transaction: summing it is an index-only scan of comparison_need, where
    counting the judgments themselves took ~0.5 s at a million. The comparisons' count and
    largest id catch the rare deletion that leaves the sum unchanged.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(judgment_count), 0), count(*), coalesce(max(id), 0) "
            "FROM annotations_comparison WHERE study_id = %s",
            [study.pk],
        )
        count, n_comparisons, last_comparison = cursor.fetchone()
        # A revision (one-level undo) changes a verdict and no count: its time is the signal,
        # found through the small partial index judgment_revised.
        cursor.execute(
            "SELECT max(j.revised_at) FROM annotations_judgment j"
            " JOIN annotations_comparison c ON c.id = j.comparison_id"
            " WHERE j.revised_at IS NOT NULL AND c.study_id = %s",
            [study.pk],
        )
        last_revision = cursor.fetchone()[0]
        cursor.execute(
            "SELECT id, name, family, size FROM annotations_generator WHERE study_id = %s "
            "ORDER BY id",
            [study.pk],
        )
        generators = cursor.fetchall()
        # Exclusions change what counts without a new judgment (and a replacement can bring
        # the sum of counts back to where it was); automatic judges' verdicts count toward
        # nothing. Both are few rows, found by their own indexes.
        cursor.execute(_STANDING_VERSION_SQL, [study.pk])
        excluded = cursor.fetchone()[0]
        cursor.execute(_JUDGES_VERSION_SQL, [JUDGE_PREFIX + "%", study.pk])
        judges = cursor.fetchone()
    digest = hashlib.sha256(
        repr(
            (count, n_comparisons, last_comparison, last_revision, generators, excluded, judges)
        ).encode()
    )
    return f"{count}-{digest.hexdigest()[:16]}"
