"""The fast paths of annotations.stats give exactly what the plain numpy ways give."""

from __future__ import annotations

import numpy as np
import pytest

from annotations import stats
from annotations.stats.bootstrap import dense_codes


@pytest.mark.parametrize(
    "values",
    [
        np.array([7, 3, 3, 9, 7, 1000], dtype=np.int64),  # compact: counted
        np.array([5, -2, 5, 0], dtype=np.int32),
        np.array([3, 1, 2], dtype=np.uint16),
        np.array([1, 10**12, 5, 1]),  # sparse range: falls back to sorting
        np.array(["b", "a", "b"]),
        np.array([0.5, -1.0, 0.5]),
        np.array([], dtype=np.int64),
    ],
)
def test_dense_codes_match_numpy_unique(values: np.ndarray) -> None:
    labels, codes = dense_codes(values)
    expected_labels, expected_codes = np.unique(values, return_inverse=True)
    assert labels.dtype == expected_labels.dtype
    assert labels.tolist() == expected_labels.tolist()
    assert codes.tolist() == expected_codes.tolist()


def test_agreement_names_the_first_repeated_rating_in_item_and_rater_order() -> None:
    with pytest.raises(ValueError, match="rater 4 judged an item more than once"):
        stats.agreement_measure(
            items=[9, 2, 2, 9, 9], raters=[7, 4, 4, 7, 5], labels=[1, 0, 1, 1, -1]
        )


def test_agreement_on_shuffled_input_is_unchanged() -> None:
    rng = np.random.default_rng(3)
    items = np.repeat(np.arange(300), 3)
    raters = np.concatenate([rng.choice(12, size=3, replace=False) for _ in range(300)])
    labels = rng.integers(-1, 2, size=len(items))
    first = stats.agreement_measure(items=items, raters=raters, labels=labels)
    order = rng.permutation(len(items))
    second = stats.agreement_measure(
        items=items[order] * 1000, raters=raters[order] + 50, labels=labels[order]
    )
    assert first.n_pairs == second.n_pairs == 900
    assert first.pairwise_agreement == second.pairwise_agreement
    assert first.fleiss_kappa == second.fleiss_kappa
    assert first.krippendorff_alpha_ordinal == second.krippendorff_alpha_ordinal
    assert [(p.rater_a + 50, p.rater_b + 50, p.kappa) for p in first.cohen_kappa_by_pair] == [
        (p.rater_a, p.rater_b, p.kappa) for p in second.cohen_kappa_by_pair
    ]
