"""The win matrix of a study: for every pair of models, the games between them and who won.

win_matrix_compute() is pure (judgment arrays in, JSON-ready data out), so it is tested on hand
counts with no database. study_win_matrix() reads the arrays and caches the matrix beside the
results it goes with, under their version, as analysis/cache.py does for the results.

A "game" is one judgment of a comparison between the two models, whatever else the study
compares: every judgment counts, as in the Bradley-Terry fit. Ties and "both bad" are ties and
count half in the win rate, as everywhere in the results.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from annotations.analysis.inputs import JudgmentArrays

if TYPE_CHECKING:
    from annotations.models import Study

CACHE_SECONDS = 24 * 3600
# Bump when the shape below changes, so cached entries of an older shape are ignored.
WIN_MATRIX_VERSION = 1


def win_matrix_compute(
    *, arrays: JudgmentArrays, names: Mapping[int, str], order: Sequence[str] = ()
) -> dict[str, Any]:
    """The win matrix of `arrays`, whose generator ids `names` maps to model names.

    Returns {"models": [...], "games": G x G, "wins": G x G, "ties": G x G} where wins[i][j]
    counts the judgments in which models[i] was preferred to models[j] and games[i][j] =
    wins[i][j] + wins[j][i] + ties[i][j]. Only models with at least one game appear: those
    named in `order` first, in that order (the page passes the Bradley-Terry ranking), then the
    rest by name.
    """
    ids = np.union1d(arrays.generator_a, arrays.generator_b)
    known = [int(i) for i in ids.tolist()]
    by_name = {names[i]: i for i in known}
    ordered = [n for n in dict.fromkeys(order) if n in by_name]
    ordered += sorted(n for n in by_name if n not in set(ordered))
    position = {by_name[n]: k for k, n in enumerate(ordered)}
    size = len(ordered)
    lookup = np.array([position[i] for i in known], dtype=np.int64)
    row_a = lookup[np.searchsorted(ids, arrays.generator_a)]
    row_b = lookup[np.searchsorted(ids, arrays.generator_b)]
    sign = np.sign(arrays.preference.astype(np.int64))
    wins = np.zeros((size, size), dtype=np.int64)
    ties = np.zeros((size, size), dtype=np.int64)
    np.add.at(wins, (row_a[sign > 0], row_b[sign > 0]), 1)
    np.add.at(wins, (row_b[sign < 0], row_a[sign < 0]), 1)
    tied = sign == 0
    np.add.at(ties, (row_a[tied], row_b[tied]), 1)
    ties = ties + ties.T
    games = wins + wins.T + ties
    return {
        "models": ordered,
        "games": games.tolist(),
        "wins": wins.tolist(),
        "ties": ties.tolist(),
    }


def win_matrix_rate(matrix: Mapping[str, Any], i: int, j: int) -> float | None:
    """models[i]'s win rate against models[j], ties counting half; None without games."""
    games = matrix["games"][i][j]
    if not games:
        return None
    return (matrix["wins"][i][j] + 0.5 * matrix["ties"][i][j]) / games


def win_matrix_cells(matrix: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per ordered pair of models that met: model, opponent, games, wins, ties,
    losses, win_rate (each unordered pair appears twice, once from each side)."""
    models = matrix["models"]
    out = []
    for i, model in enumerate(models):
        for j, opponent in enumerate(models):
            games = matrix["games"][i][j]
            if i == j or not games:
                continue
            out.append(
                {
                    "model": model,
                    "opponent": opponent,
                    "games": games,
                    "wins": matrix["wins"][i][j],
                    "ties": matrix["ties"][i][j],
                    "losses": matrix["wins"][j][i],
                    "win_rate": win_matrix_rate(matrix, i, j),
                }
            )
    return out


def study_win_matrix(*, study: Study, results: Mapping[str, Any]) -> dict[str, Any]:
    """The win matrix of `study` beside `results` (models in its Bradley-Terry order), cached
    until a judgment arrives (the results' version changes then).

    It counts the judgments the results counted: the filters they state under "filters" are
    read back (every stated value selects the same judgments again).
    """
    # Read here, not at the top: the pure function above is imported with no database.
    from django.core.cache import cache

    from annotations.analysis.options import results_options_validate
    from annotations.models import Generator
    from annotations.selectors.results import study_judgment_arrays

    stated = {k: v for k, v in (results.get("filters") or {}).items() if v is not None}
    filters = results_options_validate(study=study, **stated).filters
    order = [r["name"] for r in results.get("bradley_terry") or []]
    described = repr((study.pk, results.get("version"), order, sorted(stated.items())))
    key = f"win-matrix:v{WIN_MATRIX_VERSION}:" + hashlib.sha256(described.encode()).hexdigest()
    matrix = cache.get(key)
    if matrix is None:
        names = dict(Generator.objects.filter(study=study).values_list("id", "name"))
        matrix = win_matrix_compute(
            arrays=study_judgment_arrays(study=study, filters=filters), names=names, order=order
        )
        cache.set(key, matrix, CACHE_SECONDS)
    return matrix
