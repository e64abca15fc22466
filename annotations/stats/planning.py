"""Study planning: judgments needed for a target precision, fixed-n and anytime-valid, and the
intra-comparison correlation (ICC) that prompt clustering costs, estimated from a pilot.

The unit is a comparison (one prompt, a candidate against the baseline) judged by K raters. Its
K scores share the prompt, so they are correlated (ICC rho), and the variance of the win rate
over n comparisons is P (1 - P) (1 + (K - 1) rho) / (K n): Kish's design effect
deff = 1 + (K - 1) rho on the K n judgments. P (1 - P) is the largest variance a score in [0, 1]
with mean P can have (Bhatia-Davis), reached without ties, so the sizes here are what a study
without ties needs, and ties only make the interval narrower.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from annotations.stats._common import z_value
from annotations.stats.confidence_sequences import observations_until

# Runs of the anytime-valid rule that anytime_sample_size simulates. The comparisons the rule
# uses vary by about 10% between runs (tests/test_stats_planning.py), so the mean of 32 runs is
# known to about 2%: enough for a plan, and a run at +-0.01 (15,000 comparisons) takes ~0.3 s.
PLANNING_RUNS = 32


@dataclass(frozen=True)
class FixedSampleSize:
    """A fixed-n design: comparisons (prompts per candidate) and judgments for a 95% interval of
    +-half_width around a win rate, looked at once, when all are in."""

    win_rate: float
    half_width: float
    raters_per_comparison: int
    icc: float
    confidence: float
    design_effect: float
    judgments_if_independent: int
    comparisons: int
    judgments: int


@dataclass(frozen=True)
class AnytimeSampleSize:
    """The anytime-valid rule simulated: comparisons (prompts per candidate) the rule uses
    until the interval is within +-half_width (or, with stop_on_decision, excludes 0.5)."""

    win_rate: float
    half_width: float
    raters_per_comparison: int
    icc: float
    confidence: float
    stop_on_decision: bool
    comparisons_mean: float
    comparisons_median: int
    comparisons_p90: int
    judgments_mean: float
    reached: float
    horizon: int
    runs: int
    seed: int


@dataclass(frozen=True)
class IntraclassCorrelation:
    """The one-way ANOVA estimate of the ICC; `icc` is clipped to [0, 1] for planning and
    `icc_raw` is the estimate itself (negative when judgments on one comparison agree less than
    judgments on different ones do)."""

    icc: float
    icc_raw: float
    n_observations: int
    n_groups: int
    n_strata: int
    mean_group_size: float
    ms_between: float
    ms_within: float


def _check_plan(win_rate: float, half_width: float, raters: int, icc: float) -> None:
    if not 0.0 < win_rate < 1.0:
        raise ValueError(f"win rate must be between 0 and 1 (exclusive), got {win_rate}")
    if not 0.0 < half_width <= 0.5:
        raise ValueError(f"half-width must be in (0, 0.5], got {half_width}")
    if raters < 1:
        raise ValueError(f"raters per comparison must be at least 1, got {raters}")
    if not 0.0 <= icc <= 1.0:
        raise ValueError(f"ICC must be between 0 and 1, got {icc}")


def design_effect(*, raters_per_comparison: int, icc: float) -> float:
    """Kish's design effect of K judgments per comparison with intra-comparison correlation
    rho: 1 + (K - 1) rho, the factor by which clustering inflates the variance."""
    return 1.0 + (raters_per_comparison - 1) * icc


def _ceil(value: float) -> int:
    # A size that is a whole number up to rounding (384.0000000001) is that number.
    return math.ceil(value - 1e-9)


def fixed_sample_size(
    *,
    win_rate: float,
    half_width: float,
    raters_per_comparison: int = 1,
    icc: float = 0.0,
    confidence: float = 0.95,
) -> FixedSampleSize:
    """Comparisons and judgments for a fixed-n design: the normal-approximation interval
    P +- z sqrt(P (1 - P) deff / (K n)) has half-width H when
    n = z^2 P (1 - P) deff / (K H^2) comparisons, rounded up, and K n judgments."""
    _check_plan(win_rate, half_width, raters_per_comparison, icc)
    z = z_value(confidence)
    independent = z * z * win_rate * (1.0 - win_rate) / (half_width * half_width)
    deff = design_effect(raters_per_comparison=raters_per_comparison, icc=icc)
    comparisons = _ceil(independent * deff / raters_per_comparison)
    return FixedSampleSize(
        win_rate=win_rate,
        half_width=half_width,
        raters_per_comparison=raters_per_comparison,
        icc=icc,
        confidence=confidence,
        design_effect=deff,
        judgments_if_independent=_ceil(independent),
        comparisons=comparisons,
        judgments=comparisons * raters_per_comparison,
    )


def comparison_means_simulate(
    *,
    win_rate: float,
    raters_per_comparison: int,
    icc: float,
    size: int,
    rng: np.random.Generator,
) -> npt.NDArray[np.float64]:
    """Mean scores of `size` comparisons, each of K binary judgments that share the comparison's
    own win probability p_c ~ Beta(P s, (1 - P) s) with s = 1 / rho - 1: the beta-binomial
    model, whose judgments have mean P and intra-comparison correlation exactly rho."""
    k = raters_per_comparison
    if icc == 0.0:
        return rng.binomial(k, win_rate, size=size) / k
    if icc == 1.0:  # every comparison unanimous
        return (rng.random(size) < win_rate).astype(np.float64)
    spread = 1.0 / icc - 1.0
    p = rng.beta(win_rate * spread, (1.0 - win_rate) * spread, size=size)
    return rng.binomial(k, p) / k


def anytime_sample_size(
    *,
    win_rate: float,
    half_width: float,
    raters_per_comparison: int = 1,
    icc: float = 0.0,
    confidence: float = 0.95,
    stop_on_decision: bool = False,
    runs: int = PLANNING_RUNS,
    seed: int = 0,
) -> AnytimeSampleSize:
    """The expected number of comparisons under the anytime-valid rule, by simulation.

    Each run draws comparison means from the beta-binomial model (comparison_means_simulate)
    and applies the study's rule (confidence_sequences.observations_until: the interval with
    bets tuned to the target, checked after every comparison) until it is met, or until a
    horizon of ten times the fixed-n size (`reached` says what share of runs met it by then;
    the others count at the horizon). Fixed seed: the same answer every time.
    """
    _check_plan(win_rate, half_width, raters_per_comparison, icc)
    alpha = 1.0 - confidence
    fixed = fixed_sample_size(
        win_rate=win_rate,
        half_width=half_width,
        raters_per_comparison=raters_per_comparison,
        icc=icc,
        confidence=confidence,
    )
    horizon = max(10 * fixed.comparisons, 1000)
    rng = np.random.default_rng(seed)
    if runs < 2:
        raise ValueError(f"runs must be at least 2, got {runs}")
    used = np.empty(runs, dtype=np.int64)
    reached = 0
    for run in range(runs):
        x = comparison_means_simulate(
            win_rate=win_rate,
            raters_per_comparison=raters_per_comparison,
            icc=icc,
            size=horizon,
            rng=rng,
        )
        n = observations_until(
            values=x,
            target_half_width=half_width,
            stop_on_decision=stop_on_decision,
            alpha=alpha,
        )
        reached += n is not None
        used[run] = horizon if n is None else n
    mean = float(used.mean())
    return AnytimeSampleSize(
        win_rate=win_rate,
        half_width=half_width,
        raters_per_comparison=raters_per_comparison,
        icc=icc,
        confidence=confidence,
        stop_on_decision=stop_on_decision,
        comparisons_mean=mean,
        comparisons_median=_ceil(float(np.median(used))),
        comparisons_p90=_ceil(float(np.quantile(used, 0.9))),
        judgments_mean=mean * raters_per_comparison,
        reached=reached / runs,
        horizon=horizon,
        runs=runs,
        seed=seed,
    )


def icc_estimate(
    *, scores: npt.ArrayLike, groups: npt.ArrayLike, strata: npt.ArrayLike | None = None
) -> IntraclassCorrelation:
    """The one-way ANOVA estimator of the intra-class correlation of `scores` within `groups`
    (one label per score: the comparison it was given on), allowing unequal group sizes:

        ICC = (MSB - MSW) / (MSB + (n0 - 1) MSW),
        n0 = (N - sum_i n_i^2 / N) / (g - 1).

    With `strata` (one label per score, e.g. the candidate model; each group lies in one
    stratum), the between-group sum of squares is taken around each stratum's own mean, with
    g - C degrees of freedom and n0 = (N - sum_c sum_{i in c} n_i^2 / N_c) / (g - C), so that
    candidates with different win rates do not pass for correlation within comparisons.
    Needs at least one group of two or more scores and more groups than strata.
    """
    y = np.asarray(scores, dtype=np.float64).ravel()
    g_labels = np.asarray(groups).ravel()
    if len(g_labels) != len(y):
        raise ValueError(f"groups has {len(g_labels)} entries but scores has {len(y)}")
    s_labels = np.zeros(len(y), dtype=np.int64) if strata is None else np.asarray(strata).ravel()
    if len(s_labels) != len(y):
        raise ValueError(f"strata has {len(s_labels)} entries but scores has {len(y)}")
    _, group = np.unique(g_labels, return_inverse=True)
    _, stratum = np.unique(s_labels, return_inverse=True)
    n_groups, n_strata, n = int(group.max(initial=-1)) + 1, int(stratum.max(initial=-1)) + 1, len(y)
    size = np.bincount(group, minlength=n_groups).astype(np.float64)
    group_stratum = np.zeros(n_groups, dtype=np.int64)
    group_stratum[group] = stratum
    if np.any(group_stratum[group] != stratum):
        raise ValueError("each group must lie within one stratum")
    df_between, df_within = n_groups - n_strata, n - n_groups
    if df_between < 1 or df_within < 1:
        raise ValueError(
            "the ICC needs more groups than strata and at least one group with two or more "
            f"scores; got {n} scores in {n_groups} groups and {n_strata} strata"
        )
    group_mean = np.bincount(group, weights=y, minlength=n_groups) / size
    stratum_size = np.bincount(stratum, minlength=n_strata).astype(np.float64)
    stratum_mean = np.bincount(stratum, weights=y, minlength=n_strata) / stratum_size
    ss_between = float(np.sum(size * (group_mean - stratum_mean[group_stratum]) ** 2))
    ss_within = float(np.sum((y - group_mean[group]) ** 2))
    squares_by_stratum = np.bincount(group_stratum, weights=size * size, minlength=n_strata)
    n0 = (n - float(np.sum(squares_by_stratum / stratum_size))) / df_between
    ms_between, ms_within = ss_between / df_between, ss_within / df_within
    denominator = ms_between + (n0 - 1.0) * ms_within
    raw = (ms_between - ms_within) / denominator if denominator > 0 else math.nan
    return IntraclassCorrelation(
        icc=math.nan if math.isnan(raw) else min(1.0, max(0.0, raw)),
        icc_raw=raw,
        n_observations=n,
        n_groups=n_groups,
        n_strata=n_strata,
        mean_group_size=n0,
        ms_between=ms_between,
        ms_within=ms_within,
    )
