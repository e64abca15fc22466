"""Position bias: how often raters chose the left output, overall and per rater."""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from annotations.stats._common import check_length, py_value
from annotations.stats.bootstrap import dense_codes
from annotations.stats.win_rate import wilson_interval

P_VALUE_BINOMIAL = "two-sided exact binomial test against 0.5 (scipy.stats.binomtest)"


@dataclass(frozen=True)
class PositionBias:
    """Share of non-tie judgments that chose the left output, tested against 0.5."""

    rater: Hashable | None
    n: int
    n_left: int
    share_left: float
    ci_low: float
    ci_high: float
    p_value: float
    p_value_method: str = P_VALUE_BINOMIAL


@dataclass(frozen=True)
class PositionBiasReport:
    """Position bias overall and for each rater."""

    overall: PositionBias
    by_rater: tuple[PositionBias, ...]


def _position_row(rater: Hashable | None, n: int, k: int, confidence: float) -> PositionBias:
    share = k / n if n else math.nan
    low, high = wilson_interval(p=share, n=n, confidence=confidence)
    p_value = float(stats.binomtest(k, n, 0.5).pvalue) if n else math.nan
    return PositionBias(
        rater=rater, n=n, n_left=k, share_left=share, ci_low=low, ci_high=high, p_value=p_value
    )


def position_bias_test(
    *,
    chose_left: npt.ArrayLike,
    raters: npt.ArrayLike | None = None,
    is_tie: npt.ArrayLike | None = None,
    confidence: float = 0.95,
) -> PositionBiasReport:
    """Share of non-tie judgments that chose the left output, overall and per rater.

    Each row has a Wilson CI and an exact two-sided binomial test against 0.5. Per-rater
    p-values are not corrected for multiple testing. Judgments flagged in is_tie are dropped.
    """
    left = np.asarray(chose_left, dtype=bool).ravel()
    r = np.full(len(left), None, dtype=object) if raters is None else np.asarray(raters).ravel()
    check_length("raters", r, len(left))
    if is_tie is not None:
        tie = np.asarray(is_tie, dtype=bool).ravel()
        check_length("is_tie", tie, len(left))
        left, r = left[~tie], r[~tie]
    overall = _position_row(None, len(left), int(left.sum()), confidence)
    by_rater: list[PositionBias] = []
    if raters is not None and len(r):
        labels, codes = dense_codes(r)
        n = np.bincount(codes, minlength=len(labels))
        k = np.bincount(codes, weights=left, minlength=len(labels))
        by_rater = [
            _position_row(py_value(label), int(n[i]), int(k[i]), confidence)
            for i, label in enumerate(labels)
        ]
    return PositionBiasReport(overall=overall, by_rater=tuple(by_rater))
