"""Study planning (stats/planning.py), no database: fixed-n sizes against the published survey
sizes and by hand, the design effect, the anytime-valid rule by simulation, and the ICC
estimator against hand-worked examples and simulations with a known ICC."""

from __future__ import annotations

import math

import numpy as np
import pytest

from annotations.stats import (
    anytime_sample_size,
    comparison_means_simulate,
    design_effect,
    fixed_sample_size,
    icc_estimate,
    observations_until,
)


@pytest.mark.parametrize(
    ("half_width", "n"),
    # The sample sizes every survey table gives for a proportion of 50% at 95%: 1.96^2 * 0.25
    # / H^2 rounded up (9,604 for +-1%, 2,401 for +-2%, 1,068 for +-3%, 385 for +-5%).
    [(0.01, 9604), (0.02, 2401), (0.03, 1068), (0.05, 385), (0.10, 97)],
)
def test_fixed_n_for_independent_judgments_is_the_survey_table(half_width: float, n: int) -> None:
    plan = fixed_sample_size(win_rate=0.5, half_width=half_width)
    assert (plan.comparisons, plan.judgments, plan.judgments_if_independent) == (n, n, n)
    assert plan.design_effect == 1.0


def test_fixed_n_with_clustering_by_hand() -> None:
    # P = 0.7, H = 0.04, K = 3 raters, ICC 0.25: n0 = 1.959964^2 * 0.21 / 0.0016 = 504.19
    # independent judgments; deff = 1 + 2 * 0.25 = 1.5, so 504.19 * 1.5 / 3 = 252.09 -> 253
    # comparisons (prompts per candidate) and 759 judgments.
    plan = fixed_sample_size(win_rate=0.7, half_width=0.04, raters_per_comparison=3, icc=0.25)
    assert plan.design_effect == 1.5
    assert plan.judgments_if_independent == 505
    assert (plan.comparisons, plan.judgments) == (253, 759)
    # Unanimous comparisons (ICC 1) carry one judgment's information: as many comparisons as
    # independent judgments, K times the judgments.
    unanimous = fixed_sample_size(win_rate=0.7, half_width=0.04, raters_per_comparison=3, icc=1)
    assert (unanimous.comparisons, unanimous.judgments) == (505, 1515)


def test_design_effect_is_kish() -> None:
    assert design_effect(raters_per_comparison=1, icc=0.9) == 1.0
    assert design_effect(raters_per_comparison=5, icc=0.25) == 2.0
    assert design_effect(raters_per_comparison=3, icc=0.0) == 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"win_rate": 1.0, "half_width": 0.05}, "win rate must be between 0 and 1"),
        ({"win_rate": 0.0, "half_width": 0.05}, "win rate must be between 0 and 1"),
        ({"win_rate": 0.5, "half_width": 0.0}, r"half-width must be in \(0, 0.5\]"),
        ({"win_rate": 0.5, "half_width": 0.6}, r"half-width must be in \(0, 0.5\]"),
        ({"win_rate": 0.5, "half_width": 0.05, "raters_per_comparison": 0}, "at least 1"),
        ({"win_rate": 0.5, "half_width": 0.05, "icc": -0.1}, "ICC must be between 0 and 1"),
        ({"win_rate": 0.5, "half_width": 0.05, "icc": 1.1}, "ICC must be between 0 and 1"),
    ],
)
def test_bad_plans_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fixed_sample_size(**kwargs)
    with pytest.raises(ValueError, match=message):
        anytime_sample_size(**kwargs, runs=2)


@pytest.mark.parametrize(("icc", "k"), [(0.0, 3), (0.3, 3), (0.6, 2), (1.0, 4)])
def test_simulated_comparisons_have_the_win_rate_and_the_icc(icc: float, k: int) -> None:
    rng = np.random.default_rng(4)
    means = comparison_means_simulate(
        win_rate=0.65, raters_per_comparison=k, icc=icc, size=40000, rng=rng
    )
    assert means.mean() == pytest.approx(0.65, abs=0.01)
    # Var(mean of k) = P (1 - P) (1 + (k - 1) rho) / k for the beta-binomial.
    expected = 0.65 * 0.35 * (1 + (k - 1) * icc) / k
    assert means.var() == pytest.approx(expected, rel=0.05)


def test_anytime_rule_needs_about_one_and_a_half_fixed_n_designs() -> None:
    fixed = fixed_sample_size(win_rate=0.5, half_width=0.05)
    plan = anytime_sample_size(win_rate=0.5, half_width=0.05, runs=32, seed=1)
    assert plan.reached == 1.0 and plan.runs == 32
    assert 1.3 * fixed.comparisons < plan.comparisons_mean < 1.8 * fixed.comparisons
    assert plan.comparisons_median <= plan.comparisons_p90
    assert plan.judgments_mean == plan.comparisons_mean
    # The same seed gives the same plan.
    again = anytime_sample_size(win_rate=0.5, half_width=0.05, runs=32, seed=1)
    assert again == plan


def test_anytime_rule_is_the_rule_applied_to_the_simulated_data() -> None:
    # Two runs by hand with the generator the plan uses: the plan's mean is their mean.
    plan = anytime_sample_size(
        win_rate=0.6, half_width=0.08, raters_per_comparison=3, icc=0.2, runs=2, seed=5
    )
    rng = np.random.default_rng(5)
    by_hand = []
    for _ in range(2):
        x = comparison_means_simulate(
            win_rate=0.6, raters_per_comparison=3, icc=0.2, size=plan.horizon, rng=rng
        )
        by_hand.append(observations_until(values=x, target_half_width=0.08))
    assert plan.comparisons_mean == np.mean(by_hand)
    assert plan.judgments_mean == 3 * np.mean(by_hand)


def test_clustering_and_decisions_move_the_anytime_plan_the_right_way() -> None:
    independent = anytime_sample_size(
        win_rate=0.7, half_width=0.05, raters_per_comparison=3, icc=0.0, runs=16
    )
    clustered = anytime_sample_size(
        win_rate=0.7, half_width=0.05, raters_per_comparison=3, icc=0.5, runs=16
    )
    deciding = anytime_sample_size(
        win_rate=0.7,
        half_width=0.05,
        raters_per_comparison=3,
        icc=0.5,
        stop_on_decision=True,
        runs=16,
    )
    # deff 1 vs 2: about twice the comparisons; a win rate 20 points above 50% is decided long
    # before it is precise to +-5 points.
    assert 1.6 < clustered.comparisons_mean / independent.comparisons_mean < 2.4
    assert deciding.comparisons_mean < 0.5 * clustered.comparisons_mean


def test_icc_of_three_pairs_by_hand() -> None:
    # Groups {1, 1}, {0, 0}, {1, 0}: grand mean 1/2; SSB = 2 (1/4 + 1/4 + 0) = 1, MSB = 1/2;
    # SSW = 0 + 0 + 1/2, MSW = (1/2) / 3 = 1/6; n0 = 2; ICC = (1/2 - 1/6) / (1/2 + 1/6) = 1/2.
    est = icc_estimate(scores=[1, 1, 0, 0, 1, 0], groups=[1, 1, 2, 2, 3, 3])
    assert est.icc == pytest.approx(0.5)
    assert (est.ms_between, est.ms_within, est.mean_group_size) == pytest.approx((0.5, 1 / 6, 2))
    assert (est.n_observations, est.n_groups, est.n_strata) == (6, 3, 1)


def test_icc_with_unequal_groups_by_hand() -> None:
    # Groups {1, 1, 1}, {0, 0}, {1, 0, 0, 1}: N = 9, grand mean 5/9.
    # SSB = 3 (4/9)^2 + 2 (5/9)^2 + 4 (1/18)^2 = 11/9, MSB = 11/18; SSW = 1, MSW = 1/6;
    # n0 = (9 - (9 + 4 + 16) / 9) / 2 = 26/9; ICC = (11/18 - 3/18) / (11/18 + (17/9) / 6) = 0.48.
    est = icc_estimate(scores=[1, 1, 1, 0, 0, 1, 0, 0, 1], groups=list("aaabbcccc"))
    assert est.icc == pytest.approx(0.48)
    assert est.mean_group_size == pytest.approx(26 / 9)


def test_icc_within_strata_by_hand() -> None:
    # Two candidates with the same pattern {1, 1}, {0, 0}, {1, 0} twice each, so each has mean
    # 1/2: SSB = 4, df = 12 - 2 = 10, MSB = 0.4; SSW = 2, df = 24 - 12, MSW = 1/6; n0 = (24 -
    # 2 * 24 / 12) / 10 = 2; ICC = (0.4 - 1/6) / (0.4 + 1/6) = 7/17.
    pattern = [1, 1, 0, 0, 1, 0] * 2
    scores = pattern * 2
    groups = np.repeat(np.arange(12), 2)
    strata = np.repeat(["alpha", "beta"], 12)
    est = icc_estimate(scores=scores, groups=groups, strata=strata)
    assert est.icc == pytest.approx(7 / 17)
    assert est.n_strata == 2


def test_negative_estimates_are_clipped_for_planning() -> None:
    # Every comparison split 1/0: judgments on one comparison disagree more than chance.
    est = icc_estimate(scores=[1, 0] * 5, groups=np.repeat(np.arange(5), 2))
    assert est.icc_raw == pytest.approx(-1.0) and est.icc == 0.0
    unanimous = icc_estimate(scores=[1, 1, 0, 0, 1, 1], groups=[1, 1, 2, 2, 3, 3])
    assert unanimous.icc == 1.0


@pytest.mark.parametrize(("icc", "k"), [(0.1, 3), (0.3, 3), (0.5, 2)])
def test_icc_estimate_recovers_a_known_icc(icc: float, k: int) -> None:
    rng = np.random.default_rng(12)
    groups = 3000
    size = 1 / icc - 1
    p = rng.beta(0.6 * size, 0.4 * size, size=groups)
    scores = (rng.random((groups, k)) < p[:, None]).astype(float).ravel()
    est = icc_estimate(scores=scores, groups=np.repeat(np.arange(groups), k))
    assert est.icc == pytest.approx(icc, abs=0.035)


def test_strata_keep_different_win_rates_from_passing_for_correlation() -> None:
    # Two candidates at 0.2 and 0.8, judgments within a comparison correlated 0.2: pooled, the
    # gap between candidates looks like a large correlation; within candidates it is 0.2.
    rng = np.random.default_rng(21)
    scores, groups, strata = [], [], []
    for code, rate in enumerate((0.2, 0.8)):
        size = 1 / 0.2 - 1
        p = rng.beta(rate * size, (1 - rate) * size, size=2000)
        scores.append((rng.random((2000, 3)) < p[:, None]).astype(float).ravel())
        groups.append(np.repeat(np.arange(2000) + 2000 * code, 3))
        strata.append(np.full(6000, code))
    scores_all, groups_all = np.concatenate(scores), np.concatenate(groups)
    within = icc_estimate(scores=scores_all, groups=groups_all, strata=np.concatenate(strata))
    pooled = icc_estimate(scores=scores_all, groups=groups_all)
    assert within.icc == pytest.approx(0.2, abs=0.035)
    assert pooled.icc > 0.4


@pytest.mark.parametrize(
    ("scores", "groups", "strata", "message"),
    [
        ([1, 0, 1], [1, 2, 3], None, "at least one group with two or more"),
        ([1, 0], [1, 1], None, "more groups than strata"),
        ([1, 0, 1], [1, 1], None, "groups has 2 entries but scores has 3"),
        ([1, 0, 1, 1], [1, 1, 2, 2], ["a", "b", "a", "a"], "within one stratum"),
    ],
)
def test_icc_refuses_what_it_cannot_estimate(
    scores: list[float], groups: list[int], strata: list[str] | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        icc_estimate(scores=scores, groups=groups, strata=strata)


def test_constant_scores_have_no_icc() -> None:
    est = icc_estimate(scores=[1, 1, 1, 1], groups=[1, 1, 2, 2])
    assert math.isnan(est.icc) and math.isnan(est.icc_raw)
