"""Bradley-Terry ratings on the Elo scale with a prompt-clustered bootstrap CI."""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from annotations.stats._common import as_scores, check_length, py_value
from annotations.stats.bootstrap import dense_codes, resampled_cluster_totals
from annotations.stats.defaults import DEFAULT_RESAMPLES

# Elo scale: P(i beats j) = 1 / (1 + 10 ** ((R_j - R_i) / 400)), i.e. 400 / ln(10) Elo per nat.
ELO_PER_NAT = 400.0 / math.log(10.0)
BASELINE_RATING = 1000.0

DEFAULT_BT_REGULARIZATION = 1e-4


@dataclass(frozen=True)
class GeneratorRating:
    """One generator's Bradley-Terry rating on the Elo scale with its bootstrap CI."""

    generator: Hashable
    rating: float
    ci_low: float
    ci_high: float
    n_comparisons: int
    connected: bool


@dataclass(frozen=True)
class BradleyTerry:
    """Bradley-Terry ratings of every generator, baseline anchored at 1000."""

    ratings: tuple[GeneratorRating, ...]
    baseline: Hashable
    n_judgments: int
    n_clusters: int
    n_resamples: int
    confidence: float
    regularization: float
    method: str = "Bradley-Terry MAP (ties half a win), prompt-clustered percentile bootstrap"

    def rating_of(self, generator: Hashable) -> GeneratorRating:
        for row in self.ratings:
            if row.generator == generator:
                return row
        raise KeyError(generator)


def _bt_newton(
    wins: npt.NDArray[np.float64],
    theta0: npt.NDArray[np.float64],
    regularization: float,
    max_iter: int = 200,
    tol: float = 1e-9,
) -> npt.NDArray[np.float64]:
    """MAP log-strengths for a batch of win matrices (B x G x G), by damped Newton steps.

    Maximises sum_ij W_ij log sigmoid(t_i - t_j) - regularization/2 * |t|^2. The Gaussian
    prior makes the problem strictly concave, so disconnected or all-wins generators still get
    finite (if extreme) strengths instead of a diverging fit.
    """
    games = wins + np.swapaxes(wins, 1, 2)
    total_wins = wins.sum(axis=2)
    theta = np.array(theta0, dtype=np.float64)
    diag = np.eye(wins.shape[1], dtype=bool)
    # Only unconverged fits are iterated: in a bootstrap a few resamples with a generator that
    # won every game need many capped steps while the rest converge in about five.
    active = np.arange(len(theta))
    for _ in range(max_iter):
        t = theta[active]
        g = games[active]
        p = expit(t[:, :, None] - t[:, None, :])
        grad = total_wins[active] - (g * p).sum(axis=2) - regularization * t
        h = g * p * (1.0 - p)
        neg_hessian = -h
        neg_hessian[:, diag] = h.sum(axis=2) + regularization
        step = np.linalg.solve(neg_hessian, grad[..., None])[..., 0]
        # Cap each Newton move at 2 nats: far from the optimum a full step can overshoot.
        biggest = np.abs(step).max(axis=1, keepdims=True)
        step *= np.minimum(1.0, 2.0 / np.maximum(biggest, 1e-300))
        theta[active] = t + step
        # Convergence is judged on rating differences: the common shift of all strengths has
        # curvature `regularization` only, so rounding noise keeps it jittering at ~1e-8 nats
        # without changing any rating.
        moving = np.abs(step - step.mean(axis=1, keepdims=True)).max(axis=1) >= tol
        active = active[moving]
        if len(active) == 0:
            break
    return theta


def _wins_matrices(
    s_totals: npt.NDArray[np.float64],
    n_totals: npt.NDArray[np.float64],
    pair_a: npt.NDArray[np.intp],
    pair_b: npt.NDArray[np.intp],
    n_generators: int,
) -> npt.NDArray[np.float64]:
    wins = np.zeros((s_totals.shape[0], n_generators, n_generators))
    wins[:, pair_a, pair_b] = s_totals
    wins[:, pair_b, pair_a] = n_totals - s_totals
    return wins


def _resampled_pair_totals(
    cluster_code: npt.NDArray[np.intp],
    pair_code: npt.NDArray[np.intp],
    share_a: npt.NDArray[np.float64],
    n_clusters: int,
    n_pairs: int,
    n_resamples: int,
    seed: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per-pair wins of the first generator and games, over prompt-clustered resamples."""
    # One row per prompt holding, for every pair judged on it, the games n and twice the wins
    # 2s (both integers).
    cell_keys, cell_code = np.unique(cluster_code * n_pairs + pair_code, return_inverse=True)
    rows = cell_keys // n_pairs
    cols = cell_keys % n_pairs
    twice_s = np.rint(2.0 * np.bincount(cell_code, weights=share_a))
    games = np.bincount(cell_code).astype(np.float64)
    seed_seq = np.random.SeedSequence(seed)
    # The cost is one multiply-add per stored cell per resample, so both integers share one
    # float64 as n * scale + 2s when every resampled total stays below 2**53 (exact integer
    # arithmetic); that halves the work. Otherwise they get a column each.
    bound = float(games.max()) * n_clusters
    scale = 2.0 ** math.ceil(math.log2(2.0 * bound + 1.0))
    if bound * scale < 2.0**53:
        values = sp.csr_matrix((games * scale + twice_s, (rows, cols)), shape=(n_clusters, n_pairs))
        packed = resampled_cluster_totals(values, n_resamples=n_resamples, seed=seed_seq)
        n_tot = np.floor(packed / scale)
        return (packed - n_tot * scale) / 2.0, n_tot
    values = sp.csr_matrix(
        (
            np.concatenate([twice_s / 2.0, games]),
            (np.concatenate([rows, rows]), np.concatenate([cols, n_pairs + cols])),
        ),
        shape=(n_clusters, 2 * n_pairs),
    )
    totals = resampled_cluster_totals(values, n_resamples=n_resamples, seed=seed_seq)
    return totals[:, :n_pairs], totals[:, n_pairs:]


def bradley_terry_fit(
    *,
    first: npt.ArrayLike,
    second: npt.ArrayLike,
    scores: npt.ArrayLike,
    baseline: Hashable,
    clusters: npt.ArrayLike | None = None,
    generators: npt.ArrayLike | None = None,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    regularization: float = DEFAULT_BT_REGULARIZATION,
) -> BradleyTerry:
    """Bradley-Terry ratings on the Elo scale from judgments of any pairs of generators.

    first, second: generator of each judgment's two outputs; scores: 1 if `first` won,
    0.5 tie, 0 if `second` won (ties count as half a win each way, as Chatbot Arena and Evalica
    do). The fit aggregates to a G x G win matrix and finds the maximum of the likelihood times
    a weak Gaussian prior (`regularization` is its precision on natural-log strengths: 1e-4
    moves well-measured ratings by far less than 0.01 Elo but keeps a generator that won every
    comparison, or sits in a separate component, finite). Ratings are
    1000 + 400 / ln(10) * (t_i - t_baseline), so P(i beats j) = 1 / (1 + 10^((R_j - R_i)/400)).
    CIs: resample prompts (clusters) with replacement, refit warm-started from the estimate,
    take percentiles. Generators not connected to the baseline through compared pairs, or never
    compared, get nan ratings (their position is fixed only by the prior).
    `generators` lists extra labels to report even if they have no judgments.
    """
    a_raw = np.asarray(first).ravel()
    b_raw = np.asarray(second).ravel()
    s = as_scores(scores)
    check_length("first", a_raw, len(s))
    check_length("second", b_raw, len(s))
    c = np.arange(len(s)) if clusters is None else np.asarray(clusters).ravel()
    check_length("clusters", c, len(s))
    extra = [] if generators is None else list(np.asarray(generators).ravel())
    labels = np.unique(np.concatenate([a_raw, b_raw, np.asarray([*extra, baseline])]))
    g_count = len(labels)
    ia = np.searchsorted(labels, a_raw)
    ib = np.searchsorted(labels, b_raw)
    base = int(np.searchsorted(labels, np.asarray([baseline]))[0])
    if np.any(ia == ib):
        i = int(np.flatnonzero(ia == ib)[0])
        raise ValueError(f"judgment {i} compares generator {a_raw[i]!r} with itself")

    # Canonical orientation a < b; the score is then the share won by a.
    swap = ia > ib
    pa = np.where(swap, ib, ia)
    pb = np.where(swap, ia, ib)
    sa = np.where(swap, 1.0 - s, s)
    pair_keys, pair_code = dense_codes(pa * g_count + pb)
    pair_a, pair_b = pair_keys // g_count, pair_keys % g_count
    n_pairs = len(pair_keys)
    s_tot = np.bincount(pair_code, weights=sa, minlength=n_pairs)
    n_tot = np.bincount(pair_code, minlength=n_pairs).astype(np.float64)

    n_comparisons = np.bincount(ia, minlength=g_count) + np.bincount(ib, minlength=g_count)
    graph = sp.coo_matrix((np.ones(n_pairs), (pair_a, pair_b)), shape=(g_count, g_count))
    _, component = connected_components(graph, directed=False)
    connected = (component == component[base]) & (n_comparisons > 0)

    theta_hat = _bt_newton(
        _wins_matrices(s_tot[None], n_tot[None], pair_a, pair_b, g_count),
        np.zeros((1, g_count)),
        regularization,
    )[0]
    ratings = BASELINE_RATING + ELO_PER_NAT * (theta_hat - theta_hat[base])

    _, cluster_code = dense_codes(c)
    n_clusters = int(cluster_code.max()) + 1 if len(c) else 0
    low = np.full(g_count, math.nan)
    high = np.full(g_count, math.nan)
    bootstrapped = n_resamples > 0 and n_clusters > 0
    if bootstrapped:
        s_boot, n_boot = _resampled_pair_totals(
            cluster_code, pair_code, sa, n_clusters, n_pairs, n_resamples, seed
        )
        boot = np.empty((n_resamples, g_count))
        # Refit in batches so each (batch x G x G) work array stays under about 8 MB.
        batch = max(1, min(n_resamples, (1 << 20) // max(g_count * g_count, 1)))
        for start in range(0, n_resamples, batch):
            stop = min(start + batch, n_resamples)
            wins = _wins_matrices(s_boot[start:stop], n_boot[start:stop], pair_a, pair_b, g_count)
            warm = np.broadcast_to(theta_hat, (stop - start, g_count))
            theta = _bt_newton(wins, warm, regularization)
            boot[start : start + batch] = ELO_PER_NAT * (theta - theta[:, [base]])
        alpha = 1.0 - confidence
        q = np.quantile(boot, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
        low, high = BASELINE_RATING + q[0], BASELINE_RATING + q[1]

    rows_out = []
    for i, label in enumerate(labels):
        ok = bool(connected[i])
        rows_out.append(
            GeneratorRating(
                generator=py_value(label),
                rating=float(ratings[i]) if ok else math.nan,
                ci_low=float(low[i]) if ok else math.nan,
                ci_high=float(high[i]) if ok else math.nan,
                n_comparisons=int(n_comparisons[i]),
                connected=ok,
            )
        )
    return BradleyTerry(
        ratings=tuple(rows_out),
        baseline=py_value(labels[base]),
        n_judgments=len(s),
        n_clusters=n_clusters,
        n_resamples=n_resamples if bootstrapped else 0,
        confidence=confidence,
        regularization=regularization,
    )
