"""Anytime-valid confidence sequences (stats/confidence_sequences.py), no database: closed forms
from the paper's definitions, monotone properties, the stopping rule, and coverage under
continuous monitoring with optional stopping, where a fixed-n interval checked after every
observation visibly fails."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from annotations.stats import (
    comparison_means,
    confidence_sequence,
    confidence_sequence_path,
    lattice_resolution,
    observations_to_target,
    observations_until,
    stopping_status,
    wilson_interval,
)

ALPHA = 0.05
# Coarser than the default lattice to keep the simulations quick; the outward rounding keeps
# the intervals valid at any resolution.
COARSE = 1e-3
FINE = 1e-4


def _paper_bets(x: list[float]) -> list[float]:
    """The predictable plug-in bets written out from the paper's definitions, one at a time."""
    bets, total, squares = [], 0.0, 0.0
    for t, value in enumerate(x, start=1):
        sigma2_previous = (0.25 + squares) / t  # sigma2_{t-1}, with sigma2_0 = 1/4
        bets.append(math.sqrt(2 * math.log(2 / ALPHA) / (sigma2_previous * t * math.log(1 + t))))
        total += value
        mu_t = (0.5 + total) / (t + 1)
        squares += (value - mu_t) ** 2
    return bets


@pytest.mark.parametrize("n", [3, 4, 5, 10])
def test_after_n_wins_the_lower_end_is_the_closed_form(n: int) -> None:
    # With X_1 = ... = X_n = 1, K-(m) = prod(1 - bet (1 - m)) <= 1 never rules anything out,
    # so the upper end stays 1. Where every bet is at least c/m the truncation binds and
    # K+_n(m) = (1 - c + c/m)^n; theta K+ = 1/alpha then gives m = c / ((1/(theta alpha))^(1/n)
    # - (1 - c)) = 1 / (2 * 40^(1/n) - 1) with c = theta = 1/2, alpha = 0.05.
    exact = 1 / (2 * 40 ** (1 / n) - 1)
    assert min(_paper_bets([1.0] * n)) >= 0.5 / exact  # the truncation does bind there
    cs = confidence_sequence(values=np.ones(n), resolution=FINE)
    assert exact - 2e-4 <= cs.low <= exact  # one lattice step (1e-4) outward at most
    assert cs.high == 1.0
    losses = confidence_sequence(values=np.zeros(n), resolution=FINE)
    assert 1 - exact <= losses.high <= 1 - exact + 2e-4
    assert losses.low == 0.0


def test_closed_form_values_by_hand() -> None:
    # 1 / (2 * 40^(1/5) - 1) = 1 / (2 * 2.0913 - 1) = 0.3142 after five wins in a row.
    assert confidence_sequence(values=np.ones(5), resolution=FINE).low == pytest.approx(
        0.3142, abs=2e-4
    )
    # With a target half-width of 0.5 every bet is 0.5 / sigma2 >= 2 >= c/m for m >= 1/4, so
    # the same closed form holds once the boundary passes 1/4 (five wins: 0.3142).
    targeted = confidence_sequence(values=np.ones(5), target_half_width=0.5, resolution=FINE)
    assert targeted.low == pytest.approx(0.3142, abs=2e-4)
    # The default lattice is coarser (0.0005), and rounds outward: never above the exact end.
    coarse = confidence_sequence(values=np.ones(5))
    assert 0.31421 - 1e-3 <= coarse.low <= 0.31421


def test_one_observation_rules_nothing_out() -> None:
    # bet_1 = sqrt(2 log 40 / (0.25 log 2)) = 6.53, so K+_1(m) <= 1 + 6.53 < 2 / alpha = 40.
    cs = confidence_sequence(values=[1.0])
    assert (cs.low, cs.high, cs.n, cs.mean) == (0.0, 1.0, 1, 1.0)
    empty = confidence_sequence(values=[])
    assert (empty.low, empty.high, empty.half_width, empty.n) == (0.0, 1.0, 0.5, 0)


def test_mirrored_data_give_the_mirrored_interval() -> None:
    rng = np.random.default_rng(7)
    x = rng.binomial(3, 0.7, size=300) / 3
    low, high = confidence_sequence_path(values=x)
    mirror_low, mirror_high = confidence_sequence_path(values=1 - x)
    np.testing.assert_allclose(mirror_low, 1 - high, atol=5e-4 + 1e-12)  # one lattice step
    np.testing.assert_allclose(mirror_high, 1 - low, atol=5e-4 + 1e-12)


@pytest.mark.parametrize("target", [None, 0.05])
def test_the_running_interval_never_widens_and_holds_the_running_mean(
    target: float | None,
) -> None:
    rng = np.random.default_rng(11)
    x = rng.binomial(2, 0.6, size=2000) / 2
    low, high = confidence_sequence_path(values=x, target_half_width=target)
    assert np.all(np.diff(low) >= 0) and np.all(np.diff(high) <= 0)
    running_mean = np.cumsum(x) / np.arange(1, len(x) + 1)
    # From the tenth observation on, the running mean (and a neighbourhood of it) is inside.
    assert np.all(low[9:] < running_mean[9:] - 0.005)
    assert np.all(running_mean[9:] + 0.005 < high[9:])
    # The final interval is narrow around the mean: an anytime interval is wider than the
    # fixed-n one (it pays for looking all the time) but not absurdly so at n = 2000.
    wilson = wilson_interval(p=float(x.mean()), n=len(x))
    ratio = (high[-1] - low[-1]) / (wilson[1] - wilson[0])
    assert 1.0 < ratio < 3.0


def test_the_targeted_bets_reach_the_target_with_far_fewer_observations() -> None:
    # Fixed-n sample size for a half-width of 0.05 at p = 0.5: 1.96^2 * 0.25 / 0.05^2 = 385.
    fixed_n = math.ceil(1.959964**2 * 0.25 / 0.05**2)
    rng = np.random.default_rng(3)
    targeted, untargeted = [], []
    for _ in range(10):
        x = (rng.random(6000) < 0.5).astype(float)
        targeted.append(observations_until(values=x, target_half_width=0.05, resolution=COARSE))
        low, high = confidence_sequence_path(values=x, resolution=COARSE)
        untargeted.append(int(np.argmax((high - low) / 2 <= 0.05)) + 1)
    assert None not in targeted and all(u > 1 for u in untargeted)
    assert 1.2 * fixed_n < np.mean(targeted) < 2.0 * fixed_n
    assert np.mean(untargeted) > 3.0 * fixed_n


def _wilson_path(x: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], ...]:
    """The fixed-n Wilson interval recomputed after every observation (the peeking analyst):
    stats.wilson_interval's formula over all n at once."""
    n = np.arange(1, len(x) + 1)
    p = np.cumsum(x) / n
    z2 = 1.959964**2
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = np.sqrt(z2) / denom * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return np.maximum(0, centre - half), np.minimum(1, centre + half)


def test_the_peeking_wilson_path_is_the_wilson_interval() -> None:
    x = (np.random.default_rng(0).random(50) < 0.4).astype(float)
    low, high = _wilson_path(x)
    for n in (1, 7, 50):
        assert (low[n - 1], high[n - 1]) == pytest.approx(wilson_interval(p=x[:n].mean(), n=n))


def _covered_at_stop(
    low: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    truth: float,
    target: float | None = None,
) -> bool:
    """Stop the first time the interval excludes 0.5 (or is within the target), else at the
    horizon; is the truth inside the interval at that moment?"""
    stop = (low > 0.5) | (high < 0.5)
    if target is not None:
        stop |= (high - low) / 2 <= target
    at = int(np.argmax(stop)) if stop.any() else len(low) - 1
    return bool(low[at] <= truth <= high[at])


def test_coverage_holds_under_peeking_and_optional_stopping_where_wilson_fails() -> None:
    # The truth is 0.5 and the analyst stops as soon as the interval excludes it, checking
    # after every one of up to 200 observations. A valid anytime interval keeps the truth with
    # probability >= 95% (here about 97%); the fixed-n Wilson interval, peeked at the same way,
    # loses it far more often (about 43% of runs).
    rng = np.random.default_rng(2024)
    runs, horizon = 1000, 200
    anytime = peeking = uniform = 0
    for _ in range(runs):
        x = (rng.random(horizon) < 0.5).astype(float)
        low, high = confidence_sequence_path(values=x, resolution=COARSE)
        anytime += _covered_at_stop(low, high, 0.5)
        uniform += bool(np.all((low <= 0.5) & (high >= 0.5)))
        peeking += _covered_at_stop(*_wilson_path(x), 0.5)
    assert anytime / runs >= 0.94  # 0.95 less Monte-Carlo slack (SE about 0.007)
    assert uniform / runs >= 0.94  # the whole path at once, not only the stopped interval
    assert peeking / runs < 0.80


def test_coverage_of_comparison_means_with_the_study_stopping_rule() -> None:
    # Comparisons of k = 3 judgments sharing a prompt effect (beta-binomial, intra-comparison
    # correlation 0.3) with a true win rate of 0.6; stop when the targeted interval is within
    # +-0.08, or excludes 0.5, or after 300 comparisons.
    rng = np.random.default_rng(99)
    truth, icc, k, runs = 0.6, 0.3, 3, 500
    size = 1 / icc - 1
    covered = 0
    for _ in range(runs):
        p = rng.beta(truth * size, (1 - truth) * size, size=300)
        x = rng.binomial(k, p) / k
        low, high = confidence_sequence_path(values=x, target_half_width=0.08, resolution=COARSE)
        covered += _covered_at_stop(low, high, truth, target=0.08)
    assert covered / runs >= 0.93  # 0.95 less Monte-Carlo slack (SE about 0.01)


def test_observations_until_is_the_first_observation_that_meets_the_rule() -> None:
    rng = np.random.default_rng(5)
    x = (rng.random(3000) < 0.8).astype(float)
    low, high = confidence_sequence_path(values=x, target_half_width=0.05)
    precise = int(np.argmax((high - low) / 2 <= 0.05)) + 1
    assert observations_until(values=x, target_half_width=0.05) == precise
    decided = int(np.argmax(low > 0.5)) + 1
    assert decided < precise
    assert observations_until(values=x, target_half_width=0.05, stop_on_decision=True) == decided
    assert observations_until(values=x[: precise - 1], target_half_width=0.05) is None


@pytest.mark.parametrize(
    ("low", "high", "target", "decide", "status"),
    [
        (0.40, 0.60, 0.05, False, "collecting"),
        (0.46, 0.54, 0.05, False, "precise"),  # half-width 0.04
        (0.45, 0.55, 0.05, False, "precise"),  # exactly at the target
        (0.55, 0.75, 0.05, False, "collecting"),  # excludes 0.5, but not asked to decide
        (0.55, 0.75, 0.05, True, "decided"),
        (0.20, 0.45, 0.05, True, "decided"),
        (0.52, 0.58, 0.05, True, "precise"),  # both: precision is the study's target
        (0.40, 0.60, None, True, "collecting"),
        (0.60, 0.62, None, False, "collecting"),  # no rule at all
        (math.nan, math.nan, 0.05, True, "collecting"),
    ],
)
def test_stopping_status(
    low: float, high: float, target: float | None, decide: bool, status: str
) -> None:
    result = stopping_status(low=low, high=high, target_half_width=target, stop_on_decision=decide)
    assert result == status


def test_observations_to_target_agrees_with_the_rule_on_the_true_distribution() -> None:
    # 200 comparisons seen of a 0.7 win rate; the estimate of how many more are needed to reach
    # +-0.04 should match what the rule needs on fresh data from the truth (median of 20).
    rng = np.random.default_rng(8)
    seen = (rng.random(200) < 0.7).astype(float)
    more = observations_to_target(values=seen, target_half_width=0.04)
    truth_runs = []
    for _ in range(20):
        future = np.concatenate((seen, (rng.random(20000) < 0.7).astype(float)))
        truth_runs.append(observations_until(values=future, target_half_width=0.04) - 200)
    expected = float(np.median(truth_runs))
    assert more is not None and abs(more - expected) < 0.25 * expected


def test_observations_to_target_edges() -> None:
    assert observations_to_target(values=np.ones(5), target_half_width=0.1) is None  # too few
    rng = np.random.default_rng(1)
    many = (rng.random(3000) < 0.5).astype(float)
    assert observations_to_target(values=many, target_half_width=0.4) == 0  # already there


def test_comparison_means_are_ordered_by_completion_and_use_the_first_k() -> None:
    # Comparison 7 completes at the 4th judgment, 3 at the 5th, 9 is still open; 3's third
    # judgment (the 6th) is past k = 2 and ignored.
    comparisons = [3, 7, 9, 7, 3, 3]
    scores = [1.0, 0.5, 1.0, 0.0, 0.5, 0.0]
    means = comparison_means(comparisons=comparisons, scores=scores, k=2)
    np.testing.assert_allclose(means, [0.25, 0.75])
    np.testing.assert_allclose(comparison_means(comparisons=[1, 2], scores=[1, 0], k=1), [1, 0])
    assert len(comparison_means(comparisons=[], scores=[], k=3)) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": [0.5, 1.2]}, r"\[0, 1\]; got 1.2 at index 1"),
        ({"values": [float("nan")]}, "at index 0"),
        ({"values": [0.5], "alpha": 1.5}, "alpha must be between 0 and 1"),
        ({"values": [0.5], "target_half_width": 0.0}, "target half-width"),
        ({"values": [0.5], "resolution": 0.5}, "resolution"),
        ({"values": [0.5], "resolution": 0.0}, "resolution"),
    ],
)
def test_bad_input_is_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        confidence_sequence(**kwargs)


def test_the_default_lattice_follows_the_target() -> None:
    assert lattice_resolution(target_half_width=None) == 5e-4
    assert lattice_resolution(target_half_width=0.05) == 5e-4
    assert lattice_resolution(target_half_width=0.02) == pytest.approx(2e-4)
    assert lattice_resolution(target_half_width=0.005) == 1e-4
