"""The win matrix: games, wins and ties of every pair of models, against hand counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.core.cache import cache

from annotations.analysis.cache import study_results
from annotations.analysis.inputs import JudgmentArrays
from annotations.analysis.win_matrix import (
    study_win_matrix,
    win_matrix_cells,
    win_matrix_compute,
    win_matrix_rate,
)
from tests.results_support import hand_study, import_rows


def _arrays(pairs: list[tuple[int, int, int]]) -> JudgmentArrays:
    """Judgments as (generator_a, generator_b, preference) rows, everything else filler."""
    n = len(pairs)
    a, b, pref = (np.array([p[k] for p in pairs], dtype=np.int64) for k in range(3))
    zeros = np.zeros(n, dtype=np.int64)
    return JudgmentArrays(
        id=np.arange(1, n + 1, dtype=np.int64),
        comparison=zeros,
        generator_a=a,
        generator_b=b,
        prompt=zeros,
        rater=zeros,
        category=np.zeros(n, dtype=np.int32),
        preference=pref.astype(np.int16),
        both_bad=np.zeros(n, dtype=np.bool_),
        left_is_a=np.ones(n, dtype=np.bool_),
        duration_ms=zeros - 1,
        categories=("",),
    )


def test_counts_follow_the_sign_of_each_preference_on_either_side() -> None:
    # 10 = X, 20 = Y, 30 = Z. Likert strengths count by their sign; 0 is a tie.
    arrays = _arrays(
        [
            (10, 20, 1),  # X beats Y
            (10, 20, 2),  # X beats Y (strength 2)
            (20, 10, 1),  # Y beats X, with Y stored as output a
            (10, 20, 0),  # tie
            (30, 10, -1),  # X beats Z (Z stored as a, b preferred)
        ]
    )
    m = win_matrix_compute(arrays=arrays, names={10: "X", 20: "Y", 30: "Z"}, order=["Z", "X"])
    assert m["models"] == ["Z", "X", "Y"]  # the given order first, then by name
    z, x, y = 0, 1, 2
    assert m["wins"][x][y] == 2 and m["wins"][y][x] == 1
    assert m["ties"][x][y] == m["ties"][y][x] == 1
    assert m["games"][x][y] == m["games"][y][x] == 4
    assert m["wins"][x][z] == 1 and m["wins"][z][x] == 0 and m["games"][z][x] == 1
    assert m["games"][y][z] == 0 and m["games"][x][x] == 0
    assert win_matrix_rate(m, x, y) == pytest.approx((2 + 0.5) / 4)
    assert win_matrix_rate(m, y, x) == pytest.approx((1 + 0.5) / 4)
    assert win_matrix_rate(m, y, z) is None


def test_cells_list_each_pair_from_both_sides() -> None:
    arrays = _arrays([(1, 2, 1), (1, 2, -1), (1, 2, 1)])
    cells = win_matrix_cells(win_matrix_compute(arrays=arrays, names={1: "A", 2: "B"}))
    assert cells == [
        {
            "model": "A",
            "opponent": "B",
            "games": 3,
            "wins": 2,
            "ties": 0,
            "losses": 1,
            "win_rate": pytest.approx(2 / 3),
        },
        {
            "model": "B",
            "opponent": "A",
            "games": 3,
            "wins": 1,
            "ties": 0,
            "losses": 2,
            "win_rate": pytest.approx(1 / 3),
        },
    ]


def test_a_study_without_judgments_has_an_empty_matrix() -> None:
    m = win_matrix_compute(arrays=_arrays([]), names={})
    assert m == {"models": [], "games": [], "wins": [], "ties": []}


@pytest.mark.django_db
def test_the_hand_study_matrix_and_its_cache(tmp_path: Path) -> None:
    cache.clear()
    study = hand_study(tmp_path)
    results = study_results(study=study)
    m = study_win_matrix(study=study, results=results)
    assert m["models"] == [r["name"] for r in results["bradley_terry"]]
    at = {name: i for i, name in enumerate(m["models"])}
    alpha, beta, base = at["Alpha"], at["Beta"], at["Base"]
    # tests/results_support.py: Alpha 3-2-2 against Base, Beta 1-1-2, Alpha 2-0 over Beta.
    assert (m["wins"][alpha][base], m["ties"][alpha][base], m["wins"][base][alpha]) == (3, 2, 2)
    assert (m["wins"][beta][base], m["ties"][beta][base], m["wins"][base][beta]) == (1, 1, 2)
    assert (m["wins"][alpha][beta], m["wins"][beta][alpha], m["games"][alpha][beta]) == (2, 0, 2)
    # A new judgment is a new version of the results, and a new matrix.
    import_rows(study, tmp_path, [("p4", "Beta", "Alpha", "left", "r3")])
    fresh = study_win_matrix(study=study, results=study_results(study=study))
    at = {name: i for i, name in enumerate(fresh["models"])}
    assert (
        fresh["wins"][at["Beta"]][at["Alpha"]] == 1 and fresh["games"][at["Alpha"]][at["Beta"]] == 3
    )
