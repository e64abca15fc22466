"""A study's results: judgments as numpy arrays for annotations.stats, and the results contract.

The judgments are read with one narrow query that packs every judgment into a fixed-width
binary record on the server, so the result is parsed with a single np.frombuffer and no Python
object is made per judgment; two more narrow queries map outputs to generators and prompts to
categories. JSON columns (criteria, flags) are read by separate queries
that only touch judgments where they are non-empty, and only when the study asks for them.

study_results() returns plain JSON-ready data (the contract of the results page, command, API
and exports) and caches it in Django's default cache under a key that changes whenever a
judgment is added or removed, the generators change, or the options differ.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import psycopg
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from annotations.models import Criterion, Flag, Generator, Study, User
from annotations.selectors.pseudonyms import rater_pseudonym

# The statistics stack (scipy) is imported by the functions that compute, not here: the URL
# configuration imports this module, and a worker that never computes results (exports, rating)
# should not carry scipy's ~80 MB.
if TYPE_CHECKING:
    from annotations import stats

METHODS: dict[str, str] = {
    "bootstrap": "prompt-clustered percentile bootstrap",
    "wilson": "Wilson score interval (judgments taken as independent)",
    "cluster": "cluster-robust standard error by prompt (Miller 2024)",
}
MIN_RESAMPLES = 100
MAX_RESAMPLES = 10_000
DEFAULT_RESAMPLES = 2000
CACHE_SECONDS = 24 * 3600
# Bump when the shape of the results changes, so cached entries of an older shape are ignored.
RESULTS_VERSION = 1

# Judgment records as the server packs them (big-endian: the *send functions are PostgreSQL's
# binary wire encodings); outputs and prompts are mapped to generators and categories in numpy.
# While every id fits in 32 bits (checked before each read) the narrow record is used: it is
# half the bytes to pack, send and parse; the wide one keeps bigger ids exact.
_ID_FIELDS = ("id", "comparison", "output_a", "output_b", "prompt", "rater")


def _judgment_record(id_type: str) -> np.dtype:
    return np.dtype(
        [(name, id_type) for name in _ID_FIELDS]
        + [("preference", ">i2"), ("both_bad", "?"), ("left_is_a", "?"), ("duration_ms", ">i4")]
    )


_NARROW_RECORD = _judgment_record(">i4")
_WIDE_RECORD = _judgment_record(">i8")
_PAIR_RECORD = np.dtype([("key", ">i8"), ("value", ">i8")])

# Each query returns one bytea of fixed-width records, so numpy reads a whole study with one
# np.frombuffer: a cursor or a COPY would hand Python one message per row, which costs more
# than all the statistics at a million judgments. No ORDER BY: sorting in numpy is cheaper than
# a server sort that spills to disk. Outputs and prompts are read on their own because joining
# the wide output table twice per judgment costs the server far more than one narrow scan.
_JUDGMENTS_SQL = """
SELECT string_agg(
    {send}(j.id{cast}) || {send}(c.id{cast}) || {send}(c.output_a_id{cast})
    || {send}(c.output_b_id{cast}) || {send}(c.prompt_id{cast}) || {send}(j.rater_id{cast})
    || int2send(j.preference) || boolsend(j.both_bad) || boolsend(j.left_is_a)
    || int4send(coalesce(j.duration_ms, -1)),
    ''::bytea
)
FROM annotations_judgment j
JOIN annotations_comparison c ON c.id = j.comparison_id
WHERE c.study_id = %(study)s
"""
_NARROW_SQL = _JUDGMENTS_SQL.format(send="int4send", cast="::int4")
_WIDE_SQL = _JUDGMENTS_SQL.format(send="int8send", cast="")
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


@dataclass(frozen=True)
class JudgmentArrays:
    """Every judgment of a study as parallel numpy arrays (canonical a/b orientation).

    generator_a/b, prompt, rater and comparison hold database ids; category holds an index into
    `categories`; duration_ms is -1 where unknown. Judgments follow id order.
    """

    id: npt.NDArray[np.int64]
    comparison: npt.NDArray[np.int64]
    generator_a: npt.NDArray[np.int64]
    generator_b: npt.NDArray[np.int64]
    prompt: npt.NDArray[np.int64]
    rater: npt.NDArray[np.int64]
    category: npt.NDArray[np.int32]
    preference: npt.NDArray[np.int16]
    both_bad: npt.NDArray[np.bool_]
    left_is_a: npt.NDArray[np.bool_]
    duration_ms: npt.NDArray[np.int64]
    categories: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.preference)


def _records(cursor: Any, sql: str, study: Study, dtype: np.dtype) -> npt.NDArray[np.void]:
    # Binary results: a text bytea would arrive hex-encoded, twice the bytes to make, send and
    # decode.
    cursor.execute(sql, {"study": study.pk}, binary=True)
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


def study_judgment_arrays(*, study: Study) -> JudgmentArrays:
    """All judgments of `study` as numpy arrays, in judgment id order (three narrow queries,
    no Python object per row)."""
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
        rows = _records(
            cursor,
            _NARROW_SQL if narrow else _WIDE_SQL,
            study,
            _NARROW_RECORD if narrow else _WIDE_RECORD,
        )
        outputs = _records(cursor, _OUTPUTS_SQL, study, _PAIR_RECORD)
        prompts = _records(cursor, _PROMPTS_SQL, study, _PAIR_RECORD)
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
    )


# ---------------------------------------------------------------------------------------------
# Options and the cache key
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultsOptions:
    """Validated options of a results computation."""

    baseline: Generator
    method: str
    resamples: int
    seed: int
    confidence: float


def _as_int(field: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ValidationError({field: f"must be a whole number, not {value!r}"})
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValidationError({field: f"must be a whole number, not {value!r}"}) from None


def results_options_validate(
    *,
    study: Study,
    baseline: str | None = None,
    method: str | None = None,
    resamples: Any = None,
    seed: Any = None,
    confidence: Any = None,
) -> ResultsOptions:
    """Check the options of a results request; raises ValidationError naming the bad field."""
    errors: dict[str, str] = {}
    generator = study.baseline
    if baseline:
        generator = Generator.objects.filter(study=study, name=baseline).first()
        if generator is None:
            names = list(
                Generator.objects.filter(study=study).order_by("name").values_list("name", flat=1)
            )
            shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
            errors["baseline"] = f"no model named {baseline!r} in study {study.slug!r}; " + (
                f"models: {shown}" if names else "it has no models yet"
            )
    elif generator is None:
        errors["baseline"] = f"study {study.slug!r} has no baseline model"
    method = method or "bootstrap"
    if method not in METHODS:
        errors["method"] = f"unknown method {method!r}; choose from {', '.join(METHODS)}"
    values: dict[str, Any] = {}
    for field, value, default in (
        ("resamples", resamples, DEFAULT_RESAMPLES),
        ("seed", seed, 0),
    ):
        if value is None or value == "":
            values[field] = default
            continue
        try:
            values[field] = _as_int(field, value)
        except ValidationError as exc:
            errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if "resamples" in values and not MIN_RESAMPLES <= values["resamples"] <= MAX_RESAMPLES:
        errors["resamples"] = (
            f"must be between {MIN_RESAMPLES} and {MAX_RESAMPLES}, not {values['resamples']}"
        )
    if "seed" in values and not 0 <= values["seed"] < 2**32:
        errors["seed"] = f"must be between 0 and {2**32 - 1}, not {values['seed']}"
    level = 0.95
    if confidence not in (None, ""):
        try:
            level = float(confidence)
        except (TypeError, ValueError):
            level = math.nan
        if not 0.5 <= level < 1.0:
            errors["confidence"] = (
                f"must be a number from 0.5 up to (not including) 1, not {confidence!r}"
            )
    if errors:
        raise ValidationError(errors)
    assert generator is not None
    return ResultsOptions(
        baseline=generator,
        method=method,
        resamples=values["resamples"],
        seed=values["seed"],
        confidence=level,
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
        cursor.execute(
            "SELECT id, name, family, size FROM annotations_generator WHERE study_id = %s "
            "ORDER BY id",
            [study.pk],
        )
        generators = cursor.fetchall()
    digest = hashlib.sha256(repr((count, n_comparisons, last_comparison, generators)).encode())
    return f"{count}-{digest.hexdigest()[:16]}"


def _cache_key(study: Study, version: str, options: ResultsOptions) -> str:
    return (
        f"results:v{RESULTS_VERSION}:{study.pk}:{version}:{options.baseline.pk}:"
        f"{options.method}:{options.resamples}:{options.seed}:{options.confidence}"
    )


# ---------------------------------------------------------------------------------------------
# Computation
# ---------------------------------------------------------------------------------------------


def _num(value: float) -> float | None:
    """JSON has no NaN: missing numbers are null."""
    return None if value is None or not math.isfinite(value) else float(value)


def _win_row(name: str, w: stats.WinRate) -> dict[str, Any]:
    return {
        "name": name,
        "n": w.n,
        "wins": w.wins,
        "ties": w.ties,
        "losses": w.losses,
        "both_bad": w.both_bad,
        "win_rate": _num(w.win_rate),
        "win_rate_no_ties": _num(w.win_rate_ties_dropped),
        "ci_low": _num(w.ci_low),
        "ci_high": _num(w.ci_high),
        "se": _num(w.se),
        "p_value": _num(w.p_value),
        "p_value_method": w.p_value_method,
        "method": w.method,
        "n_prompts": w.n_clusters,
        "n_resamples": w.n_resamples,
    }


def _sort_key(row: dict[str, Any]) -> tuple[float, str]:
    rate = row.get("win_rate")
    return (-(rate if rate is not None else -1.0), row["name"])


class _Names:
    """Generator ids -> codes in name order (stable seeds for each generator's bootstrap)."""

    def __init__(self, study: Study) -> None:
        rows = list(
            Generator.objects.filter(study=study)
            .order_by("name")
            .values("id", "name", "family", "size")
        )
        self.rows = rows
        self.names = [r["name"] for r in rows]
        ids = np.array([r["id"] for r in rows], dtype=np.int64)
        self._order = np.argsort(ids)
        self._ids = ids[self._order]

    def codes(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return self._order[np.searchsorted(self._ids, ids)]

    def code(self, generator_id: int) -> int:
        return int(self.codes(np.array([generator_id], dtype=np.int64))[0])


def _vs_baseline(
    arrays: JudgmentArrays, names: _Names, baseline_code: int
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Which judgments involve the baseline, the candidate of each, and whether the candidate
    is output_a (then the stored preference is already from the candidate's side)."""
    code_a = names.codes(arrays.generator_a)
    code_b = names.codes(arrays.generator_b)
    base_b = code_b == baseline_code
    base_a = code_a == baseline_code
    involved = base_a | base_b
    candidate_is_a = base_b[involved]
    candidate = np.where(candidate_is_a, code_a[involved], code_b[involved])
    return involved, candidate, candidate_is_a


def _group_rows(estimates: dict[Hashable, stats.WinRate], label: Any) -> list[dict[str, Any]]:
    return sorted((_win_row(label(k), w) for k, w in estimates.items()), key=_sort_key)


def _criteria_rows(
    study: Study,
    arrays: JudgmentArrays,
    names: _Names,
    involved: npt.NDArray[np.bool_],
    candidate: npt.NDArray[np.int64],
    candidate_is_a: npt.NDArray[np.bool_],
    options: ResultsOptions,
) -> list[dict[str, Any]]:
    from annotations import stats

    if not study.criteria:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT j.id, kv.key, kv.value::int FROM annotations_judgment j "
            "JOIN annotations_comparison c ON c.id = j.comparison_id, jsonb_each(j.criteria) kv "
            "WHERE c.study_id = %s AND j.criteria <> '{}'::jsonb",
            [study.pk],
        )
        answers = [(int(np.searchsorted(arrays.id, j)), k, v) for j, k, v in cursor.fetchall()]
    position = np.full(len(arrays), -1, dtype=np.int64)
    position[np.flatnonzero(involved)] = np.arange(int(involved.sum()))
    out = []
    labels = dict(Criterion.choices)
    for criterion in study.criteria:
        picked = [(rn, v) for rn, k, v in answers if k == criterion]
        if not picked:
            continue
        rn = np.array([p[0] for p in picked], dtype=np.int64)
        value = np.array([p[1] for p in picked], dtype=np.float64)
        at = position[rn]
        keep = at >= 0
        rn, value, at = rn[keep], value[keep], at[keep]
        if not len(rn):
            continue
        signed = np.where(candidate_is_a[at], value, -value)
        estimates = stats.win_rates_by_group(
            scores=stats.score_from_preference(preference=signed),
            groups=candidate[at],
            clusters=arrays.prompt[rn],
            method=options.method,  # type: ignore[arg-type]
            confidence=options.confidence,
            n_resamples=options.resamples,
            seed=options.seed,
        )
        out.append(
            {
                "criterion": criterion,
                "label": labels.get(criterion, criterion),
                "generators": _group_rows(estimates, lambda k: names.names[int(k)]),
            }
        )
    return out


def _flag_rows(
    study: Study, arrays: JudgmentArrays, names: _Names, confidence: float
) -> list[dict[str, Any]]:
    from annotations import stats

    if not study.flags or not len(arrays):
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT j.id, side.key, f.value FROM annotations_judgment j "
            "JOIN annotations_comparison c ON c.id = j.comparison_id, "
            "jsonb_each(j.flags) side, jsonb_array_elements_text(side.value) f "
            "WHERE c.study_id = %s AND j.flags <> '{}'::jsonb "
            "AND jsonb_typeof(side.value) = 'array'",
            [study.pk],
        )
        marks = [(int(np.searchsorted(arrays.id, j)), k, v) for j, k, v in cursor.fetchall()]
    code_a = names.codes(arrays.generator_a)
    code_b = names.codes(arrays.generator_b)
    g_count = len(names.names)
    # n: every output shown in a judgment of this study is an output that could be flagged.
    shown = np.bincount(code_a, minlength=g_count) + np.bincount(code_b, minlength=g_count)
    labels = dict(Flag.choices)
    out = []
    for flag in study.flags:
        rows = [(rn, side) for rn, side, value in marks if value == flag and side in ("a", "b")]
        rn = np.array([r[0] for r in rows], dtype=np.int64)
        on_a = np.array([r[1] == "a" for r in rows], dtype=bool)
        flagged_gen = np.where(on_a, code_a[rn], code_b[rn]) if len(rn) else np.zeros(0, int)
        k = np.bincount(flagged_gen, minlength=g_count)
        generators = []
        for code in np.flatnonzero(shown):
            p = stats.proportion_estimate(k=int(k[code]), n=int(shown[code]), confidence=confidence)
            generators.append(
                {
                    "name": names.names[code],
                    "k": p.k,
                    "n": p.n,
                    "rate": _num(p.rate),
                    "ci_low": _num(p.ci_low),
                    "ci_high": _num(p.ci_high),
                    "method": "wilson",
                }
            )
        generators.sort(key=lambda r: (-(r["rate"] or 0.0), r["name"]))
        out.append({"flag": flag, "label": labels.get(flag, flag), "generators": generators})
    return out


def _agreement_and_raters(
    study: Study, arrays: JudgmentArrays, confidence: float
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    from annotations import stats

    outcome = np.sign(arrays.preference).astype(np.int64)
    pseudonym = {
        int(r): rater_pseudonym(study_id=study.pk, user_id=int(r)) for r in np.unique(arrays.rater)
    }
    agreement = stats.agreement_measure(
        items=arrays.comparison, raters=arrays.rater, labels=outcome, tie_label=0
    )
    agreement_out = {
        "labels": "outcome of each judgment: output a better, tie (both bad included), b better",
        "n_comparisons": agreement.n_items,
        "n_judgments": agreement.n_ratings,
        "n_pairs": agreement.n_pairs,
        "pairwise_agreement": _num(agreement.pairwise_agreement),
        "n_pairs_without_ties": agreement.n_pairs_without_ties,
        "pairwise_agreement_without_ties": _num(agreement.pairwise_agreement_without_ties),
        "n_rater_pairs": len(agreement.cohen_kappa_by_pair),
        "mean_cohen_kappa": _num(agreement.mean_cohen_kappa),
        "fleiss_kappa": _num(agreement.fleiss_kappa),
        "krippendorff_alpha_ordinal": _num(agreement.krippendorff_alpha_ordinal),
        "krippendorff_alpha_nominal": _num(agreement.krippendorff_alpha_nominal),
        "method": (
            "over comparisons with two or more judgments: raw pairwise agreement with and "
            "without ties, Cohen's kappa per overlapping rater pair (mean shown), Fleiss' kappa, "
            "Krippendorff's alpha"
        ),
    }

    chose_left = (outcome > 0) == arrays.left_is_a
    bias = stats.position_bias_test(
        chose_left=chose_left, raters=arrays.rater, is_tie=outcome == 0, confidence=confidence
    )
    overall = bias.overall
    position_out = {
        "n": overall.n,
        "n_left": overall.n_left,
        "share_left": _num(overall.share_left),
        "ci_low": _num(overall.ci_low),
        "ci_high": _num(overall.ci_high),
        "p_value": _num(overall.p_value),
        "p_value_method": overall.p_value_method,
        "method": "share of non-tie judgments that chose the left output; Wilson CI",
        "by_rater": [
            {
                "rater": pseudonym[int(row.rater)],
                "n": row.n,
                "n_left": row.n_left,
                "share_left": _num(row.share_left),
                "p_value": _num(row.p_value),
            }
            for row in bias.by_rater
        ],
    }

    # Per rater: agreement with the others = matches over all pairs of ratings they are part of.
    matches: dict[int, float] = {}
    pairs: dict[int, int] = {}
    kappas: dict[int, list[float]] = {}
    for pair in agreement.cohen_kappa_by_pair:
        for rater in (int(pair.rater_a), int(pair.rater_b)):
            matches[rater] = matches.get(rater, 0.0) + pair.agreement * pair.n_items
            pairs[rater] = pairs.get(rater, 0) + pair.n_items
            if math.isfinite(pair.kappa):
                kappas.setdefault(rater, []).append(pair.kappa)
    by_rater_bias = {int(row.rater): row for row in bias.by_rater}
    labels, codes = np.unique(arrays.rater, return_inverse=True)
    counts = np.bincount(codes, minlength=len(labels))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(labels) + 1))
    raters = []
    for i, rater in enumerate(labels.tolist()):
        durations = arrays.duration_ms[order[bounds[i] : bounds[i + 1]]]
        durations = durations[durations >= 0]
        row_bias = by_rater_bias.get(rater)
        raters.append(
            {
                "rater": pseudonym[rater],
                "n": int(counts[i]),
                "median_seconds": _num(float(np.median(durations)) / 1000.0)
                if len(durations)
                else None,
                "n_timed": len(durations),
                "n_non_tie": row_bias.n if row_bias else 0,
                "left_share": _num(row_bias.share_left) if row_bias else None,
                "left_p_value": _num(row_bias.p_value) if row_bias else None,
                "agreement": _num(matches[rater] / pairs[rater]) if pairs.get(rater) else None,
                "agreement_pairs": pairs.get(rater, 0),
                "mean_cohen_kappa": _num(float(np.mean(kappas[rater])))
                if kappas.get(rater)
                else None,
            }
        )
    raters.sort(key=lambda r: (-r["n"], r["rater"]))
    return agreement_out, position_out, raters


def study_results_compute(
    *, study: Study, options: ResultsOptions, arrays: JudgmentArrays | None = None
) -> dict[str, Any]:
    """The results of `study` (no cache): see study_results for the contract."""
    if arrays is None:
        arrays = study_judgment_arrays(study=study)
    # Agreement, position bias and the raters table touch no database and spend their time in
    # numpy code that releases the GIL, so a second thread computes them while the win rates
    # and Bradley-Terry run: the same numbers, with both cores busy.
    with ThreadPoolExecutor(max_workers=1) as pool:
        side = pool.submit(_agreement_and_raters, study, arrays, options.confidence)
        return _results_compute(study, options, arrays, side)


def _results_compute(
    study: Study,
    options: ResultsOptions,
    arrays: JudgmentArrays,
    side: Future[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]],
) -> dict[str, Any]:
    from annotations import stats

    names = _Names(study)
    baseline_code = names.code(options.baseline.pk)
    involved, candidate, candidate_is_a = _vs_baseline(arrays, names, baseline_code)
    signed = np.where(candidate_is_a, arrays.preference[involved], -arrays.preference[involved])
    scores = stats.score_from_preference(preference=signed)
    clusters = arrays.prompt[involved]
    both_bad = arrays.both_bad[involved]
    common = {
        "method": options.method,
        "confidence": options.confidence,
        "n_resamples": options.resamples,
        "seed": options.seed,
    }
    by_generator = stats.win_rates_by_group(
        scores=scores, groups=candidate, clusters=clusters, both_bad=both_bad, **common
    )
    meta = {r["name"]: r for r in names.rows}
    generators = _group_rows(by_generator, lambda k: names.names[int(k)])
    for row in generators:
        row["family"] = meta[row["name"]]["family"]
        row["size"] = meta[row["name"]]["size"]

    n_categories = len(arrays.categories)
    categories = []
    if n_categories > 1 or (n_categories == 1 and arrays.categories[0]):
        category = arrays.category[involved].astype(np.int64)
        pooled = stats.win_rates_by_group(
            scores=scores, groups=category, clusters=clusters, both_bad=both_bad, **common
        )
        split = stats.win_rates_by_group(
            scores=scores,
            groups=category * len(names.names) + candidate,
            clusters=clusters,
            both_bad=both_bad,
            **common,
        )
        for code, pooled_rate in sorted(pooled.items()):
            rows = {
                int(k) % len(names.names): w
                for k, w in split.items()
                if int(k) // len(names.names) == code
            }
            categories.append(
                {
                    "category": arrays.categories[int(code)] or "(none)",
                    "all": _win_row("all models", pooled_rate),
                    "generators": _group_rows(rows, lambda k: names.names[int(k)]),
                }
            )

    bradley_terry: list[dict[str, Any]] = []
    bt_info: dict[str, Any] = {}
    if len(arrays):
        fit = stats.bradley_terry_fit(
            first=names.codes(arrays.generator_a),
            second=names.codes(arrays.generator_b),
            scores=stats.score_from_preference(preference=arrays.preference),
            baseline=baseline_code,
            clusters=arrays.prompt,
            generators=np.arange(len(names.names)),
            confidence=options.confidence,
            n_resamples=options.resamples,
            seed=options.seed,
        )
        for row in fit.ratings:
            if row.n_comparisons == 0:
                continue
            bradley_terry.append(
                {
                    "name": names.names[int(row.generator)],
                    "rating": _num(row.rating),
                    "ci_low": _num(row.ci_low),
                    "ci_high": _num(row.ci_high),
                    "n": row.n_comparisons,
                    "connected": row.connected,
                }
            )
        bradley_terry.sort(
            key=lambda r: (-(r["rating"] if r["rating"] is not None else -1e9), r["name"])
        )
        bt_info = {
            "method": fit.method,
            "scale": "Elo: P(i beats j) = 1 / (1 + 10^((R_j - R_i) / 400)); baseline at 1000",
            "n_judgments": fit.n_judgments,
            "n_prompts": fit.n_clusters,
            "n_resamples": fit.n_resamples,
            "confidence": fit.confidence,
        }

    agreement, position_bias, raters = side.result()
    return {
        "study": study.slug,
        "study_name": study.name,
        "baseline": options.baseline.name,
        "method": options.method,
        "method_description": METHODS[options.method],
        "confidence": options.confidence,
        "resamples": options.resamples if options.method == "bootstrap" else 0,
        "seed": options.seed,
        "n_judgments": len(arrays),
        "n_judgments_vs_baseline": int(involved.sum()),
        "computed_at": timezone.now().isoformat(),
        "note": "" if len(arrays) else "This study has no judgments yet.",
        "generators": generators,
        "bradley_terry": bradley_terry,
        "bradley_terry_method": bt_info,
        "categories": categories,
        "criteria": _criteria_rows(
            study, arrays, names, involved, candidate, candidate_is_a, options
        ),
        "flags": _flag_rows(study, arrays, names, options.confidence),
        "agreement": agreement,
        "position_bias": position_bias,
        "raters": raters,
    }


def study_results(
    *,
    study: Study,
    baseline: str | None = None,
    method: str = "bootstrap",
    resamples: int | str = DEFAULT_RESAMPLES,
    seed: int | str = 0,
    confidence: float | str = 0.95,
) -> dict[str, Any]:
    """Win rates against the baseline with CIs, Bradley-Terry ratings, breakdowns, agreement,
    position bias and the raters table of `study`, as JSON-ready data.

    Raises ValidationError for bad options (unknown baseline or method, resamples out of
    range). A study without judgments gives the same shape with empty tables and a note.
    Cached in Django's default cache until a judgment is added or removed.
    """
    options = results_options_validate(
        study=study,
        baseline=baseline,
        method=method,
        resamples=resamples,
        seed=seed,
        confidence=confidence,
    )
    return study_results_for_options(study=study, options=options)


def study_results_for_options(*, study: Study, options: ResultsOptions) -> dict[str, Any]:
    """study_results with options already validated (cached)."""
    version = study_results_version(study=study)
    key = _cache_key(study, version, options)
    results = cache.get(key)
    if results is None:
        results = study_results_compute(study=study, options=options)
        # What the numbers were computed from: pages poll it to learn of new judgments.
        results["version"] = version
        cache.set(key, results, CACHE_SECONDS)
    return results
