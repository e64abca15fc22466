"""The length and style sections of the results: length bias, length-controlled win rates and
the style-controlled Bradley-Terry, from judgment arrays and the outputs' style features (pure).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from annotations import stats
from annotations.analysis.inputs import OutputFeatures, ResultsInputs

LENGTH_BIAS_METHOD = (
    "share of non-tie judgments won by the longer output (in words; equally long pairs left "
    "out), overall and per model (a judgment counts for both of its models); Wilson CI"
)
STYLE_FEATURE_DESCRIPTIONS = {
    "length": "words (whitespace-separated)",
    "headers": "markdown headers (# to ######) outside fenced code",
    "lists": "ordered and unordered list items outside fenced code",
    "bold": "bold spans (**...** or __...__) outside fenced code",
}


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass(frozen=True)
class JudgmentStyle:
    """Style features of both outputs of each judgment (rows follow the judgment arrays)."""

    first: npt.NDArray[np.int64]
    second: npt.NDArray[np.int64]

    @property
    def length_first(self) -> npt.NDArray[np.int64]:
        return self.first[:, 0]

    @property
    def length_second(self) -> npt.NDArray[np.int64]:
        return self.second[:, 0]


def judgment_style(inputs: ResultsInputs) -> JudgmentStyle | None:
    """Each judgment's two outputs' features, or None when the inputs carry none."""
    arrays, features = inputs.arrays, inputs.output_features
    if features is None or arrays.output_a is None or arrays.output_b is None:
        return None
    return JudgmentStyle(first=features.of(arrays.output_a), second=features.of(arrays.output_b))


def _bias_row(row: stats.LengthBias) -> dict[str, Any]:
    return {
        "n": row.n,
        "n_longer_won": row.n_longer_won,
        "share_longer_won": _num(row.share_longer_won),
        "ci_low": _num(row.ci_low),
        "ci_high": _num(row.ci_high),
        "p_value": _num(row.p_value),
    }


def length_bias_rows(
    style: JudgmentStyle | None,
    first: npt.NDArray[np.int64],
    second: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    name: Callable[[int], str],
    confidence: float,
) -> dict[str, Any]:
    """`length_bias`: overall and per model (first/second are generator codes)."""
    if style is None:
        empty = dict.fromkeys(("share_longer_won", "ci_low", "ci_high", "p_value"))
        return {"n": 0, "n_longer_won": 0, **empty, "by_generator": []}
    report = stats.length_bias_test(
        length_first=style.length_first,
        length_second=style.length_second,
        scores=scores,
        first=first,
        second=second,
        confidence=confidence,
    )
    by_generator = [
        {"name": name(int(row.generator)), **_bias_row(row)} for row in report.by_generator
    ]
    by_generator.sort(key=lambda r: (-(r["share_longer_won"] or 0.0), r["name"]))
    return {
        **_bias_row(report.overall),
        "p_value_method": report.overall.p_value_method,
        "n_ties": report.n_ties,
        "n_same_length": report.n_same_length,
        "length": stats.LENGTH_UNIT,
        "method": LENGTH_BIAS_METHOD,
        "by_generator": by_generator,
    }


def length_controlled_fit(
    style: JudgmentStyle | None,
    involved: npt.NDArray[np.bool_],
    candidate: npt.NDArray[np.int64],
    candidate_is_a: npt.NDArray[np.bool_],
    scores: npt.NDArray[np.float64],
    inputs: ResultsInputs,
    name: Callable[[int], str],
    confidence: float,
) -> tuple[dict[str, dict[str, float | None]], dict[str, Any]]:
    """Each candidate's lc_win_rate, lc_ci_low and lc_ci_high against the baseline (by name),
    and `length_controlled_method`: the method and the length coefficient all models share."""
    estimates: dict[str, dict[str, float | None]] = {}
    info: dict[str, Any] = {
        "method": stats.LC_METHOD,
        "length": stats.LENGTH_UNIT,
        "ties": "count half: the score (1 win, 0.5 tie or both bad, 0 loss) is a fractional "
        "outcome of the logistic regression, as in the raw win rate",
        "ci": "prompt-clustered sandwich, on the logit scale",
        "confidence": confidence,
    }
    if style is None or not len(candidate):
        return estimates, info
    mine_first = style.length_first[involved]
    mine_second = style.length_second[involved]
    fit = stats.length_controlled_win_rates(
        scores=scores,
        length_candidate=np.where(candidate_is_a, mine_first, mine_second),
        length_baseline=np.where(candidate_is_a, mine_second, mine_first),
        groups=candidate,
        clusters=inputs.arrays.prompt[involved],
        items=inputs.arrays.comparison[involved],
        confidence=confidence,
    )
    for code, row in fit.by_group.items():
        estimates[name(int(code))] = {
            "lc_win_rate": _num(row.win_rate),
            "lc_ci_low": _num(row.ci_low),
            "lc_ci_high": _num(row.ci_high),
        }
    info.update(
        {
            # phi: logit per unit of tanh(length difference / length_scale), for all models
            "length_coefficient": _num(fit.length_coefficient),
            "length_coefficient_se": _num(fit.length_coefficient_se),
            "length_scale": _num(fit.length_scale),
            "n_judgments": fit.n,
            "n_prompts": fit.n_clusters,
        }
    )
    return estimates, info


def length_controlled_apply(
    rows: list[dict[str, Any]], estimates: dict[str, dict[str, float | None]]
) -> None:
    """Put lc_win_rate, lc_ci_low and lc_ci_high on each generator row (null without one)."""
    empty = dict.fromkeys(("lc_win_rate", "lc_ci_low", "lc_ci_high"))
    for row in rows:
        row.update(estimates.get(row["name"], empty))


def style_controlled_rows(
    style: JudgmentStyle | None,
    first: npt.NDArray[np.int64],
    second: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    inputs: ResultsInputs,
    baseline: int,
    n_generators: int,
    name: Callable[[int], str],
    confidence: float,
) -> tuple[list[dict[str, Any]], dict[str, float | None], dict[str, Any]]:
    """`bradley_terry_style_controlled` rows, `style_coefficients` and the method's details."""
    if style is None or not len(scores):
        return [], {feature: None for feature in stats.STYLE_FEATURES}, {}
    fit = stats.bradley_terry_style_fit(
        first=first,
        second=second,
        scores=scores,
        features_first=style.first,
        features_second=style.second,
        baseline=baseline,
        clusters=inputs.arrays.prompt,
        items=inputs.arrays.comparison,
        generators=np.arange(n_generators),
        confidence=confidence,
    )
    rows = [
        {
            "name": name(int(row.generator)),
            "rating": _num(row.rating),
            "ci_low": _num(row.ci_low),
            "ci_high": _num(row.ci_high),
            "n": row.n_comparisons,
        }
        for row in fit.ratings
        if row.n_comparisons > 0
    ]
    rows.sort(key=lambda r: (-(r["rating"] if r["rating"] is not None else -1e9), r["name"]))
    coefficients = {c.feature: _num(c.coefficient) for c in fit.coefficients}
    method = {
        "method": fit.method,
        "scale": "Elo, baseline at 1000: the ratings between outputs of equal style",
        "ci": "prompt-clustered sandwich",
        "confidence": fit.confidence,
        "n_judgments": fit.n_judgments,
        "n_prompts": fit.n_clusters,
        "features": STYLE_FEATURE_DESCRIPTIONS,
        "coefficient_scale": "logit per standard deviation of the normalised difference "
        "(a - b) / (a + b + 1); positive: the side with more of it tends to win",
        "coefficients": [
            {
                "feature": c.feature,
                "coefficient": _num(c.coefficient),
                "se": _num(c.se),
                "ci_low": _num(c.ci_low),
                "ci_high": _num(c.ci_high),
                "mean": _num(c.mean),
                "sd": _num(c.sd),
            }
            for c in fit.coefficients
        ],
    }
    return rows, coefficients, method


def output_features_compute(*, ids: npt.NDArray[np.int64], texts: list[str]) -> OutputFeatures:
    """The style features of outputs `ids` (ascending) from their texts."""
    return OutputFeatures(output=ids, values=stats.style_features_count(texts=texts))


def length_and_style(
    *,
    inputs: ResultsInputs,
    first: npt.NDArray[np.int64],
    second: npt.NDArray[np.int64],
    all_scores: npt.NDArray[np.float64],
    involved: npt.NDArray[np.bool_],
    candidate: npt.NDArray[np.int64],
    candidate_is_a: npt.NDArray[np.bool_],
    scores: npt.NDArray[np.float64],
    baseline: int,
    name: Callable[[int], str],
    confidence: float,
) -> dict[str, Any]:
    """Every length and style section of the results, with the length-controlled rates under
    `lc_estimates` for length_controlled_apply. first/second/all_scores: every judgment's
    generator codes and score; candidate/candidate_is_a/scores: the candidates' side of the
    `involved` judgments (those against the baseline)."""
    style = judgment_style(inputs)
    estimates, lc_info = length_controlled_fit(
        style, involved, candidate, candidate_is_a, scores, inputs, name, confidence
    )
    rows, coefficients, style_info = style_controlled_rows(
        style,
        first,
        second,
        all_scores,
        inputs,
        baseline,
        len(inputs.generators),
        name,
        confidence,
    )
    return {
        "lc_estimates": estimates,
        "length_controlled_method": lc_info,
        "bradley_terry_style_controlled": rows,
        "style_coefficients": coefficients,
        "bradley_terry_style_controlled_method": style_info,
        "length_bias": length_bias_rows(style, first, second, all_scores, name, confidence),
    }
