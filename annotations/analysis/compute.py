"""The results of a study computed from its judgment arrays: a pure function, no queries.

results_compute() turns what annotations.selectors.results read into the JSON-ready results
contract of the results page, command, API and exports. It touches no database, so it can be
tested with hand-built arrays; annotations.analysis.cache reads, computes and caches.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

# The package loads scipy on the first use of a name, not here: the URL configuration imports
# this module, and a worker that never computes results (exports, judging) should not carry it.
from annotations import stats
from annotations.analysis.inputs import NO_CATEGORY, GeneratorRow, JudgmentArrays, ResultsInputs
from annotations.analysis.judges import judge_agreement
from annotations.analysis.length_style import length_and_style, length_controlled_apply
from annotations.analysis.options import (
    BT_CI_METHODS,
    METHODS,
    ResultsOptions,
    results_filters_describe,
    results_options_describe,
)

# What the fingerprint hashes per judgment, in id order: the id, the verdict counted and the
# revision time (microseconds since the epoch, -1 if never revised), little-endian, packed.
FINGERPRINT_RECORD = np.dtype([("id", "<i8"), ("preference", "<i2"), ("revised_us", "<i8")])


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


def _bound(value: float | None) -> float:
    return math.nan if value is None else value


def _ranks_add(rows: list[dict[str, Any]]) -> None:
    """`rank`: 1 + how many rows' intervals lie wholly above this one's (ties share a rank)."""
    ranks = stats.ci_aware_ranks(
        ci_low=[_bound(r["ci_low"]) for r in rows], ci_high=[_bound(r["ci_high"]) for r in rows]
    )
    for row, rank in zip(rows, ranks, strict=True):
        row["rank"] = int(rank)


def _honesty_add(rows: list[dict[str, Any]]) -> None:
    """CI-aware ranks, Holm-adjusted p-values over the models, and `reliable` on each row."""
    _ranks_add(rows)
    holm = stats.holm_adjust(p_values=[_bound(r["p_value"]) for r in rows])
    for row, p_holm in zip(rows, holm, strict=True):
        row["p_value_holm"] = _num(p_holm)
        row["reliable"] = (
            row["n"] >= stats.MIN_RELIABLE_JUDGMENTS
            and row["n_prompts"] >= stats.MIN_RELIABLE_PROMPTS
        )


class _Names:
    """Generator ids -> codes in name order (stable seeds for each generator's bootstrap)."""

    def __init__(self, generators: tuple[GeneratorRow, ...]) -> None:
        self.rows = generators
        self.names = [g.name for g in generators]
        ids = np.array([g.id for g in generators], dtype=np.int64)
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


def _judge_rows(
    inputs: ResultsInputs, names: _Names, baseline_code: int, common: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each automatic judge against the human raters (annotations.analysis.judges), with the
    judge's own win rates against the baseline, computed as the humans' are."""
    rows = []
    for judge, arrays in inputs.judges:
        generators: list[dict[str, Any]] = []
        if len(arrays):
            involved, candidate, candidate_is_a = _vs_baseline(arrays, names, baseline_code)
            preference = arrays.preference[involved]
            signed = np.where(candidate_is_a, preference, -preference)
            rates = stats.win_rates_by_group(
                scores=stats.score_from_preference(preference=signed),
                groups=candidate,
                clusters=arrays.prompt[involved],
                both_bad=arrays.both_bad[involved],
                **common,
            )
            generators = [
                {key: row[key] for key in ("name", "n", "win_rate", "ci_low", "ci_high")}
                for row in _group_rows(rates, lambda k: names.names[int(k)])
            ]
        rows.append(
            {
                "judge": judge,
                **judge_agreement(humans=inputs.arrays, judge=arrays),
                "generators": generators,
            }
        )
    return rows


def _group_rows(estimates: dict[Hashable, stats.WinRate], label: Any) -> list[dict[str, Any]]:
    return sorted((_win_row(label(k), w) for k, w in estimates.items()), key=_sort_key)


def _criteria_rows(
    inputs: ResultsInputs,
    names: _Names,
    involved: npt.NDArray[np.bool_],
    candidate: npt.NDArray[np.int64],
    candidate_is_a: npt.NDArray[np.bool_],
    options: ResultsOptions,
) -> list[dict[str, Any]]:
    if not inputs.criteria:
        return []
    arrays = inputs.arrays
    answers = [(int(np.searchsorted(arrays.id, j)), k, v) for j, k, v in inputs.criterion_answers]
    position = np.full(len(arrays), -1, dtype=np.int64)
    position[np.flatnonzero(involved)] = np.arange(int(involved.sum()))
    out = []
    for criterion, label in inputs.criteria:
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
                "label": label,
                "generators": _group_rows(estimates, lambda k: names.names[int(k)]),
            }
        )
    return out


def _flag_rows(inputs: ResultsInputs, names: _Names, confidence: float) -> list[dict[str, Any]]:
    arrays = inputs.arrays
    if not inputs.flags or not len(arrays):
        return []
    marks = [(int(np.searchsorted(arrays.id, j)), k, v) for j, k, v in inputs.flag_marks]
    code_a = names.codes(arrays.generator_a)
    code_b = names.codes(arrays.generator_b)
    g_count = len(names.names)
    # n: every output shown in a judgment of this study is an output that could be flagged.
    shown = np.bincount(code_a, minlength=g_count) + np.bincount(code_b, minlength=g_count)
    out = []
    for flag, label in inputs.flags:
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
        out.append({"flag": flag, "label": label, "generators": generators})
    return out


def _agreement_and_raters(
    inputs: ResultsInputs, confidence: float
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    arrays = inputs.arrays
    outcome = np.sign(arrays.preference).astype(np.int64)
    pseudonym = inputs.rater_pseudonyms
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
        "cohen_kappa_by_pair": [
            {
                "rater_a": pseudonym[int(pair.rater_a)],
                "rater_b": pseudonym[int(pair.rater_b)],
                "n": pair.n_items,
                "kappa": _num(pair.kappa),
            }
            for pair in agreement.cohen_kappa_by_pair
        ],
        "fleiss_kappa": _num(agreement.fleiss_kappa),
        "krippendorff_alpha_ordinal": _num(agreement.krippendorff_alpha_ordinal),
        "krippendorff_alpha_nominal": _num(agreement.krippendorff_alpha_nominal),
        "method": (
            "over comparisons with two or more judgments: raw pairwise agreement with and "
            "without ties, Cohen's kappa per overlapping rater pair (each, and their mean), "
            "Fleiss' kappa, Krippendorff's alpha"
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


def results_fingerprint(
    *, arrays: JudgmentArrays, parameters: dict[str, Any], software_version: str
) -> dict[str, Any]:
    """What a number in the results was computed from, to trace it back: the judgments counted
    (their number and a SHA-256 over FINGERPRINT_RECORD records in id order), the parameters
    and the software version, and one SHA-256 over all of it (`sha256`)."""
    order = np.argsort(arrays.id, kind="stable")
    records = np.empty(len(arrays), dtype=FINGERPRINT_RECORD)
    records["id"] = arrays.id[order]
    records["preference"] = arrays.preference[order]
    revised = arrays.revised_us
    records["revised_us"] = -1 if revised is None else revised[order]
    judgments = hashlib.sha256(records.tobytes()).hexdigest()
    described = {
        "n_judgments": len(arrays),
        "judgments_sha256": judgments,
        "parameters": parameters,
        "software_version": software_version,
    }
    whole = hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()
    return {**described, "sha256": whole}


def results_compute(
    *,
    inputs: ResultsInputs,
    options: ResultsOptions,
    computed_at: str,
    software_version: str = "",
) -> dict[str, Any]:
    """The results contract (see annotations.analysis.cache.study_results) from what was read.

    computed_at is stored as given, so the same inputs and options give the same dict.
    software_version goes into the fingerprint.
    """
    # Agreement, position bias, the raters table and the length and style sections touch no
    # database and spend their time in numpy code that releases the GIL, so a second thread
    # computes them while the win rates and Bradley-Terry run: the same numbers, with both
    # cores busy.
    with ThreadPoolExecutor(max_workers=1) as pool:
        side = pool.submit(_agreement_and_raters, inputs, options.confidence)
        results = _results_compute(inputs, options, pool, side, computed_at)
    parameters = {
        "study": inputs.slug,
        "baseline": results["baseline"],
        **{
            k: v for k, v in results_options_describe(options=options).items() if k != "baseline_id"
        },
    }
    results["fingerprint"] = results_fingerprint(
        arrays=inputs.arrays, parameters=parameters, software_version=software_version
    )
    return results


def _results_compute(
    inputs: ResultsInputs,
    options: ResultsOptions,
    pool: ThreadPoolExecutor,
    side: Future[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]],
    computed_at: str,
) -> dict[str, Any]:
    arrays = inputs.arrays
    names = _Names(inputs.generators)
    baseline_code = names.code(options.baseline_id)
    involved, candidate, candidate_is_a = _vs_baseline(arrays, names, baseline_code)
    signed = np.where(candidate_is_a, arrays.preference[involved], -arrays.preference[involved])
    scores = stats.score_from_preference(preference=signed)
    clusters = arrays.prompt[involved]
    both_bad = arrays.both_bad[involved]
    first, second = names.codes(arrays.generator_a), names.codes(arrays.generator_b)
    all_scores = stats.score_from_preference(preference=arrays.preference)
    styled = pool.submit(
        length_and_style,
        inputs=inputs,
        first=first,
        second=second,
        all_scores=all_scores,
        involved=involved,
        candidate=candidate,
        candidate_is_a=candidate_is_a,
        scores=scores,
        baseline=baseline_code,
        name=names.names.__getitem__,
        confidence=options.confidence,
    )
    common = {
        "method": options.method,
        "confidence": options.confidence,
        "n_resamples": options.resamples,
        "seed": options.seed,
    }
    by_generator = stats.win_rates_by_group(
        scores=scores, groups=candidate, clusters=clusters, both_bad=both_bad, **common
    )
    meta = {g.name: g for g in names.rows}
    generators = _group_rows(by_generator, lambda k: names.names[int(k)])
    for row in generators:
        row["family"] = meta[row["name"]].family
        row["size"] = meta[row["name"]].size
    _honesty_add(generators)

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
                    "category": arrays.categories[int(code)] or NO_CATEGORY,
                    "all": _win_row("all models", pooled_rate),
                    "generators": _group_rows(rows, lambda k: names.names[int(k)]),
                }
            )

    bradley_terry: list[dict[str, Any]] = []
    bt_info: dict[str, Any] = {}
    if len(arrays):
        fit = stats.bradley_terry_fit(
            first=first,
            second=second,
            scores=all_scores,
            baseline=baseline_code,
            clusters=arrays.prompt,
            generators=np.arange(len(names.names)),
            confidence=options.confidence,
            n_resamples=options.resamples,
            seed=options.seed,
            ci=options.bt_ci,
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
        _ranks_add(bradley_terry)
        bt_info = {
            "method": fit.method,
            "scale": "Elo: P(i beats j) = 1 / (1 + 10^((R_j - R_i) / 400)); baseline at 1000",
            "n_judgments": fit.n_judgments,
            "n_prompts": fit.n_clusters,
            "n_resamples": fit.n_resamples,
            "confidence": fit.confidence,
            "ci": fit.ci,
            "ci_description": BT_CI_METHODS[fit.ci],
        }

    agreement, position_bias, raters = side.result()
    length_style = styled.result()
    length_controlled_apply(generators, length_style.pop("lc_estimates"))
    _ranks_add(length_style["bradley_terry_style_controlled"])
    return {
        "study": inputs.slug,
        "study_name": inputs.name,
        "baseline": names.names[baseline_code],
        "method": options.method,
        "method_description": METHODS[options.method],
        "confidence": options.confidence,
        "resamples": options.resamples if options.method == "bootstrap" else 0,
        "seed": options.seed,
        "bt_ci": options.bt_ci,
        "filters": results_filters_describe(filters=options.filters),
        "n_judgments": len(arrays),
        "n_judgments_vs_baseline": int(involved.sum()),
        "computed_at": computed_at,
        "note": "" if len(arrays) else "This study has no judgments yet.",
        "generators": generators,
        "bradley_terry": bradley_terry,
        "bradley_terry_method": bt_info,
        **length_style,
        "categories": categories,
        "criteria": _criteria_rows(inputs, names, involved, candidate, candidate_is_a, options),
        "flags": _flag_rows(inputs, names, options.confidence),
        "agreement": agreement,
        "position_bias": position_bias,
        "raters": raters,
        "judges": _judge_rows(inputs, names, baseline_code, common),
        "judges_method": (
            "each automatic judge against the human raters on the comparisons both judged: "
            "agreement with the human majority (more than half of a comparison's human "
            "judgments) with and without ties, as MT-Bench counts it, and Cohen's kappa"
        ),
    }
