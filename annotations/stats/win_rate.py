"""Pure numpy/scipy statistics for preference studies: win rates, CIs, ratings, agreement."""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy import stats
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

CIMethod = Literal["bootstrap", "wilson", "cluster"]
CI_METHODS: tuple[str, ...] = ("bootstrap", "wilson", "cluster")

# Elo scale: P(i beats j) = 1 / (1 + 10 ** ((R_j - R_i) / 400)), i.e. 400 / ln(10) Elo per nat.
ELO_PER_NAT = 400.0 / math.log(10.0)
BASELINE_RATING = 1000.0

DEFAULT_RESAMPLES = 2000
# The Bradley-Terry bootstrap costs about R x (prompt, pair) cells even when vectorised, so it
# has its own default to lower if needed; bench/stats_coverage.py times it at 100,000 prompts.
DEFAULT_BT_RESAMPLES = 2000
DEFAULT_BT_REGULARIZATION = 1e-4

P_VALUE_CLUSTER_SCORE = (
    "two-sided z-test of win rate = 0.5 with the prompt-clustered SE evaluated under the null"
)
P_VALUE_INDEPENDENT_SCORE = (
    "two-sided score z-test of win rate = 0.5 treating judgments as independent "
    "(the test the Wilson interval inverts)"
)
P_VALUE_BINOMIAL = "two-sided exact binomial test against 0.5 (scipy.stats.binomtest)"

# Past these sizes one bootstrap chunk of cluster weights would need too much memory.
_MAX_CHUNK_CELLS = 1 << 22
# Below this many (resample x cluster) draws a thread pool costs more than it saves.
_PARALLEL_MIN_WORK = 1 << 22
# Up to this many clusters the bootstrap always draws multinomial counts per distinct row.
_SMALL_CLUSTERS = 256


# --------------------------------------------------------------------------------------------
# Result types


@dataclass(frozen=True)
class WinRate:
    """Win rate of a candidate against the baseline, with counts, a CI and a p-value."""

    n: int
    wins: int
    ties: int
    losses: int
    both_bad: int
    win_rate: float
    win_rate_ties_dropped: float
    ci_low: float
    ci_high: float
    method: str
    confidence: float
    se: float
    p_value: float
    p_value_method: str
    n_clusters: int
    n_resamples: int


@dataclass(frozen=True)
class Proportion:
    """A count k of n with its rate and Wilson score interval (flag rates, position bias)."""

    k: int
    n: int
    rate: float
    ci_low: float
    ci_high: float
    confidence: float
    method: str = "wilson"


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


@dataclass(frozen=True)
class RaterPairKappa:
    """Cohen's kappa of two raters over the items both judged."""

    rater_a: Hashable
    rater_b: Hashable
    n_items: int
    agreement: float
    kappa: float


@dataclass(frozen=True)
class Agreement:
    """Inter-rater agreement over items that have two or more judgments."""

    n_items: int
    n_ratings: int
    n_pairs: int
    pairwise_agreement: float
    n_pairs_without_ties: int
    pairwise_agreement_without_ties: float
    cohen_kappa_by_pair: tuple[RaterPairKappa, ...]
    mean_cohen_kappa: float
    fleiss_kappa: float
    krippendorff_alpha_nominal: float
    krippendorff_alpha_ordinal: float


@dataclass(frozen=True)
class PositionBias:
    """Share of non-tie judgments that chose the left output, tested against 0.5."""

    rater: Hashable | None
    n: int
    n_left: int
    share_left: float
    ci_low: float
    ci_high: float
    p_value: float
    p_value_method: str = P_VALUE_BINOMIAL


@dataclass(frozen=True)
class PositionBiasReport:
    """Position bias overall and for each rater."""

    overall: PositionBias
    by_rater: tuple[PositionBias, ...]


# --------------------------------------------------------------------------------------------
# Small helpers


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def _as_scores(scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    bad = ~np.isin(s, (0.0, 0.5, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"scores must be 0, 0.5 or 1; got {s[i]!r} at index {i}")
    return s


def _check_length(name: str, values: npt.NDArray[np.generic], n: int) -> None:
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries but scores has {n}")


def _py(value: object) -> Hashable:
    # numpy scalars as plain Python values, so results compare and serialise naturally
    return value.item() if isinstance(value, np.generic) else value  # type: ignore[return-value]


def _dense_codes(
    values: npt.NDArray[np.generic],
) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.intp]]:
    """np.unique(values, return_inverse=True), by counting when integer values span a range
    not much wider than their number (database ids, codes): no sort of every value."""
    v = np.asarray(values).ravel()
    if v.dtype.kind in "iu" and len(v):
        low, high = int(v.min()), int(v.max())
        span = high - low + 1
        if span <= 4 * len(v) + 1024 and low > -(2**62) and high < 2**62:
            offset = v.astype(np.int64) - low
            present = np.zeros(span, dtype=bool)
            present[offset] = True
            rank = np.cumsum(present, dtype=np.intp) - 1
            labels = (np.flatnonzero(present) + low).astype(v.dtype)
            return labels, rank[offset]
    return np.unique(v, return_inverse=True)


def _label_entropy(seed: int, label: Hashable) -> list[int]:
    # Python's hash() of str is salted per process; crc32 keeps each group's stream stable
    # across runs and independent of which other groups exist.
    return [seed, zlib.crc32(repr(_py(label)).encode())]


def _two_sided_z_p(estimate: float, null: float, se: float) -> float:
    if se > 0.0:
        return float(2.0 * stats.norm.sf(abs(estimate - null) / se))
    return 1.0 if estimate == null else 0.0


def score_from_preference(*, preference: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Map stored integer preferences (positive favours output a, 0 tie) to scores 1/0.5/0."""
    p = np.asarray(preference, dtype=np.float64).ravel()
    return (np.sign(p) + 1.0) / 2.0


def wilson_interval(*, p: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion p observed over n trials (p may be fractional)."""
    if n <= 0:
        return (math.nan, math.nan)
    z = _z(confidence)
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = (z / denom) * math.sqrt(max(p * (1.0 - p), 0.0) / n + z2 / (4.0 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def proportion_estimate(*, k: int, n: int, confidence: float = 0.95) -> Proportion:
    """Rate k/n with its Wilson interval (e.g. how often a generator's outputs were flagged)."""
    if k < 0 or n < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    rate = k / n if n else math.nan
    low, high = wilson_interval(p=rate, n=n, confidence=confidence)
    return Proportion(
        k=int(k), n=int(n), rate=rate, ci_low=low, ci_high=high, confidence=confidence
    )


def flag_rates_by_group(
    *, flagged: npt.ArrayLike, groups: npt.ArrayLike, confidence: float = 0.95
) -> dict[Hashable, Proportion]:
    """Flag rate per group (e.g. per generator) from one boolean per judged output."""
    f = np.asarray(flagged, dtype=bool).ravel()
    g = np.asarray(groups).ravel()
    if len(f) != len(g):
        raise ValueError(f"groups has {len(g)} entries but flagged has {len(f)}")
    labels, codes = np.unique(g, return_inverse=True)
    k = np.bincount(codes, weights=f, minlength=len(labels))
    n = np.bincount(codes, minlength=len(labels))
    return {
        _py(label): proportion_estimate(k=int(k[i]), n=int(n[i]), confidence=confidence)
        for i, label in enumerate(labels)
    }


# --------------------------------------------------------------------------------------------
# Prompt-clustered bootstrap engine


def _unique_rows(
    values: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    # np.unique(axis=0) sorts a structured view and is ~10x slower than a lexsort here.
    ordered = values[np.lexsort(values.T[::-1])]
    first = np.ones(len(ordered), dtype=bool)
    first[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    starts = np.flatnonzero(first)
    return ordered[starts], np.diff(np.append(starts, len(ordered)))


def _resampled_cluster_totals(
    values: npt.NDArray[np.float64] | sp.csr_matrix,
    *,
    n_resamples: int,
    seed: np.random.SeedSequence,
) -> npt.NDArray[np.float64]:
    """Column totals of `values` (one row per cluster) over bootstrap resamples of its rows.

    Returns an (n_resamples x width) array: row r is sum_c w_rc * values[c] with
    w_r ~ Multinomial(C, 1/C), i.e. C clusters drawn with replacement.
    """
    n_clusters, width = values.shape
    is_sparse = sp.issparse(values)

    if not is_sparse and width <= 4:
        # Clusters with identical rows are interchangeable, so the draw counts per distinct row
        # are Multinomial(C, share of that row): the same bootstrap distribution at a cost of
        # R x (distinct rows) instead of R x C. Win-rate rows (sum, count) repeat a lot.
        types, counts = _unique_rows(values)
        # Few clusters (a generator judged on a dozen prompts, one category of one model): the
        # same draw costs R x (distinct rows) too, where the general path below would loop over
        # every resample in Python.
        if len(types) * 16 <= n_clusters or n_clusters <= _SMALL_CLUSTERS:
            rng = np.random.default_rng(seed)
            draws = rng.multinomial(n_clusters, counts / n_clusters, size=n_resamples)
            return draws @ types

    # One kernel for every case: scipy's sparse product is single-threaded, so the chunks below
    # can run in parallel without fighting a multithreaded BLAS for the same cores.
    matrix = sp.csr_matrix(values)

    chunk = max(1, min(32, n_resamples, _MAX_CHUNK_CELLS // max(n_clusters, 1)))
    starts = list(range(0, n_resamples, chunk))
    children = seed.spawn(len(starts))
    # Transposing a CSR matrix gives a CSC view; scipy then streams the weight rows once per
    # cluster and scatters into a small cached output, several times faster than a CSR
    # transpose that gathers weight rows at random.
    values_t = matrix.T
    out = np.empty((n_resamples, width), dtype=np.float64)

    def run(k: int) -> None:
        start = starts[k]
        b = min(chunk, n_resamples - start)
        rng = np.random.default_rng(children[k])
        # int32 draws are cheaper to make and to count; cluster counts never approach 2**31
        idx = rng.integers(0, n_clusters, size=(b, n_clusters), dtype=np.int32)
        weights = np.empty((b, n_clusters), dtype=np.float64)
        for r in range(b):
            # one resample at a time keeps bincount's scatter inside the cache
            weights[r] = np.bincount(idx[r], minlength=n_clusters)
        out[start : start + b] = (values_t @ np.ascontiguousarray(weights.T)).T

    if n_resamples * n_clusters < _PARALLEL_MIN_WORK or len(starts) == 1:
        for k in range(len(starts)):
            run(k)
    else:
        # numpy's generators and bincount and scipy's sparse kernels release the GIL, and
        # every chunk has its own seed, so threads speed this up without changing the result.
        workers = min(4, os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, range(len(starts))))
    return out


# --------------------------------------------------------------------------------------------
# Win rate against the baseline


def _empty_win_rate(method: str, confidence: float) -> WinRate:
    return WinRate(
        n=0,
        wins=0,
        ties=0,
        losses=0,
        both_bad=0,
        win_rate=math.nan,
        win_rate_ties_dropped=math.nan,
        ci_low=math.nan,
        ci_high=math.nan,
        method=method,
        confidence=confidence,
        se=math.nan,
        p_value=math.nan,
        p_value_method="",
        n_clusters=0,
        n_resamples=0,
    )


def _win_rate(
    s: npt.NDArray[np.float64],
    clusters: npt.NDArray[np.generic],
    both_bad: int,
    method: str,
    confidence: float,
    n_resamples: int,
    seed: np.random.SeedSequence,
) -> WinRate:
    if method not in CI_METHODS:
        raise ValueError(f"method must be one of {', '.join(CI_METHODS)}; got {method!r}")
    n = len(s)
    if n == 0:
        return _empty_win_rate(method, confidence)
    wins = int(np.count_nonzero(s == 1.0))
    ties = int(np.count_nonzero(s == 0.5))
    losses = n - wins - ties
    mean = float(s.mean())
    ties_dropped = wins / (wins + losses) if wins + losses else math.nan

    _, codes = _dense_codes(clusters)
    n_clusters = int(codes.max()) + 1
    sums = np.bincount(codes, weights=s, minlength=n_clusters)
    counts = np.bincount(codes, minlength=n_clusters).astype(np.float64)
    # Miller (2024): SE = sqrt(sum_c (sum_{i in c} (s_i - mean))^2) / n
    se_cluster = float(np.sqrt(np.sum((sums - mean * counts) ** 2)) / n)
    # The same clustered SE evaluated at the null is never zero unless every judgment is a tie,
    # so an all-wins sample still gets a finite, honest p-value.
    se_null = float(np.sqrt(np.sum((sums - 0.5 * counts) ** 2)) / n)
    z = _z(confidence)

    if method == "wilson":
        low, high = wilson_interval(p=mean, n=n, confidence=confidence)
        se = math.sqrt(mean * (1.0 - mean) / n)
        p_value = _two_sided_z_p(mean, 0.5, math.sqrt(0.25 / n))
        p_method = P_VALUE_INDEPENDENT_SCORE
        used_resamples = 0
    elif n_clusters < 2:
        # One prompt says nothing about prompt-to-prompt variation: no clustered interval.
        low = high = se = p_value = math.nan
        p_method = P_VALUE_CLUSTER_SCORE
        used_resamples = 0
    elif method == "cluster":
        low, high = max(0.0, mean - z * se_cluster), min(1.0, mean + z * se_cluster)
        se = se_cluster
        p_value = _two_sided_z_p(mean, 0.5, se_null)
        p_method = P_VALUE_CLUSTER_SCORE
        used_resamples = 0
    else:
        if n_resamples < 1:
            raise ValueError(f"n_resamples must be positive, got {n_resamples}")
        totals = _resampled_cluster_totals(
            np.column_stack([sums, counts]), n_resamples=n_resamples, seed=seed
        )
        means = totals[:, 0] / totals[:, 1]
        alpha = 1.0 - confidence
        low, high = (float(q) for q in np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0]))
        se = float(means.std(ddof=1)) if n_resamples > 1 else math.nan
        p_value = _two_sided_z_p(mean, 0.5, se_null)
        p_method = P_VALUE_CLUSTER_SCORE
        used_resamples = n_resamples

    return WinRate(
        n=n,
        wins=wins,
        ties=ties,
        losses=losses,
        both_bad=both_bad,
        win_rate=mean,
        win_rate_ties_dropped=ties_dropped,
        ci_low=float(low),
        ci_high=float(high),
        method=method,
        confidence=confidence,
        se=se,
        p_value=p_value,
        p_value_method=p_method,
        n_clusters=n_clusters,
        n_resamples=used_resamples,
    )


def _prepare(
    scores: npt.ArrayLike, clusters: npt.ArrayLike | None, both_bad: npt.ArrayLike | None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.generic], npt.NDArray[np.bool_]]:
    s = _as_scores(scores)
    c = np.arange(len(s)) if clusters is None else np.asarray(clusters).ravel()
    _check_length("clusters", c, len(s))
    bb = np.zeros(len(s), dtype=bool) if both_bad is None else np.asarray(both_bad, bool).ravel()
    _check_length("both_bad", bb, len(s))
    if np.any(bb & (s != 0.5)):
        raise ValueError("a 'both bad' judgment must be scored 0.5 (it counts as a tie)")
    return s, c, bb


def win_rate_estimate(
    *,
    scores: npt.ArrayLike,
    clusters: npt.ArrayLike | None = None,
    both_bad: npt.ArrayLike | None = None,
    method: CIMethod = "bootstrap",
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> WinRate:
    """Win rate = mean(s) of judgment scores s in {1, 0.5, 0} with a CI and a p-value.

    clusters: one prompt id per judgment (None: every judgment is its own cluster).
    both_bad: optional flags; those judgments must be scored 0.5 and are counted separately.
    Methods:
      bootstrap  resample prompts with replacement, recompute the pooled mean, percentile CI;
      wilson     Wilson score interval applied to p = mean(s), judgments taken as independent;
      cluster    mean +/- z * cluster-robust SE (Miller 2024), clipped to [0, 1].
    p-value against 50%: for bootstrap and cluster a two-sided z-test whose SE is the
    prompt-clustered SE computed under the null (a score test, never a zero SE); for wilson the
    independent-judgment score test that the Wilson interval inverts.
    The bootstrap is reproducible: the same seed gives the same interval. With fewer than two
    prompts the bootstrap and cluster methods give nan (no between-prompt variation to see).
    """
    s, c, bb = _prepare(scores, clusters, both_bad)
    return _win_rate(
        s, c, int(bb.sum()), method, confidence, n_resamples, np.random.SeedSequence(seed)
    )


def win_rates_by_group(
    *,
    scores: npt.ArrayLike,
    groups: npt.ArrayLike,
    clusters: npt.ArrayLike | None = None,
    both_bad: npt.ArrayLike | None = None,
    method: CIMethod = "bootstrap",
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[Hashable, WinRate]:
    """win_rate_estimate for each group label: per generator, per category, per criterion.

    Each group's bootstrap draws from its own seed derived from (seed, label), so a group's
    interval does not change when other groups are added.
    """
    s, c, bb = _prepare(scores, clusters, both_bad)
    g = np.asarray(groups).ravel()
    _check_length("groups", g, len(s))
    labels, codes = _dense_codes(g)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(labels) + 1))
    out: dict[Hashable, WinRate] = {}
    for i, label in enumerate(labels):
        rows = order[bounds[i] : bounds[i + 1]]
        seed_seq = np.random.SeedSequence(_label_entropy(seed, label))
        out[_py(label)] = _win_rate(
            s[rows], c[rows], int(bb[rows].sum()), method, confidence, n_resamples, seed_seq
        )
    return out


# --------------------------------------------------------------------------------------------
# Bradley-Terry


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
        packed = _resampled_cluster_totals(values, n_resamples=n_resamples, seed=seed_seq)
        n_tot = np.floor(packed / scale)
        return (packed - n_tot * scale) / 2.0, n_tot
    values = sp.csr_matrix(
        (
            np.concatenate([twice_s / 2.0, games]),
            (np.concatenate([rows, rows]), np.concatenate([cols, n_pairs + cols])),
        ),
        shape=(n_clusters, 2 * n_pairs),
    )
    totals = _resampled_cluster_totals(values, n_resamples=n_resamples, seed=seed_seq)
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
    n_resamples: int = DEFAULT_BT_RESAMPLES,
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
    s = _as_scores(scores)
    _check_length("first", a_raw, len(s))
    _check_length("second", b_raw, len(s))
    c = np.arange(len(s)) if clusters is None else np.asarray(clusters).ravel()
    _check_length("clusters", c, len(s))
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
    pair_keys, pair_code = _dense_codes(pa * g_count + pb)
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

    _, cluster_code = _dense_codes(c)
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
                generator=_py(label),
                rating=float(ratings[i]) if ok else math.nan,
                ci_low=float(low[i]) if ok else math.nan,
                ci_high=float(high[i]) if ok else math.nan,
                n_comparisons=int(n_comparisons[i]),
                connected=ok,
            )
        )
    return BradleyTerry(
        ratings=tuple(rows_out),
        baseline=_py(labels[base]),
        n_judgments=len(s),
        n_clusters=n_clusters,
        n_resamples=n_resamples if bootstrapped else 0,
        confidence=confidence,
        regularization=regularization,
    )


# --------------------------------------------------------------------------------------------
# Agreement


def cohen_kappa(*, a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Cohen's kappa of two raters' labels on the same items (nan if chance agreement is 1)."""
    x = np.asarray(a).ravel()
    y = np.asarray(b).ravel()
    if len(x) != len(y):
        raise ValueError(f"a has {len(x)} labels but b has {len(y)}")
    if len(x) == 0:
        return math.nan
    cats, codes = np.unique(np.concatenate([x, y]), return_inverse=True)
    k = len(cats)
    table = np.bincount(codes[: len(x)] * k + codes[len(x) :], minlength=k * k).reshape(k, k)
    return float(_kappa_from_tables(table[None])[0])


def _kappa_from_tables(tables: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    n = tables.sum(axis=(1, 2)).astype(np.float64)
    observed = np.trace(tables, axis1=1, axis2=2) / n
    expected = np.einsum("pi,pi->p", tables.sum(axis=2), tables.sum(axis=1)) / (n * n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected < 1.0, (observed - expected) / (1.0 - expected), np.nan)


def fleiss_kappa(*, counts: npt.ArrayLike) -> float:
    """Fleiss' kappa from an items x categories table of how many raters chose each category.

    Items may have different numbers of raters (each item's agreement uses its own count);
    items with fewer than two ratings are ignored. With equal counts this is Fleiss (1971).
    """
    table = np.asarray(counts, dtype=np.float64)
    m = table.sum(axis=1)
    table, m = table[m >= 2], m[m >= 2]
    if len(table) == 0:
        return math.nan
    per_item = ((table * table).sum(axis=1) - m) / (m * (m - 1.0))
    share = table.sum(axis=0) / m.sum()
    expected = float((share * share).sum())
    if expected >= 1.0:
        return math.nan
    return (float(per_item.mean()) - expected) / (1.0 - expected)


def _krippendorff_alpha(
    value_counts: npt.NDArray[np.int64], domain: npt.NDArray[np.generic], level: str
) -> float:
    # Imported here so win rates and ratings work even where this optional package is missing.
    import krippendorff

    if len(domain) < 2:
        return math.nan
    return float(
        krippendorff.alpha(
            value_counts=value_counts, value_domain=domain, level_of_measurement=level
        )
    )


def agreement_measure(
    *,
    items: npt.ArrayLike,
    raters: npt.ArrayLike,
    labels: npt.ArrayLike,
    tie_label: int | float = 0,
    min_overlap: int = 1,
) -> Agreement:
    """Agreement among raters on items (comparisons) that have two or more judgments.

    labels are ordered numbers (e.g. -1 b better, 0 tie, +1 a better, or a Likert scale).
    pairwise agreement: over every pair of raters on the same item, the share with equal labels
    ("with ties"); "without ties" keeps only pairs where both labels differ from tie_label
    (MT-Bench's two setups). Cohen's kappa for every pair of raters sharing >= min_overlap
    items; Fleiss' kappa (unequal rater counts allowed); Krippendorff's alpha, nominal and
    ordinal (the `krippendorff` package), which handle any number of raters per item.
    """
    it = np.asarray(items).ravel()
    ra = np.asarray(raters).ravel()
    lab = np.asarray(labels).ravel()
    if not len(it) == len(ra) == len(lab):
        raise ValueError("items, raters and labels must have the same length")
    _, item_code = _dense_codes(it)
    rater_labels, rater_code = _dense_codes(ra)
    # One sort by (item, rater) finds duplicate ratings and lines up each item's ratings.
    key = item_code.astype(np.int64) * len(rater_labels) + rater_code
    order = np.argsort(key)
    key = key[order]
    repeated = key[1:] == key[:-1]
    if repeated.any():
        dup = int(key[int(np.argmax(repeated))])
        raise ValueError(
            f"rater {_py(rater_labels[dup % len(rater_labels)])!r} judged an item more than once"
        )
    item_code, rater_code, lab = item_code[order], rater_code[order], lab[order]
    per_item = np.bincount(item_code)
    keep = per_item[item_code] >= 2
    item_code, rater_code, lab = item_code[keep], rater_code[keep], lab[keep]
    n_ratings = len(lab)

    # All within-item pairs of ratings: positions (k, k + d) inside one run of equal items.
    left_parts, right_parts = [], []
    d = 1
    while d < n_ratings:
        same = item_code[:-d] == item_code[d:]
        if not same.any():
            break
        idx = np.flatnonzero(same)
        left_parts.append(idx)
        right_parts.append(idx + d)
        d += 1
    left = np.concatenate(left_parts) if left_parts else np.zeros(0, dtype=np.intp)
    right = np.concatenate(right_parts) if right_parts else np.zeros(0, dtype=np.intp)
    equal = lab[left] == lab[right]
    no_tie = (lab[left] != tie_label) & (lab[right] != tie_label)
    pairwise = float(equal.mean()) if len(equal) else math.nan
    pairwise_nt = float(equal[no_tie].mean()) if no_tie.any() else math.nan

    categories, cat_code = _dense_codes(lab)
    n_cat = len(categories)
    # Cohen's kappa per rater pair: one confusion table per (rater_a, rater_b), a < b by order.
    n_raters = len(rater_labels)
    pair_key = rater_code[left].astype(np.int64) * n_raters + rater_code[right]
    pairs, pair_code = _dense_codes(pair_key)
    tables = np.bincount(
        (pair_code * n_cat + cat_code[left]) * n_cat + cat_code[right],
        minlength=len(pairs) * n_cat * n_cat,
    ).reshape(len(pairs), n_cat, n_cat)
    overlap = tables.sum(axis=(1, 2))
    chosen = overlap >= max(min_overlap, 1)
    kappas = _kappa_from_tables(tables[chosen]) if chosen.any() else np.zeros(0)
    agree = np.trace(tables[chosen], axis1=1, axis2=2) / np.maximum(overlap[chosen], 1)
    # Plain Python values first: building thousands of pairs from numpy scalars is slow.
    rater_values = rater_labels.tolist()
    by_pair = tuple(
        RaterPairKappa(
            rater_a=rater_values[p // n_raters],
            rater_b=rater_values[p % n_raters],
            n_items=n,
            agreement=ag,
            kappa=kap,
        )
        for p, n, ag, kap in zip(
            pairs[chosen].tolist(),
            overlap[chosen].tolist(),
            agree.astype(np.float64).tolist(),
            kappas.astype(np.float64).tolist(),
            strict=True,
        )
    )
    finite = kappas[np.isfinite(kappas)]
    mean_kappa = float(finite.mean()) if len(finite) else math.nan

    # item_code is sorted here, so each new value starts the next dense item.
    item_dense = (
        np.cumsum(np.diff(item_code, prepend=item_code[:1]) != 0) if n_ratings else item_code
    )
    n_items = int(item_dense[-1]) + 1 if n_ratings else 0
    value_counts = np.bincount(item_dense * n_cat + cat_code, minlength=n_items * n_cat).reshape(
        n_items, n_cat
    )
    return Agreement(
        n_items=n_items,
        n_ratings=n_ratings,
        n_pairs=len(equal),
        pairwise_agreement=pairwise,
        n_pairs_without_ties=int(no_tie.sum()),
        pairwise_agreement_without_ties=pairwise_nt,
        cohen_kappa_by_pair=by_pair,
        mean_cohen_kappa=mean_kappa,
        fleiss_kappa=fleiss_kappa(counts=value_counts) if n_items else math.nan,
        krippendorff_alpha_nominal=(
            _krippendorff_alpha(value_counts, categories, "nominal") if n_items else math.nan
        ),
        krippendorff_alpha_ordinal=(
            _krippendorff_alpha(value_counts, categories, "ordinal") if n_items else math.nan
        ),
    )


# --------------------------------------------------------------------------------------------
# Position bias


def _position_row(rater: Hashable | None, n: int, k: int, confidence: float) -> PositionBias:
    share = k / n if n else math.nan
    low, high = wilson_interval(p=share, n=n, confidence=confidence)
    p_value = float(stats.binomtest(k, n, 0.5).pvalue) if n else math.nan
    return PositionBias(
        rater=rater, n=n, n_left=k, share_left=share, ci_low=low, ci_high=high, p_value=p_value
    )


def position_bias_test(
    *,
    chose_left: npt.ArrayLike,
    raters: npt.ArrayLike | None = None,
    is_tie: npt.ArrayLike | None = None,
    confidence: float = 0.95,
) -> PositionBiasReport:
    """Share of non-tie judgments that chose the left output, overall and per rater.

    Each row has a Wilson CI and an exact two-sided binomial test against 0.5. Per-rater
    p-values are not corrected for multiple testing. Judgments flagged in is_tie are dropped.
    """
    left = np.asarray(chose_left, dtype=bool).ravel()
    r = np.full(len(left), None, dtype=object) if raters is None else np.asarray(raters).ravel()
    _check_length("raters", r, len(left))
    if is_tie is not None:
        tie = np.asarray(is_tie, dtype=bool).ravel()
        _check_length("is_tie", tie, len(left))
        left, r = left[~tie], r[~tie]
    overall = _position_row(None, len(left), int(left.sum()), confidence)
    by_rater: list[PositionBias] = []
    if raters is not None and len(r):
        labels, codes = _dense_codes(r)
        n = np.bincount(codes, minlength=len(labels))
        k = np.bincount(codes, weights=left, minlength=len(labels))
        by_rater = [
            _position_row(_py(label), int(n[i]), int(k[i]), confidence)
            for i, label in enumerate(labels)
        ]
    return PositionBiasReport(overall=overall, by_rater=tuple(by_rater))
