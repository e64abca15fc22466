"""The rater quality signals against hand-computed examples, and the outlier e-value's validity."""

from __future__ import annotations

import numpy as np
import pytest

from annotations.stats import QualityThresholds, quality_thresholds_build, rater_quality_measure


def _measure(**arrays: list) -> dict:
    n = len(arrays["rater"])
    arrays.setdefault("left_is_a", [True] * n)
    arrays.setdefault("duration_ms", [-1] * n)
    arrays.setdefault("order", list(range(n)))
    thresholds = arrays.pop("thresholds", None)
    rows = rater_quality_measure(**arrays, thresholds=thresholds)
    return {row.rater: row for row in rows}


def test_agreement_is_with_the_strict_majority_of_the_others_and_ties_are_an_answer() -> None:
    # Comparison 1: x=a, y=a, z=b. x: others {a, b}, no majority. y: likewise. z: others
    #   {a, a}, majority a, z said b: disagrees.
    # Comparison 2: x=tie, y=tie, z=tie. Everyone's others are {tie, tie}: all agree.
    # Comparison 3: x=a, y=b, z=tie, w=a. x: others {b, tie, a}: a is 1 of 3, no majority.
    #   w: likewise. y: others {a, tie, a}: a has 2 of 3 > half, y said b: disagrees.
    #   z: others {a, b, a}: majority a, z said tie: disagrees.
    rows = _measure(
        rater=["x", "y", "z", "x", "y", "z", "x", "y", "z", "w"],
        comparison=[1, 1, 1, 2, 2, 2, 3, 3, 3, 3],
        sign=[1, 1, -1, 0, 0, 0, 1, -1, 0, 1],
    )
    assert (rows["x"].agreement_n, rows["x"].agreement) == (1, 1.0)
    assert (rows["y"].agreement_n, rows["y"].agreement) == (2, 0.5)
    assert (rows["z"].agreement_n, rows["z"].agreement) == (3, 1 / 3)
    assert (rows["w"].agreement_n, rows["w"].agreement) == (0, None)


def test_agreement_reads_the_sign_of_likert_answers() -> None:
    # +2 and +1 are the same answer (a), so z's +3 agrees with the others' majority.
    rows = _measure(rater=["x", "y", "z"], comparison=[1, 1, 1], sign=[2, 1, 3])
    assert (rows["z"].agreement_n, rows["z"].agreement) == (1, 1.0)


def test_left_share_and_binomial_p_value_over_non_tie_judgments() -> None:
    # On screen: a with a on the left = left; b with a on the left = right; a with a on the
    # right = right; b with a on the right = left; ties are left out.
    # x: left, left, right, left, tie -> 3 of 4 left; p = P(|X - 2| >= 1) for Bin(4, 1/2)
    #   = 1 - P(X = 2) = 1 - 6/16 = 10/16.
    rows = _measure(
        rater=["x"] * 5,
        comparison=[1, 2, 3, 4, 5],
        sign=[1, -1, 1, -1, 0],
        left_is_a=[True, False, False, False, True],
    )
    assert (rows["x"].left_n, rows["x"].left_share) == (4, 0.75)
    assert rows["x"].left_p_value == pytest.approx(10 / 16)
    # Always left, 20 times: p = 2 / 2^20 < 0.001, flagged for position.
    rows = _measure(
        rater=["y"] * 20,
        comparison=list(range(20)),
        sign=[1, -1] * 10,
        left_is_a=[True, False] * 10,
    )
    assert rows["y"].left_share == 1.0
    assert rows["y"].left_p_value == pytest.approx(2 / 2**20)
    assert rows["y"].reasons == ("position", "streak")


def test_speed_ignores_untimed_judgments_and_min_seconds_zero_turns_it_off() -> None:
    # Durations 1 s, 2.5 s, 4 s, 10 s and one imported (unknown): median of the four timed
    # = (2.5 + 4) / 2 = 3.25 s; under 3 s: 1 and 2.5 -> 2 of 4.
    arrays = dict(
        rater=["x"] * 5,
        comparison=[1, 2, 3, 4, 5],
        sign=[1, 1, 1, -1, 0],
        duration_ms=[1000, 2500, 4000, 10000, -1],
    )
    x = _measure(**arrays)["x"]
    assert (x.timed_n, x.median_seconds, x.too_fast_share) == (4, 3.25, 0.5)
    off = _measure(**arrays, thresholds=quality_thresholds_build(min_seconds=0))["x"]
    assert (off.timed_n, off.median_seconds, off.too_fast_share) == (4, 3.25, None)
    # 21 timed judgments, 11 under 3 s: 11/21 > 0.5 -> flagged; with 10 fast it is not.
    fast = _measure(
        rater=["y"] * 21,
        comparison=list(range(21)),
        sign=[1, -1, 0] * 7,
        left_is_a=[True] * 21,
        duration_ms=[500] * 11 + [5000] * 10,
    )["y"]
    assert fast.too_fast_share == pytest.approx(11 / 21) and "speed" in fast.reasons
    slow = _measure(
        rater=["y"] * 21,
        comparison=list(range(21)),
        sign=[1, -1, 0] * 7,
        duration_ms=[500] * 10 + [5000] * 11,
    )["y"]
    assert "speed" not in slow.reasons


def test_longest_streak_follows_the_raters_own_order_of_judging() -> None:
    # In array order the answers are L L R L L L, but the order keys put them as
    # (order 0) L, (1) L, (2) L, (3) R, (4) L, (5) L -> longest run 3 (the first three).
    rows = _measure(
        rater=["x"] * 6,
        comparison=[1, 2, 3, 4, 5, 6],
        sign=[1, 1, -1, 1, 1, 1],
        order=[0, 1, 3, 2, 4, 5],
    )
    assert rows["x"].longest_streak == 3
    # Order ties keep the array order: L L R L L L -> 3 as well, the last three.
    assert (
        _measure(
            rater=["x"] * 6, comparison=[1, 2, 3, 4, 5, 6], sign=[1, 1, -1, 1, 1, 1], order=[0] * 6
        )["x"].longest_streak
        == 3
    )
    # The same on-screen side is a streak even when the canonical answer alternates.
    left = _measure(
        rater=["y"] * 15,
        comparison=list(range(15)),
        sign=[1, -1] * 7 + [1],
        left_is_a=[True, False] * 7 + [True],
    )["y"]
    assert left.longest_streak == 15 and "streak" in left.reasons


def test_outlier_score_is_the_product_of_conformal_e_values_worked_by_hand() -> None:
    # Comparison 1: x=a, y=a, z=b (n = 3). s = (n + 1 - count) / (n + 1): s(a) = 2/4,
    #   s(b) = 3/4; mean s = (2 * 2/4 + 3/4) / 3 = 7/12. e(a) = (1/2) / (7/12) = 6/7,
    #   e(b) = (3/4) / (7/12) = 9/7 (the three e-values sum to 3).
    # Comparison 2: x=a, y=tie, z=b, w=b (n = 4): s(a) = s(tie) = 4/5, s(b) = 3/5;
    #   mean s = (4/5 + 4/5 + 2 * 3/5) / 4 = 7/10. e(a) = e(tie) = 8/7, e(b) = 6/7.
    # Comparison 3: only x and y: fewer than two others, e = 1, not counted.
    rows = _measure(
        rater=["x", "y", "z", "x", "y", "z", "w", "x", "y"],
        comparison=[1, 1, 1, 2, 2, 2, 2, 3, 3],
        sign=[1, 1, -1, 1, 0, -1, -1, 1, -1],
    )
    assert (rows["x"].outlier_n, rows["x"].outlier_score) == (2, pytest.approx(6 / 7 * 8 / 7))
    assert rows["y"].outlier_score == pytest.approx(6 / 7 * 8 / 7)
    assert rows["z"].outlier_score == pytest.approx(9 / 7 * 6 / 7)
    assert (rows["w"].outlier_n, rows["w"].outlier_score) == (1, pytest.approx(6 / 7))


def test_a_unanimous_crowd_gives_an_agreeing_rater_no_evidence() -> None:
    rows = _measure(rater=["x", "y", "z"], comparison=[1, 1, 1], sign=[1, 1, 1])
    assert all(row.outlier_score == pytest.approx(1.0) for row in rows.values())


def _world(
    rng: np.random.Generator, honest: int, bad: int, comparisons: int, per: int
) -> dict[str, np.ndarray]:
    """`comparisons` comparisons, each judged by `per` raters drawn from honest + bad; honest
    raters answer a/tie/b from the comparison's own hidden probabilities, bad ones uniformly."""
    truth = rng.dirichlet([0.6, 0.3, 0.6], size=comparisons)
    raters, comps, signs = [], [], []
    for c in range(comparisons):
        chosen = rng.choice(honest + bad, size=per, replace=False)
        for r in chosen:
            p = truth[c] if r < honest else np.full(3, 1 / 3)
            raters.append(r)
            comps.append(c)
            signs.append(rng.choice([1, 0, -1], p=p))
    return {"rater": np.array(raters), "comparison": np.array(comps), "sign": np.array(signs)}


def test_the_outlier_e_value_has_mean_at_most_one_for_honest_raters() -> None:
    rng = np.random.default_rng(7)
    finals = []
    for _ in range(40):
        world = _world(rng, honest=10, bad=0, comparisons=60, per=4)
        n = len(world["rater"])
        rows = rater_quality_measure(
            **world, left_is_a=np.ones(n, bool), duration_ms=np.full(n, -1), order=np.arange(n)
        )
        finals += [row.outlier_score for row in rows]
    # 400 honest raters with about 24 judgments each. E[e] = 1 exactly under H0; the sample
    # mean of a heavy-tailed product sits at or below it, and few pass the 0.05 level.
    assert np.mean(finals) <= 1.2
    assert np.mean(np.array(finals) >= 20) <= 0.05


def test_the_outlier_e_value_grows_large_for_random_raters() -> None:
    rng = np.random.default_rng(11)
    world = _world(rng, honest=12, bad=3, comparisons=300, per=5)
    n = len(world["rater"])
    rows = rater_quality_measure(
        **world, left_is_a=np.ones(n, bool), duration_ms=np.full(n, -1), order=np.arange(n)
    )
    random_raters = [row for row in rows if row.rater >= 12]
    honest = [row for row in rows if row.rater < 12]
    assert all(row.outlier_score >= 20 and "outlier" in row.reasons for row in random_raters)
    assert sum("outlier" in row.reasons for row in honest) <= 1


def test_no_rater_is_flagged_on_fewer_observations_than_the_minimum() -> None:
    # 19 comparisons where x always disagrees with two agreeing others: agreement 0 on 19,
    # below the minimum of 20; with the minimum lowered to 19, flagged.
    rater = ["x", "y", "z"] * 19
    comparison = np.repeat(np.arange(19), 3)
    sign = [-1, 1, 1] * 19
    left_is_a = comparison % 2 == 0  # no rater sees one side all the time
    rows = _measure(rater=rater, comparison=comparison, sign=sign, left_is_a=left_is_a)
    assert rows["x"].agreement == 0.0 and "agreement" not in rows["x"].reasons
    lowered = quality_thresholds_build(overrides={"agreement_min_n": 19})
    rows = _measure(
        rater=rater, comparison=comparison, sign=sign, thresholds=lowered, left_is_a=left_is_a
    )
    assert rows["x"].reasons == ("agreement", "outlier")
    # The lone dissenter's e-value: (9/7)^19 (about 118) on 19 comparisons.
    assert rows["x"].outlier_score == pytest.approx((9 / 7) ** 19)
    assert not rows["y"].flagged


def test_threshold_overrides_are_checked() -> None:
    assert quality_thresholds_build() == QualityThresholds()
    assert quality_thresholds_build(overrides={"streak_at_least": 30}).streak_at_least == 30
    with pytest.raises(ValueError, match="unknown"):
        quality_thresholds_build(overrides={"streak": 3})
    with pytest.raises(ValueError, match=">= 0"):
        quality_thresholds_build(overrides={"streak_at_least": "many"})
    with pytest.raises(ValueError, match="unknown"):
        quality_thresholds_build(overrides={"min_seconds": 2})
    assert [reason for reason, _ in QualityThresholds().describe()] == [
        "gold",
        "consistency",
        "agreement",
        "position",
        "speed",
        "streak",
        "outlier",
    ]
