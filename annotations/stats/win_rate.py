"""Win rates against the baseline with CIs and p-values, Wilson intervals, proportions, flags."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from annotations.stats._common import as_scores, check_length, py_value, z_value
from annotations.stats._grouped import cluster_cells, grouped_ratio_resamples
from annotations.stats.bootstrap import dense_codes, label_entropy
from annotations.stats.defaults import CI_METHOD_DESCRIPTIONS, DEFAULT_RESAMPLES

CIMethod = Literal["bootstrap", "wilson", "cluster"]
CI_METHODS: tuple[str, ...] = tuple(CI_METHOD_DESCRIPTIONS)


# At most this many resampled win rates (8 bytes each) are held at once, over all groups.
_RATIOS_AT_ONCE = 1 << 24

P_VALUE_CLUSTER_SCORE = (
    "two-sided z-test of win rate = 0.5 with the prompt-clustered SE evaluated under the null"
)
P_VALUE_INDEPENDENT_SCORE = (
    "two-sided score z-test of win rate = 0.5 treating judgments as independent "
    "(the test the Wilson interval inverts)"
)


@dataclass(frozen=True)
class WinRate:
    """Win rate of a candidate against the baseline, with counts, a CI and a p-value."""

    n: int
    wins: int
    ties: int
    losses: int
    both_bad: int
    win_rate: float
    win_rate_ties_dropped: float
    ci_low: float
    ci_high: float
    method: str
    confidence: float
    se: float
    p_value: float
    p_value_method: str
    n_clusters: int
    n_resamples: int


@dataclass(frozen=True)
class Proportion:
    """A count k of n with its rate and Wilson score interval (flag rates, position bias)."""

    k: int
    n: int
    rate: float
    ci_low: float
    ci_high: float
    confidence: float
    method: str = "wilson"


def score_from_preference(*, preference: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Map stored integer preferences (positive favours output a, 0 tie) to scores 1/0.5/0."""
    p = np.asarray(preference, dtype=np.float64).ravel()
    return (np.sign(p) + 1.0) / 2.0


def wilson_interval(*, p: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion p observed over n trials (p may be fractional)."""
    if n <= 0:
        return (math.nan, math.nan)
    return _wilson(p, n, _z(confidence))


def _wilson(p: float, n: int, z: float) -> tuple[float, float]:
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = (z / denom) * math.sqrt(max(p * (1.0 - p), 0.0) / n + z2 / (4.0 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def proportion_estimate(*, k: int, n: int, confidence: float = 0.95) -> Proportion:
    """Rate k/n with its Wilson interval (e.g. how often a generator's outputs were flagged)."""
    if k < 0 or n < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    rate = k / n if n else math.nan
    low, high = wilson_interval(p=rate, n=n, confidence=confidence)
    return Proportion(
        k=int(k), n=int(n), rate=rate, ci_low=low, ci_high=high, confidence=confidence
    )


def flag_rates_by_group(
    *, flagged: npt.ArrayLike, groups: npt.ArrayLike, confidence: float = 0.95
) -> dict[Hashable, Proportion]:
    """Flag rate per group (e.g. per generator) from one boolean per judged output."""
    f = np.asarray(flagged, dtype=bool).ravel()
    g = np.asarray(groups).ravel()
    if len(f) != len(g):
        raise ValueError(f"groups has {len(g)} entries but flagged has {len(f)}")
    labels, codes = np.unique(g, return_inverse=True)
    k = np.bincount(codes, weights=f, minlength=len(labels))
    n = np.bincount(codes, minlength=len(labels))
    return {
        py_value(label): proportion_estimate(k=int(k[i]), n=int(n[i]), confidence=confidence)
        for i, label in enumerate(labels)
    }


def _empty_win_rate(method: str, confidence: float) -> WinRate:
    return WinRate(
        n=0,
        wins=0,
        ties=0,
        losses=0,
        both_bad=0,
        win_rate=math.nan,
        win_rate_ties_dropped=math.nan,
        ci_low=math.nan,
        ci_high=math.nan,
        method=method,
        confidence=confidence,
        se=math.nan,
        p_value=math.nan,
        p_value_method="",
        n_clusters=0,
        n_resamples=0,
    )


@functools.lru_cache(maxsize=16)
def _z(confidence: float) -> float:
    # z_value's scipy.stats call costs ~0.1 ms; a results page asks thousands of times.
    return z_value(confidence)


def _two_sided_p(estimate: float, null: float, se: float) -> float:
    """_common.two_sided_z_p, bit for bit: norm.sf(x) is ndtr(-x), without scipy.stats'
    per-call argument handling (~0.1 ms)."""
    if se > 0.0:
        return float(2.0 * ndtr(-(abs(estimate - null) / se)))
    return 1.0 if estimate == null else 0.0


def _win_rates(
    s: npt.NDArray[np.float64],
    clusters: npt.NDArray[np.generic],
    bb: npt.NDArray[np.bool_],
    groups: npt.NDArray[np.intp],
    n_groups: int,
    method: str,
    confidence: float,
    n_resamples: int,
    seed: int,
    seed_of: Callable[[int], np.random.SeedSequence],
) -> list[WinRate]:
    """The WinRate of each group code 0..n_groups-1 (every group has judgments), for all
    groups at once: one sort into (group, prompt) cells, one batch of bootstrap draws
    (grouped_ratio_resamples: seed for groups of up to 256 prompts, seed_of(code) for larger
    ones), one quantile call over every group."""
    if method not in CI_METHODS:
        raise ValueError(f"method must be one of {', '.join(CI_METHODS)}; got {method!r}")
    n = np.bincount(groups, minlength=n_groups)
    wins = np.bincount(groups[s == 1.0], minlength=n_groups)
    ties = np.bincount(groups[s == 0.5], minlength=n_groups)
    both_bad = np.bincount(groups[bb], minlength=n_groups)
    # Sums of 0 / 0.5 / 1 are exact, so this is s[rows].mean() of each group bit for bit.
    means = np.bincount(groups, weights=s, minlength=n_groups) / n
    cells = cluster_cells(values=s, groups=groups, n_groups=n_groups, clusters=clusters)
    n_clusters = np.diff(cells.bounds)
    # Miller (2024): SE = sqrt(sum_c (sum_{i in c} (s_i - mean))^2) / n. The same clustered SE
    # evaluated at the null is never zero unless every judgment is a tie, so an all-wins sample
    # still gets a finite, honest p-value. Squares elementwise for all cells; each group's sum
    # is its own np.sum (pairwise, in the group's cluster order, as for one group alone).
    dev2 = (cells.sums - means[cells.group] * cells.counts) ** 2
    dev2_null = (cells.sums - 0.5 * cells.counts) ** 2
    z = _z(confidence)

    bootstrapped = np.zeros(0, dtype=np.intp)
    if method == "bootstrap":
        # By size, so that each slice below holds few sizes (one shared draw per size).
        bootstrapped = np.flatnonzero(n_clusters >= 2)
        bootstrapped = bootstrapped[np.argsort(n_clusters[bootstrapped], kind="stable")]
        if len(bootstrapped) and n_resamples < 1:
            raise ValueError(f"n_resamples must be positive, got {n_resamples}")
    alpha = 1.0 - confidence
    bounds = np.empty((2, len(bootstrapped)))
    spread = np.full(len(bootstrapped), np.nan)
    # The resampled ratios of at most _RATIOS_AT_ONCE values at a time bound the memory.
    step = max(1, _RATIOS_AT_ONCE // max(n_resamples, 1))
    for start in range(0, len(bootstrapped), step):
        part = slice(start, start + step)
        ratios = grouped_ratio_resamples(
            cells=cells,
            which=bootstrapped[part],
            n_resamples=n_resamples,
            seed=seed,
            seed_of=seed_of,
        )
        bounds[:, part] = np.quantile(ratios, [alpha / 2.0, 1.0 - alpha / 2.0], axis=1)
        if n_resamples > 1:
            spread[part] = ratios.std(axis=1, ddof=1)
    row_of = np.full(n_groups, -1, dtype=np.intp)
    row_of[bootstrapped] = np.arange(len(bootstrapped))

    out = []
    for g in range(n_groups):
        n_g = int(n[g])
        mean = float(means[g])
        w, t = int(wins[g]), int(ties[g])
        losses = n_g - w - t
        c0, c1 = cells.bounds[g], cells.bounds[g + 1]
        se_null = float(np.sqrt(np.sum(dev2_null[c0:c1])) / n_g)
        used_resamples = 0
        p_method = P_VALUE_CLUSTER_SCORE
        if method == "wilson":
            low, high = _wilson(mean, n_g, z)
            se = math.sqrt(mean * (1.0 - mean) / n_g)
            p_value = _two_sided_p(mean, 0.5, math.sqrt(0.25 / n_g))
            p_method = P_VALUE_INDEPENDENT_SCORE
        elif n_clusters[g] < 2:
            # One prompt says nothing about prompt-to-prompt variation: no clustered interval.
            low = high = se = p_value = math.nan
        elif method == "cluster":
            se = float(np.sqrt(np.sum(dev2[c0:c1])) / n_g)
            low, high = max(0.0, mean - z * se), min(1.0, mean + z * se)
            p_value = _two_sided_p(mean, 0.5, se_null)
        else:
            row = row_of[g]
            low, high = float(bounds[0, row]), float(bounds[1, row])
            se = float(spread[row])
            p_value = _two_sided_p(mean, 0.5, se_null)
            used_resamples = n_resamples
        out.append(
            WinRate(
                n=n_g,
                wins=w,
                ties=t,
                losses=losses,
                both_bad=int(both_bad[g]),
                win_rate=mean,
                win_rate_ties_dropped=w / (w + losses) if w + losses else math.nan,
                ci_low=float(low),
                ci_high=float(high),
                method=method,
                confidence=confidence,
                se=se,
                p_value=p_value,
                p_value_method=p_method,
                n_clusters=int(n_clusters[g]),
                n_resamples=used_resamples,
            )
        )
    return out


def _prepare(
    scores: npt.ArrayLike, clusters: npt.ArrayLike | None, both_bad: npt.ArrayLike | None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.generic], npt.NDArray[np.bool_]]:
    s = as_scores(scores)
    c = np.arange(len(s)) if clusters is None else np.asarray(clusters).ravel()
    check_length("clusters", c, len(s))
    bb = np.zeros(len(s), dtype=bool) if both_bad is None else np.asarray(both_bad, bool).ravel()
    check_length("both_bad", bb, len(s))
    if np.any(bb & (s != 0.5)):
        raise ValueError("a 'both bad' judgment must be scored 0.5 (it counts as a tie)")
    return s, c, bb


def win_rate_estimate(
    *,
    scores: npt.ArrayLike,
    clusters: npt.ArrayLike | None = None,
    both_bad: npt.ArrayLike | None = None,
    method: CIMethod = "bootstrap",
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> WinRate:
    """Win rate = mean(s) of judgment scores s in {1, 0.5, 0} with a CI and a p-value.

    clusters: one prompt id per judgment (None: every judgment is its own cluster).
    both_bad: optional flags; those judgments must be scored 0.5 and are counted separately.
    Methods:
      bootstrap  resample prompts with replacement, recompute the pooled mean, percentile CI;
      wilson     Wilson score interval applied to p = mean(s), judgments taken as independent;
      cluster    mean +/- z * cluster-robust SE (Miller 2024), clipped to [0, 1].
    p-value against 50%: for bootstrap and cluster a two-sided z-test whose SE is the
    prompt-clustered SE computed under the null (a score test, never a zero SE); for wilson the
    independent-judgment score test that the Wilson interval inverts.
    The bootstrap is reproducible: the same seed gives the same interval. With fewer than two
    prompts the bootstrap and cluster methods give nan (no between-prompt variation to see).
    Up to 256 prompts the resample counts come from (seed, number of prompts) (as in
    win_rates_by_group), above from the seed itself.
    """
    s, c, bb = _prepare(scores, clusters, both_bad)
    if method not in CI_METHODS:
        raise ValueError(f"method must be one of {', '.join(CI_METHODS)}; got {method!r}")
    if len(s) == 0:
        return _empty_win_rate(method, confidence)
    groups = np.zeros(len(s), dtype=np.intp)
    (result,) = _win_rates(
        s,
        c,
        bb,
        groups,
        1,
        method,
        confidence,
        n_resamples,
        seed,
        lambda _: np.random.SeedSequence(seed),
    )
    return result


def win_rates_by_group(
    *,
    scores: npt.ArrayLike,
    groups: npt.ArrayLike,
    clusters: npt.ArrayLike | None = None,
    both_bad: npt.ArrayLike | None = None,
    method: CIMethod = "bootstrap",
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[Hashable, WinRate]:
    """win_rate_estimate for each group label: per generator, per category, per criterion.

    Each group's bootstrap resamples its own prompts, and its interval does not change when
    other groups are added: a group of at most 256 prompts gets the interval that
    win_rate_estimate gives its judgments alone (its draws come from (seed, number of
    prompts), shared with every group of that size; see grouped_ratio_resamples), a larger
    group draws from its own seed derived from (seed, label). All groups are computed at once.
    """
    s, c, bb = _prepare(scores, clusters, both_bad)
    g = np.asarray(groups).ravel()
    check_length("groups", g, len(s))
    labels, codes = dense_codes(g)
    if not len(labels):
        return {}

    def seed_of(code: int) -> np.random.SeedSequence:
        return np.random.SeedSequence(label_entropy(seed, labels[code]))

    estimates = _win_rates(
        s, c, bb, codes, len(labels), method, confidence, n_resamples, seed, seed_of
    )
    return {py_value(label): w for label, w in zip(labels, estimates, strict=True)}
