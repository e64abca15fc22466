"""Automatic judges checked against the human raters: a pure computation over arrays.

For each judge (an LLM whose verdicts were imported with import_judgments --judge NAME), on the
comparisons both it and the human raters judged ("shared"):

- agreement with the human majority, as MT-Bench counts it (Zheng et al. 2023, sec. 4.2): the
  outcome of a comparison is a, b or tie (both bad is a tie); the humans' majority is the
  outcome more than half of its human judgments gave (comparisons without one are left out);
  `agreement` is the share of those where the judge gave the majority's outcome, ties
  included as an answer of their own; `agreement_without_ties` the same over the comparisons
  where neither the judge nor the majority said tie;
- Cohen's kappa between the judge and the human majority on the same comparisons (three
  categories), (p_o - p_e) / (1 - p_e) with p_e from the two marginals;
- left_share: the share of the judge's non-tie verdicts that chose the output shown on the
  left (its position bias, when the file said which was left).

The judge's own win rates against the baseline come from the same computation as the humans'
(annotations.analysis.compute), so both can be read side by side.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from annotations.analysis.inputs import JudgmentArrays

# Outcome codes: 0 b better, 1 tie, 2 a better.
_OUTCOMES = 3


def _outcomes(arrays: JudgmentArrays) -> npt.NDArray[np.int64]:
    return np.sign(arrays.preference).astype(np.int64) + 1


def human_majority(humans: JudgmentArrays) -> dict[int, int]:
    """comparison id -> the outcome (0 b, 1 tie, 2 a) more than half of its human judgments
    gave; comparisons without such a majority are absent."""
    if not len(humans):
        return {}
    comparisons, codes = np.unique(humans.comparison, return_inverse=True)
    table = np.bincount(
        codes * _OUTCOMES + _outcomes(humans), minlength=len(comparisons) * _OUTCOMES
    ).reshape(-1, _OUTCOMES)
    top = table.argmax(axis=1)
    strict = 2 * table.max(axis=1) > table.sum(axis=1)
    return {int(c): int(t) for c, t, ok in zip(comparisons, top, strict, strict=True) if ok}


def cohen_kappa(first: npt.ArrayLike, second: npt.ArrayLike, categories: int) -> float:
    """Cohen's kappa of two raters' labels (0 .. categories - 1) on the same items; NaN with no
    items, and NaN when both always give one and the same label (p_e = 1)."""
    a = np.asarray(first, dtype=np.int64)
    b = np.asarray(second, dtype=np.int64)
    n = len(a)
    if n == 0:
        return math.nan
    observed = float(np.mean(a == b))
    pa = np.bincount(a, minlength=categories) / n
    pb = np.bincount(b, minlength=categories) / n
    expected = float(np.dot(pa, pb))
    if expected >= 1.0:
        return math.nan
    return (observed - expected) / (1.0 - expected)


def _num(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def judge_agreement(*, humans: JudgmentArrays, judge: JudgmentArrays) -> dict[str, Any]:
    """A judge's agreement with the human majority (module docstring): n, n_shared,
    n_majority, agreement, n_without_ties, agreement_without_ties, cohen_kappa, left_n,
    left_share."""
    majority = human_majority(humans)
    judged = _outcomes(judge)
    shared = np.isin(judge.comparison, humans.comparison)
    decided = np.fromiter(majority, dtype=np.int64, count=len(majority))
    with_majority = np.isin(judge.comparison, decided)
    mine = judged[with_majority]
    theirs = np.array([majority[int(c)] for c in judge.comparison[with_majority]], dtype=np.int64)
    agree = mine == theirs
    no_ties = (mine != 1) & (theirs != 1)
    non_tie = judged != 1
    chose_left = (judged == 2) == judge.left_is_a
    return {
        "n": len(judge),
        "n_shared": int(shared.sum()),
        "n_majority": int(with_majority.sum()),
        "agreement": _num(float(agree.mean())) if len(agree) else None,
        "n_without_ties": int(no_ties.sum()),
        "agreement_without_ties": _num(float(agree[no_ties].mean())) if no_ties.any() else None,
        "cohen_kappa": _num(cohen_kappa(mine, theirs, _OUTCOMES)),
        "left_n": int(non_tie.sum()),
        "left_share": _num(float(chose_left[non_tie].mean())) if non_tie.any() else None,
    }
