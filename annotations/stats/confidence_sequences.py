"""Anytime-valid confidence sequences for a win rate: the betting CS of Waudby-Smith & Ramdas.

A confidence sequence (CS) is a sequence of intervals C_1, C_2, ... that contains the true mean at
every time at once with probability >= 1 - alpha, so it may be looked at after every observation
and collection may stop whenever it likes (at a data-dependent time) without losing coverage.

The construction is the hedged-capital CS of Waudby-Smith and Ramdas, "Estimating means of
bounded random variables by betting", JRSS-B 86(1), 2024, sec. 4. For observations X_i in
[0, 1] and each candidate mean m:

    mu_t      = (1/2 + sum_{i<=t} X_i) / (t + 1)                 (regularised running mean)
    sigma2_t  = (1/4 + sum_{i<=t} (X_i - mu_i)^2) / (t + 1)       (regularised running variance)
    K+_t(m)   = prod_{i<=t} (1 + min(bet_i, c / m) (X_i - m))
    K-_t(m)   = prod_{i<=t} (1 - min(bet_i, c / (1 - m)) (X_i - m))
    C_t       = {m : max(theta K+_t(m), (1 - theta) K-_t(m)) < 1 / alpha}

with c = 1/2 and theta = 1/2. For any predictable bets (bet_t computed from X_1..X_{t-1} only)
both capitals are nonnegative martingales when m is the true mean, so Ville's inequality gives
the time-uniform guarantee whatever the bets are; the bets only decide when the interval is
narrow. Two are offered:

- no target: the paper's predictable plug-in bets for a CS,
  bet_t = sqrt(2 log(2 / alpha) / (sigma2_{t-1} t log(1 + t))) (sigma2_0 = 1/4);
- a target half-width H: bet_t = H / sigma2_{t-1}, the constant bet whose capital grows fastest
  against a mean H away from the truth (E log(1 + b (X - m)) ~ b H - b^2 sigma^2 / 2), which is
  what has to be ruled out for the half-width to reach H. It gets there with about 1.5 times
  the fixed-n sample size, where the untargeted bets need 2 to 8 times as many, the more the
  smaller H (tests/test_stats_confidence_sequences.py and test_stats_planning.py check it).

K+ falls and K- rises in m, so C_t is an interval; the running intersection of the C_t (also a
CS) is what this module reports, so the interval never widens as observations arrive.

The unit of observation: one completed comparison's mean score over its k judgments (candidate
win 1, tie 0.5, loss 0) against the baseline. Judgments on one prompt are correlated; comparisons
served in a random order of prompts are independent draws with the same mean, which is the
assumption the guarantee rests on.

The set is computed on a lattice of candidate means j / G (G = 1 / resolution), rounded outward
by one lattice step, so the reported interval contains the exact one. The step is a hundredth
of the target half-width, between 0.0001 and AV_RESOLUTION = 0.0005 (below the 0.1 point a
page shows): the rounding then adds at most 1% of the target to a half-width, and the rule and
the plans that simulate it use the same lattice. Values the running
intersection has ruled out are never needed again, so each block of observations is evaluated
only on the lattice points still inside the interval: the work grows like sqrt(n) lattice
points per observation at first and falls as the interval narrows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

AV_METHOD = "betting"
AV_METHOD_DESCRIPTION = (
    "anytime-valid betting confidence sequence (hedged capital; Waudby-Smith & Ramdas 2024): "
    "one observation per completed comparison, the mean score of its k judgments, comparisons "
    "taken as independent draws in a random order of prompts; valid however often it is looked "
    "at and whenever collection stops"
)
AV_RESOLUTION = 5e-4
_FINEST_RESOLUTION = 1e-4

Status = Literal["collecting", "precise", "decided"]
STATUSES: tuple[str, ...] = ("collecting", "precise", "decided")

# The truncation c of the bets and the weight theta of the two capitals (the paper's choices);
# c < 1 keeps every factor of the capital at least 1 - c > 0.
_TRUNCATION = 0.5
_THETA = 0.5
# Rows of the first block; later blocks are a quarter of the observations so far, so the
# lattice window is narrowed often while the number of numpy calls stays logarithmic in n.
_FIRST_BLOCK = 32
# Half-widths are differences of floats: one that equals the target up to rounding meets it.
_SLACK = 1e-12


@dataclass(frozen=True)
class ConfidenceSequence:
    """The anytime-valid interval after n observations (the running intersection)."""

    n: int
    mean: float
    low: float
    high: float
    half_width: float
    confidence: float
    target_half_width: float | None
    method: str = AV_METHOD


def _observations(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    x = np.asarray(values, dtype=np.float64).ravel()
    bad = ~((x >= 0.0) & (x <= 1.0))  # also catches NaN
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"observations must lie in [0, 1]; got {float(x[i])!r} at index {i}")
    return x


def _check(alpha: float, target_half_width: float | None) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    if target_half_width is not None and not 0.0 < target_half_width <= 0.5:
        raise ValueError(f"target half-width must be in (0, 0.5], got {target_half_width}")


def lattice_resolution(*, target_half_width: float | None) -> float:
    """The lattice step used when none is given: a hundredth of the target half-width, between
    0.0001 and AV_RESOLUTION; AV_RESOLUTION without a target."""
    if target_half_width is None:
        return AV_RESOLUTION
    return min(AV_RESOLUTION, max(_FINEST_RESOLUTION, target_half_width / 100.0))


def _points(resolution: float | None, target_half_width: float | None) -> int:
    if resolution is None:
        resolution = lattice_resolution(target_half_width=target_half_width)
    if not 0.0 < resolution <= 0.1:
        raise ValueError(f"resolution must be in (0, 0.1], got {resolution}")
    return round(1.0 / resolution)


def _bets(
    x: npt.NDArray[np.float64], alpha: float, target_half_width: float | None
) -> npt.NDArray[np.float64]:
    """The bets before truncation; bet_t uses X_1..X_{t-1} only."""
    t = np.arange(1, len(x) + 1, dtype=np.float64)
    mu = (0.5 + np.cumsum(x)) / (t + 1.0)
    sigma2 = (0.25 + np.cumsum((x - mu) ** 2)) / (t + 1.0)
    previous = np.concatenate(([0.25], sigma2[:-1]))
    if target_half_width is not None:
        return target_half_width / previous
    return np.sqrt(2.0 * math.log(2.0 / alpha) / (previous * t * np.log1p(t)))


def _bounds(
    first: npt.NDArray[np.int64], last: npt.NDArray[np.int64], points: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    # One lattice step outward: the exact end lies between the last point ruled out and the
    # first point kept.
    low = np.maximum(0.0, (first - 1) / points)
    high = np.minimum(1.0, (last + 1) / points)
    # An empty intersection (probability <= alpha) is shown as the point where the ends met.
    crossed = low > high
    middle = (low + high) / 2.0
    return np.where(crossed, middle, low), np.where(crossed, middle, high)


@dataclass(frozen=True)
class _StopRule:
    half_width: float | None = None  # stop once the half-width is at most this
    outside: float | None = None  # stop once the interval excludes this

    def first_met(
        self, first: npt.NDArray[np.int64], last: npt.NDArray[np.int64], points: int
    ) -> int | None:
        if self.half_width is None and self.outside is None:
            return None
        low, high = _bounds(first, last, points)
        met = np.zeros(len(first), dtype=bool)
        if self.half_width is not None:
            met |= (high - low) / 2.0 <= self.half_width + _SLACK
        if self.outside is not None:
            met |= (low > self.outside) | (high < self.outside)
        hits = np.flatnonzero(met)
        return int(hits[0]) if len(hits) else None


def _lattice_path(
    x: npt.NDArray[np.float64],
    bets: npt.NDArray[np.float64],
    alpha: float,
    points: int,
    rule: _StopRule,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int | None]:
    """First and last lattice index (of 0..points) inside the running intersection after each
    observation. With a stop rule the arrays end at the first observation that meets it, and
    the number of observations used is returned third (None when none meets it)."""
    n = len(x)
    # theta K >= 1/alpha  <=>  log K >= log(1 / (alpha theta)); likewise for 1 - theta.
    limit_plus = math.log(1.0 / (alpha * _THETA))
    limit_minus = math.log(1.0 / (alpha * (1.0 - _THETA)))
    first = np.empty(n, dtype=np.int64)
    last = np.empty(n, dtype=np.int64)
    lo, hi = 0, points
    carry_plus = np.zeros(points + 1)
    carry_minus = np.zeros(points + 1)
    t = 0
    while t < n:
        stop = min(n, t + max(_FIRST_BLOCK, t // 4))
        m = np.arange(lo, hi + 1, dtype=np.float64) / points
        with np.errstate(divide="ignore"):
            cap_plus = _TRUNCATION / m  # inf at m = 0, where the bet itself is finite
            cap_minus = _TRUNCATION / (1.0 - m)
        bet = bets[t:stop, None]
        deviation = x[t:stop, None] - m
        plus = carry_plus + np.cumsum(np.log1p(np.minimum(bet, cap_plus) * deviation), axis=0)
        minus = carry_minus + np.cumsum(np.log1p(-np.minimum(bet, cap_minus) * deviation), axis=0)
        # K+ is nonincreasing in m, so the points it rules out are the window's first ones (and
        # K- rules out its last ones): counting them gives the new ends. Points outside the
        # window were ruled out earlier, and the running intersection keeps them out.
        first[t:stop] = np.maximum.accumulate(lo + (plus >= limit_plus).sum(axis=1))
        last[t:stop] = np.minimum.accumulate(hi - (minus >= limit_minus).sum(axis=1))
        met = rule.first_met(first[t:stop], last[t:stop], points)
        if met is not None:
            return first[: t + met + 1], last[: t + met + 1], t + met + 1
        new_lo, new_hi = int(first[stop - 1]), int(last[stop - 1])
        if new_lo > new_hi:  # empty (probability <= alpha): nothing is left to evaluate
            first[stop:], last[stop:] = new_lo, new_hi
            break
        carry_plus = plus[-1, new_lo - lo : new_hi - lo + 1]
        carry_minus = minus[-1, new_lo - lo : new_hi - lo + 1]
        lo, hi, t = new_lo, new_hi, stop
    return first, last, None


def confidence_sequence_path(
    *,
    values: npt.ArrayLike,
    alpha: float = 0.05,
    target_half_width: float | None = None,
    resolution: float | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The anytime-valid (1 - alpha) interval, as the running intersection, after each
    observation: (low, high), each of len(values); the intervals never widen.

    `values` are observations in [0, 1] in the order they arrived (one per completed
    comparison). `target_half_width` tunes the bets to reach that half-width soonest (module
    docstring); the guarantee holds with or without it, but it must be fixed in advance (the
    study's target), never chosen from the data being monitored.
    """
    _check(alpha, target_half_width)
    x = _observations(values)
    points = _points(resolution, target_half_width)
    if len(x) == 0:
        return np.empty(0), np.empty(0)
    first, last, _ = _lattice_path(
        x, _bets(x, alpha, target_half_width), alpha, points, _StopRule()
    )
    return _bounds(first, last, points)


def confidence_sequence(
    *,
    values: npt.ArrayLike,
    alpha: float = 0.05,
    target_half_width: float | None = None,
    resolution: float | None = None,
) -> ConfidenceSequence:
    """The anytime-valid (1 - alpha) interval for the mean after all of `values`, in the order
    they arrived (see confidence_sequence_path); with no observations it is [0, 1]."""
    low, high = confidence_sequence_path(
        values=values, alpha=alpha, target_half_width=target_half_width, resolution=resolution
    )
    x = np.asarray(values, dtype=np.float64).ravel()
    lo, hi = (float(low[-1]), float(high[-1])) if len(x) else (0.0, 1.0)
    return ConfidenceSequence(
        n=len(x),
        mean=float(x.mean()) if len(x) else math.nan,
        low=lo,
        high=hi,
        half_width=(hi - lo) / 2.0,
        confidence=1.0 - alpha,
        target_half_width=target_half_width,
    )


def observations_until(
    *,
    values: npt.ArrayLike,
    target_half_width: float,
    stop_on_decision: bool = False,
    alpha: float = 0.05,
    resolution: float | None = None,
) -> int | None:
    """How many of `values` (in order) the stopping rule uses: the first n at which the
    interval (bets tuned to the target) has half-width at most `target_half_width`, or, with
    `stop_on_decision`, excludes 0.5; None when no n <= len(values) meets the rule. This is the
    rule a study with a target applies after each completed comparison; simulations use it."""
    _check(alpha, target_half_width)
    x = _observations(values)
    if len(x) == 0:
        return None
    rule = _StopRule(half_width=target_half_width, outside=0.5 if stop_on_decision else None)
    bets = _bets(x, alpha, target_half_width)
    return _lattice_path(x, bets, alpha, _points(resolution, target_half_width), rule)[2]


def stopping_status(
    *,
    low: float,
    high: float,
    target_half_width: float | None,
    stop_on_decision: bool = False,
) -> Status:
    """Where a candidate stands against its stopping rule, from its anytime-valid interval.

    "precise" once the half-width (high - low) / 2 is at most `target_half_width`; otherwise
    "decided" when `stop_on_decision` and the interval excludes 0.5 (the candidate is better or
    worse than the baseline); otherwise "collecting". Precision is checked first: it is the
    target the study set. With no target and no decision rule a candidate is always collecting;
    so is one without an interval yet (NaN bounds).
    """
    if math.isnan(low) or math.isnan(high):
        return "collecting"
    if target_half_width is not None and (high - low) / 2.0 <= target_half_width + _SLACK:
        return "precise"
    if stop_on_decision and (low > 0.5 or high < 0.5):
        return "decided"
    return "collecting"


def observations_to_target(
    *,
    values: npt.ArrayLike,
    target_half_width: float,
    alpha: float = 0.05,
    continuations: int = 20,
    seed: int = 0,
    min_observations: int = 10,
    horizon: int = 100_000,
) -> int | None:
    """About how many more observations until the half-width reaches the target at the rate
    seen so far (0 when it already has): for "about N more judgments", multiply by k.

    The rule (observations_until) is continued on `continuations` futures drawn with
    replacement from the observations seen (a bootstrap of the comparisons' mean scores, fixed
    seed), and the median number needed is returned, rounded up. None with fewer than
    `min_observations` observations (too few to say what the rate is), or when the median
    future does not get there within `horizon` more.
    """
    _check(alpha, target_half_width)
    x = _observations(values)
    done = confidence_sequence(values=x, alpha=alpha, target_half_width=target_half_width)
    if done.half_width <= target_half_width + _SLACK:
        return 0
    if len(x) < min_observations:
        return None
    rng = np.random.default_rng(seed)
    needed = []
    for _ in range(continuations):
        future = np.concatenate((x, rng.choice(x, size=horizon)))
        used = observations_until(values=future, target_half_width=target_half_width, alpha=alpha)
        needed.append(math.inf if used is None else used - len(x))
    median = float(np.median(needed))
    return None if math.isinf(median) else math.ceil(median)


def comparison_means(
    *, comparisons: npt.ArrayLike, scores: npt.ArrayLike, k: int
) -> npt.NDArray[np.float64]:
    """The observations of the confidence sequence: one per comparison that has its k
    judgments, the mean of their scores, in the order the comparisons were completed.

    `comparisons` and `scores` have one entry per judgment (a comparison id and the candidate's
    score 1 / 0.5 / 0), in the order the judgments arrived. A comparison is complete at its
    k-th judgment; judgments past the k-th are not used, and comparisons with fewer than k are
    still open and give no observation yet.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    c = np.asarray(comparisons).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if len(c) != len(s):
        raise ValueError(f"comparisons has {len(c)} entries but scores has {len(s)}")
    if len(c) == 0:
        return np.empty(0)
    labels, codes = np.unique(c, return_inverse=True)
    # Position of each judgment within its comparison (0 for the first to arrive).
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(len(labels)))
    rank = np.empty(len(c), dtype=np.int64)
    rank[order] = np.arange(len(c)) - starts[codes[order]]
    used = rank < k
    totals = np.bincount(codes[used], weights=s[used], minlength=len(labels))
    # A comparison completes at its k-th judgment: that judgment's position orders them.
    completing = np.flatnonzero(rank == k - 1)
    return totals[codes[completing]] / k
