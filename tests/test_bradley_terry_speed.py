"""The sparse Bradley-Terry solver, its blocked bootstrap and the sandwich interval, checked
against the dense Newton solution and against a judgment-by-judgment sandwich computation."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit

from annotations.stats import bradley_terry as bt
from annotations.stats import bradley_terry_fit

DATA = Path(__file__).parent / "data"


def _llmfao() -> tuple[np.ndarray, ...]:
    with (DATA / "llmfao" / "crowd-comparisons.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    outcome = {"left": 1.0, "tie": 0.5, "right": 0.0}
    return (
        np.array([r["left"] for r in rows]),
        np.array([r["right"] for r in rows]),
        np.array([outcome[r["winner"]] for r in rows]),
        np.array([int(r["prompt"]) for r in rows]),
    )


def _random_study(
    n_models: int, n: int, n_prompts: int, seed: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n_models, n)
    second = (first + rng.integers(1, n_models, n)) % n_models
    strength = rng.normal(0, 1, n_models)
    prompts = rng.integers(0, n_prompts, n)
    bump = rng.normal(0, 0.5, n_prompts)[prompts]
    won = rng.random(n) < expit(strength[first] - strength[second] + bump)
    scores = np.where(rng.random(n) < 0.2, 0.5, won.astype(float))
    return first, second, scores, prompts


def _table(fit: bt.BradleyTerry) -> np.ndarray:
    return np.array([[r.rating, r.ci_low, r.ci_high] for r in fit.ratings])


def _fit_with(monkeypatch: pytest.MonkeyPatch, dense_max: int, **kwargs: object) -> np.ndarray:
    monkeypatch.setattr(bt, "_DENSE_MAX_GENERATORS", dense_max)
    return _table(bradley_terry_fit(**kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize("study", ["llmfao", "random30"])
def test_sparse_solver_gives_the_dense_ratings_and_bootstrap_cis(
    monkeypatch: pytest.MonkeyPatch, study: str
) -> None:
    if study == "llmfao":
        first, second, scores, prompts = _llmfao()
        baseline = "Weaver 12k"
    else:
        first, second, scores, prompts = _random_study(30, 3000, 200)
        baseline = 0
    kwargs = dict(
        first=first,
        second=second,
        scores=scores,
        baseline=baseline,
        clusters=prompts,
        n_resamples=200,
        seed=7,
    )
    dense = _fit_with(monkeypatch, 10_000, **kwargs)
    sparse = _fit_with(monkeypatch, 0, **kwargs)
    # The same resampled totals go into both solvers, so the intervals agree as closely as the
    # point estimates: both are the unique maximum of the same objective.
    np.testing.assert_allclose(sparse, dense, rtol=0, atol=1e-6)


def test_sparse_solver_handles_disconnected_and_undefeated_generators(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A thin study: 120 models, 600 judgments on 50 prompts. Many resamples leave a model
    # unplayed or unbeaten, where only the prior keeps its strength finite.
    first, second, scores, prompts = _random_study(120, 600, 50, seed=4)
    kwargs = dict(
        first=first, second=second, scores=scores, baseline=0, clusters=prompts, n_resamples=100
    )
    dense = _fit_with(monkeypatch, 10_000, **kwargs)
    sparse = _fit_with(monkeypatch, 0, **kwargs)
    finite = np.isfinite(dense)
    assert np.array_equal(finite, np.isfinite(sparse))
    np.testing.assert_allclose(sparse[finite], dense[finite], rtol=0, atol=1e-6)


def test_blocked_bootstrap_is_deterministic_and_agrees_within_monte_carlo_noise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second, scores, prompts = _random_study(50, 4000, 300, seed=2)
    kwargs = dict(
        first=first, second=second, scores=scores, baseline=0, clusters=prompts, n_resamples=600
    )
    whole = _table(bradley_terry_fit(**kwargs))
    # Force the resampled totals to be drawn in blocks of a few resamples each.
    monkeypatch.setattr(bt, "_TOTALS_CELLS", 50 * 1225)
    blocked = _table(bradley_terry_fit(**kwargs))
    assert np.array_equal(blocked, _table(bradley_terry_fit(**kwargs)))
    np.testing.assert_allclose(blocked[:, 0], whole[:, 0], rtol=0, atol=1e-9)
    width = whole[1:, 2] - whole[1:, 1]
    assert np.all(np.abs(blocked[1:, 1:] - whole[1:, 1:]) < 0.2 * width[:, None])


def _sandwich_by_judgment(
    first: np.ndarray, second: np.ndarray, scores: np.ndarray, prompts: np.ndarray, g: int
) -> tuple[np.ndarray, np.ndarray]:
    """Ratings and robust SEs (Elo) written from the textbook, one judgment at a time: the
    logistic model s ~ sigmoid(x . beta) with x = e_first - e_second without the baseline's
    column (model 0), H = sum_j p_j (1 - p_j) x_j x_j^T, g_c = sum over prompt c's judgments
    of (s_j - p_j) x_j, V = C / (C - 1) H^-1 (sum_c g_c g_c^T) H^-1. The fits use a prior of
    precision 1e-10: enough to make the unanchored Newton system invertible, nothing more."""
    fit = bradley_terry_fit(
        first=first, second=second, scores=scores, baseline=0, n_resamples=0, regularization=1e-10
    )
    beta = np.array([r.rating - 1000.0 for r in fit.ratings])[1:] / bt.ELO_PER_NAT
    x = np.zeros((len(scores), g))
    x[np.arange(len(scores)), first] += 1.0
    x[np.arange(len(scores)), second] -= 1.0
    x = x[:, 1:]
    p = expit(x @ beta)
    hessian = (x * (p * (1 - p))[:, None]).T @ x
    clusters = np.unique(prompts)
    meat = np.zeros((g - 1, g - 1))
    for c in clusters:
        score = ((scores - p)[prompts == c, None] * x[prompts == c]).sum(axis=0)
        meat += np.outer(score, score)
    bread = np.linalg.inv(hessian)
    cov = bread @ meat @ bread * len(clusters) / (len(clusters) - 1)
    return 1000.0 + bt.ELO_PER_NAT * beta, bt.ELO_PER_NAT * np.sqrt(np.diag(cov))


@pytest.mark.parametrize("n_models", [4, 45])
def test_sandwich_interval_matches_a_judgment_by_judgment_computation(n_models: int) -> None:
    first, second, scores, prompts = _random_study(n_models, 2500, 80, seed=9)
    ratings, se = _sandwich_by_judgment(first, second, scores, prompts, n_models)
    fit = bradley_terry_fit(
        first=first,
        second=second,
        scores=scores,
        baseline=0,
        clusters=prompts,
        ci="sandwich",
        regularization=1e-10,
        confidence=0.9,
    )
    z = 1.6448536269514722
    got = _table(fit)
    assert got[0].tolist() == [1000.0, 1000.0, 1000.0]
    np.testing.assert_allclose(got[1:, 0], ratings, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got[1:, 1], ratings - z * se, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got[1:, 2], ratings + z * se, rtol=0, atol=1e-6)
    assert fit.n_resamples == 0 and fit.ci == "sandwich"
    assert "sandwich" in fit.method


def test_sandwich_with_two_players_and_independent_judgments_has_the_closed_form() -> None:
    # 70 wins in 100 games, each judgment its own prompt: the robust variance of the log-odds
    # is C/(C-1) * sum (s - p)^2 / (n p (1 - p))^2 = 100/99 * 100 * 0.21 / 21^2.
    fit = bradley_terry_fit(
        first=["A"] * 100,
        second=["B"] * 100,
        scores=[1.0] * 70 + [0.0] * 30,
        baseline="B",
        ci="sandwich",
        regularization=1e-10,
    )
    se = bt.ELO_PER_NAT * math.sqrt(100 / 99 * 100 * 0.21 / 21.0**2)
    row = fit.rating_of("A")
    assert row.rating == pytest.approx(1147.1907, abs=0.01)
    assert row.ci_high - row.rating == pytest.approx(1.959963984540054 * se, abs=1e-6)
    assert row.rating - row.ci_low == pytest.approx(1.959963984540054 * se, abs=1e-6)


def test_sandwich_leaves_unconnected_generators_out() -> None:
    fit = bradley_terry_fit(
        first=["A", "A", "C", "C", "A"],
        second=["B", "B", "D", "D", "B"],
        scores=[1.0, 0.5, 1.0, 0.0, 0.0],
        baseline="A",
        clusters=[1, 2, 3, 4, 5],
        ci="sandwich",
    )
    assert math.isfinite(fit.rating_of("B").ci_low)
    assert math.isnan(fit.rating_of("C").ci_low) and math.isnan(fit.rating_of("D").rating)


def test_unknown_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="ci must be one of bootstrap, sandwich"):
        bradley_terry_fit(first=["A"], second=["B"], scores=[1.0], baseline="A", ci="percentile")
