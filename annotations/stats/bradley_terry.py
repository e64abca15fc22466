"""Bradley-Terry ratings on the Elo scale with prompt-clustered bootstrap or sandwich CIs."""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from annotations.stats._common import as_scores, check_length, py_value, z_value
from annotations.stats.bootstrap import dense_codes, resampled_cluster_totals
from annotations.stats.defaults import DEFAULT_RESAMPLES

# Elo scale: P(i beats j) = 1 / (1 + 10 ** ((R_j - R_i) / 400)), i.e. 400 / ln(10) Elo per nat.
ELO_PER_NAT = 400.0 / math.log(10.0)
BASELINE_RATING = 1000.0

DEFAULT_BT_REGULARIZATION = 1e-4

# The interval methods of the ratings (annotations.analysis.options offers them by these names).
BT_CI_DESCRIPTIONS: dict[str, str] = {
    "bootstrap": "prompt-clustered percentile bootstrap",
    "sandwich": "prompt-clustered robust (sandwich) standard error, normal interval",
}


@dataclass(frozen=True)
class GeneratorRating:
    """One generator's Bradley-Terry rating on the Elo scale with its CI."""

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
    ci: str = "bootstrap"
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


@dataclass(frozen=True)
class _Graph:
    """The compared pairs as a sparse P x G incidence matrix (+1 at a, -1 at b) and its
    transposes: every gradient and Hessian-vector product is a product with these."""

    incidence: sp.csr_matrix
    incidence_t: sp.csr_matrix
    degree_t: sp.csr_matrix  # |incidence|^T: sums a pair's weight onto both of its generators

    @classmethod
    def of(cls, pair_a: npt.NDArray[np.intp], pair_b: npt.NDArray[np.intp], g: int) -> _Graph:
        n_pairs = len(pair_a)
        rows = np.concatenate([np.arange(n_pairs), np.arange(n_pairs)])
        cols = np.concatenate([pair_a, pair_b])
        signs = np.concatenate([np.ones(n_pairs), -np.ones(n_pairs)])
        incidence = sp.csr_matrix((signs, (rows, cols)), shape=(n_pairs, g))
        incidence_t = incidence.T.tocsr()
        return cls(incidence, incidence_t, abs(incidence_t).tocsr())


def _pcg(
    graph: _Graph,
    weight: npt.NDArray[np.float64],
    diagonal: npt.NDArray[np.float64],
    rhs: npt.NDArray[np.float64],
    regularization: float,
    rtol: float,
) -> npt.NDArray[np.float64]:
    """Solve (D^T diag(w) D + reg I) x = rhs for every column at once, by conjugate gradients
    preconditioned with the diagonal: each iteration costs two sparse products over the pairs."""
    x = np.zeros_like(rhs)
    r = rhs.copy()
    z = r / diagonal
    direction = z.copy()
    rz = np.einsum("ij,ij->j", r, z)
    target = (rtol * np.linalg.norm(rhs, axis=0)) ** 2
    # The diagonal preconditioner leaves the spectrum of a weighted graph Laplacian, whose
    # condition number grows with the graph's diameter rather than its size; the cap is a guard.
    for _ in range(10 * diagonal.shape[0] + 50):
        product = graph.incidence_t @ (weight * (graph.incidence @ direction))
        product += regularization * direction
        curvature = np.einsum("ij,ij->j", direction, product)
        alpha = np.divide(rz, curvature, out=np.zeros_like(rz), where=curvature > 0)
        x += alpha * direction
        r -= alpha * product
        if np.all(np.einsum("ij,ij->j", r, r) <= target):
            break
        z = r / diagonal
        rz_next = np.einsum("ij,ij->j", r, z)
        beta = np.divide(rz_next, rz, out=np.zeros_like(rz), where=rz > 0)
        direction = z + beta * direction
        rz = rz_next
    return x


def _bt_newton_sparse(
    s_totals: npt.NDArray[np.float64],
    n_totals: npt.NDArray[np.float64],
    graph: _Graph,
    theta0: npt.NDArray[np.float64],
    regularization: float,
    max_iter: int = 200,
    tol: float = 1e-9,
) -> npt.NDArray[np.float64]:
    """MAP log-strengths (G x B) for B columns of pair totals (P x B), by damped Newton steps
    whose linear systems are solved by conjugate gradients over the compared pairs.

    The same objective and stopping rule as _bt_newton, at a cost of about P x B per
    conjugate-gradient iteration instead of G^3 x B per step.
    """
    theta = np.array(theta0, dtype=np.float64)
    active = np.arange(theta.shape[1])
    s, n = s_totals, n_totals
    for _ in range(max_iter):
        t = theta[:, active] if len(active) < theta.shape[1] else theta
        p = expit(graph.incidence @ t)
        grad = graph.incidence_t @ (s - n * p) - regularization * t
        weight = n * p * (1.0 - p)
        diagonal = graph.degree_t @ weight + regularization
        # An inexact Newton step (residual 1e-4 of the gradient) still converges fast: the
        # error shrinks by that factor per step on top of Newton's quadratic rate, and the stop
        # test asks for steps below `tol`.
        step = _pcg(graph, weight, diagonal, grad, regularization, rtol=1e-4)
        # Cap each Newton move at 2 nats, as _bt_newton does.
        biggest = np.abs(step).max(axis=0, keepdims=True)
        step *= np.minimum(1.0, 2.0 / np.maximum(biggest, 1e-300))
        theta[:, active] = t + step
        moving = np.abs(step - step.mean(axis=0, keepdims=True)).max(axis=0) >= tol
        if not moving.all():
            active = active[moving]
            s, n = s[:, moving], n[:, moving]
        if len(active) == 0:
            break
    return theta


# Up to this many generators a dense batched Newton step (B x G x G) costs less than the
# conjugate-gradient iterations over the pairs; bench/results_bench.py --growth times both.
_DENSE_MAX_GENERATORS = 40
# Work arrays of one batch of refits hold about this many cells (8 bytes each).
_BATCH_CELLS = 1 << 20
# Past this many resample x pair cells the resampled totals are drawn block by block (each
# block with its own child seed) instead of all at once, to bound memory.
_TOTALS_CELLS = 1 << 23


def _bt_map(
    s_totals: npt.NDArray[np.float64],
    n_totals: npt.NDArray[np.float64],
    pair_a: npt.NDArray[np.intp],
    pair_b: npt.NDArray[np.intp],
    g_count: int,
    theta0: npt.NDArray[np.float64],
    regularization: float,
    graph: _Graph | None = None,
) -> npt.NDArray[np.float64]:
    """MAP log-strengths (B x G) of B rows of pair totals (B x P), in batches."""
    rows = s_totals.shape[0]
    out = np.empty((rows, g_count))
    if g_count <= _DENSE_MAX_GENERATORS:
        batch = max(1, min(rows, _BATCH_CELLS // max(g_count * g_count, 1)))
        for start in range(0, rows, batch):
            stop = min(start + batch, rows)
            wins = _wins_matrices(
                s_totals[start:stop], n_totals[start:stop], pair_a, pair_b, g_count
            )
            out[start:stop] = _bt_newton(wins, theta0[start:stop], regularization)
        return out
    graph = graph or _Graph.of(pair_a, pair_b, g_count)
    batch = max(1, min(rows, _BATCH_CELLS // max(len(pair_a), g_count, 1)))
    for start in range(0, rows, batch):
        stop = min(start + batch, rows)
        out[start:stop] = _bt_newton_sparse(
            np.ascontiguousarray(s_totals[start:stop].T),
            np.ascontiguousarray(n_totals[start:stop].T),
            graph,
            np.ascontiguousarray(theta0[start:stop].T),
            regularization,
        ).T
    return out


@dataclass(frozen=True)
class _Cells:
    """Per (prompt, pair) cell: its prompt, its pair, games n and twice the first's wins 2s."""

    rows: npt.NDArray[np.intp]
    cols: npt.NDArray[np.intp]
    twice_s: npt.NDArray[np.float64]
    games: npt.NDArray[np.float64]

    @classmethod
    def of(
        cls,
        cluster_code: npt.NDArray[np.intp],
        pair_code: npt.NDArray[np.intp],
        share_a: npt.NDArray[np.float64],
        n_pairs: int,
    ) -> _Cells:
        cell_keys, cell_code = np.unique(cluster_code * n_pairs + pair_code, return_inverse=True)
        return cls(
            rows=cell_keys // n_pairs,
            cols=cell_keys % n_pairs,
            twice_s=np.rint(2.0 * np.bincount(cell_code, weights=share_a)),
            games=np.bincount(cell_code).astype(np.float64),
        )


def _resampled_pair_totals(
    cells: _Cells,
    n_clusters: int,
    n_pairs: int,
    n_resamples: int,
    seed_seq: np.random.SeedSequence,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per-pair wins of the first generator and games, over prompt-clustered resamples."""
    rows, cols, twice_s, games = cells.rows, cells.cols, cells.twice_s, cells.games
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


def _bootstrap_ratings(
    cells: _Cells,
    n_clusters: int,
    pair_a: npt.NDArray[np.intp],
    pair_b: npt.NDArray[np.intp],
    g_count: int,
    base: int,
    theta_hat: npt.NDArray[np.float64],
    n_resamples: int,
    seed: int,
    regularization: float,
) -> npt.NDArray[np.float64]:
    """Elo offsets from the baseline (R x G) of refits on prompt-clustered resamples, each
    warm-started from the full-data estimate."""
    n_pairs = len(pair_a)
    seed_seq = np.random.SeedSequence(seed)
    if n_resamples * n_pairs <= _TOTALS_CELLS:
        blocks = [(0, n_resamples, seed_seq)]
    else:
        size = max(1, _TOTALS_CELLS // n_pairs)
        starts = list(range(0, n_resamples, size))
        blocks = [
            (start, min(start + size, n_resamples), child)
            for start, child in zip(starts, seed_seq.spawn(len(starts)), strict=True)
        ]
    graph = None if g_count <= _DENSE_MAX_GENERATORS else _Graph.of(pair_a, pair_b, g_count)
    boot = np.empty((n_resamples, g_count))
    for start, stop, block_seed in blocks:
        s_boot, n_boot = _resampled_pair_totals(
            cells, n_clusters, n_pairs, stop - start, block_seed
        )
        warm = np.broadcast_to(theta_hat, (stop - start, g_count))
        theta = _bt_map(s_boot, n_boot, pair_a, pair_b, g_count, warm, regularization, graph)
        boot[start:stop] = ELO_PER_NAT * (theta - theta[:, [base]])
    return boot


def _sandwich_se(
    cells: _Cells,
    n_clusters: int,
    pair_a: npt.NDArray[np.intp],
    pair_b: npt.NDArray[np.intp],
    n_tot: npt.NDArray[np.float64],
    theta_hat: npt.NDArray[np.float64],
    base: int,
    connected: npt.NDArray[np.bool_],
    regularization: float,
) -> npt.NDArray[np.float64]:
    """Prompt-clustered robust (sandwich) standard errors of the ratings, in Elo.

    On the anchored parameters (t_i - t_baseline for the generators connected to the
    baseline): V = C / (C - 1) * H^-1 (sum over prompts of g_c g_c^T) H^-1, H the Hessian of
    the negative log-likelihood (plus the prior's precision) and g_c a prompt's score vector.
    """
    se = np.full(len(theta_hat), math.nan)
    se[base] = 0.0
    free = np.flatnonzero(connected)
    free = free[free != base]
    if len(free) == 0 or n_clusters < 2:
        return se
    pos = np.full(len(theta_hat), -1, dtype=np.intp)
    pos[free] = np.arange(len(free))
    pa, pb = pos[pair_a], pos[pair_b]
    p = expit(theta_hat[pair_a] - theta_hat[pair_b])
    weight = n_tot * p * (1.0 - p)
    k = len(free)
    hessian = np.zeros((k, k))
    for i, j, w in ((pa, pa, weight), (pb, pb, weight), (pa, pb, -weight), (pb, pa, -weight)):
        keep = (i >= 0) & (j >= 0)
        np.add.at(hessian, (i[keep], j[keep]), w[keep])
    hessian[np.diag_indices(k)] += regularization
    # A prompt's score: over its cells, (wins - games * p) toward a and its negative toward b.
    resid = cells.twice_s / 2.0 - cells.games * p[cells.cols]
    rows, ca, cb = cells.rows, pa[cells.cols], pb[cells.cols]
    on_a, on_b = ca >= 0, cb >= 0
    scores = sp.csr_matrix(
        (
            np.concatenate([resid[on_a], -resid[on_b]]),
            (np.concatenate([rows[on_a], rows[on_b]]), np.concatenate([ca[on_a], cb[on_b]])),
        ),
        shape=(n_clusters, k),
    )
    meat = (scores.T @ scores).toarray()
    bread = np.linalg.inv(hessian)
    cov = bread @ meat @ bread * (n_clusters / (n_clusters - 1.0))
    se[free] = ELO_PER_NAT * np.sqrt(np.maximum(np.diag(cov), 0.0))
    return se


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
    ci: str = "bootstrap",
) -> BradleyTerry:
    """Bradley-Terry ratings on the Elo scale from judgments of any pairs of generators.

    first, second: generator of each judgment's two outputs; scores: 1 if `first` won,
    0.5 tie, 0 if `second` won (ties count as half a win each way, as Chatbot Arena and Evalica
    do). The fit aggregates to per-pair totals and finds the maximum of the likelihood times
    a weak Gaussian prior (`regularization` is its precision on natural-log strengths: 1e-4
    moves well-measured ratings by far less than 0.01 Elo but keeps a generator that won every
    comparison, or sits in a separate component, finite). Ratings are
    1000 + 400 / ln(10) * (t_i - t_baseline), so P(i beats j) = 1 / (1 + 10^((R_j - R_i)/400)).
    CIs (`ci`): "bootstrap" resamples prompts (clusters) with replacement, refits warm-started
    from the estimate and takes percentiles; "sandwich" takes rating +/- z * the prompt-clustered
    robust standard error (no resampling; n_resamples and seed are then unused).
    Generators not connected to the baseline through compared pairs, or never compared, get nan
    ratings (their position is fixed only by the prior).
    `generators` lists extra labels to report even if they have no judgments.
    """
    if ci not in BT_CI_DESCRIPTIONS:
        raise ValueError(f"ci must be one of {', '.join(BT_CI_DESCRIPTIONS)}, not {ci!r}")
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

    theta_hat = _bt_map(
        s_tot[None], n_tot[None], pair_a, pair_b, g_count, np.zeros((1, g_count)), regularization
    )[0]
    ratings = BASELINE_RATING + ELO_PER_NAT * (theta_hat - theta_hat[base])

    _, cluster_code = dense_codes(c)
    n_clusters = int(cluster_code.max()) + 1 if len(c) else 0
    low = np.full(g_count, math.nan)
    high = np.full(g_count, math.nan)
    resampled = 0
    if n_clusters > 0 and (ci == "sandwich" or n_resamples > 0):
        cells = _Cells.of(cluster_code, pair_code, sa, n_pairs)
        if ci == "sandwich":
            se = _sandwich_se(
                cells, n_clusters, pair_a, pair_b, n_tot, theta_hat, base, connected, regularization
            )
            half = z_value(confidence) * se
            low, high = ratings - half, ratings + half
        else:
            boot = _bootstrap_ratings(
                cells,
                n_clusters,
                pair_a,
                pair_b,
                g_count,
                base,
                theta_hat,
                n_resamples,
                seed,
                regularization,
            )
            alpha = 1.0 - confidence
            q = np.quantile(boot, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
            low, high = BASELINE_RATING + q[0], BASELINE_RATING + q[1]
            resampled = n_resamples

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
        n_resamples=resampled,
        confidence=confidence,
        regularization=regularization,
        ci=ci,
        method=f"Bradley-Terry MAP (ties half a win), {BT_CI_DESCRIPTIONS[ci]}",
    )
