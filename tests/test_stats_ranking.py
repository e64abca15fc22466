"""CI-aware ranks and Holm-adjusted p-values, against hand-worked answers (no database)."""

from __future__ import annotations

import math

import numpy as np

from annotations.stats import ci_aware_ranks, holm_adjust


def test_a_rank_counts_only_the_intervals_wholly_above() -> None:
    # A [0.70, 0.90], B [0.60, 0.80], C [0.40, 0.55], D [0.10, 0.30].
    # A: nothing above -> 1. B: A's low 0.70 < B's high 0.80, overlap -> 1.
    # C: A and B lie wholly above (0.70, 0.60 > 0.55) -> 3. D: A, B, C above -> 4.
    ranks = ci_aware_ranks(ci_low=[0.70, 0.60, 0.40, 0.10], ci_high=[0.90, 0.80, 0.55, 0.30])
    assert ranks.tolist() == [1, 1, 3, 4]


def test_touching_intervals_share_a_rank_and_a_missing_interval_ranks_first() -> None:
    # B's low equals C's high: not wholly above. The NaN row has no interval.
    ranks = ci_aware_ranks(ci_low=[0.5, 0.3, math.nan], ci_high=[0.6, 0.5, math.nan])
    assert ranks.tolist() == [1, 1, 1]


def test_holm_matches_the_step_down_worked_by_hand() -> None:
    # Sorted: 0.005 x4 = 0.020; 0.01 x3 = 0.030; 0.03 x2 = 0.060; 0.04 x1 = 0.040 -> running
    # maximum 0.060. Back in input order: [0.03, 0.06, 0.06, 0.02].
    adjusted = holm_adjust(p_values=[0.01, 0.04, 0.03, 0.005])
    assert np.allclose(adjusted, [0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_leaves_missing_values_out_of_the_count() -> None:
    adjusted = holm_adjust(p_values=[0.6, math.nan, 0.2])
    # m = 2: 0.2 x2 = 0.4; 0.6 x1 = 0.6.
    assert np.isnan(adjusted[1])
    assert np.allclose(adjusted[[0, 2]], [0.6, 0.4])
    assert holm_adjust(p_values=[0.9, 0.8]).tolist() == [1.0, 1.0]
