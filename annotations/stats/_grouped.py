"""The prompt-clustered bootstrap of many groups at once (win rates per model, per category x
model): (group, prompt) cells from one sort, and each group's resampled ratios, with the draws
of same-size groups shared (see grouped_ratio_resamples)."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from annotations.stats.bootstrap import (
    _MAX_CHUNK_CELLS,
    _SMALL_CLUSTERS,
    dense_codes,
    resampled_cluster_totals,
)

# grouped_ratio_resamples: groups per task of its thread pool, and the fewest multinomial
# cells (resamples x distinct rows, ~0.1 us each) worth starting the pool for.
_GROUPS_PER_TASK = 64
_PARALLEL_MIN_DRAWS = 1 << 16
# Tags size_entropy's streams apart from label_entropy's.
_SIZE_STREAM = 0x512E
# OpenBLAS multiplies on one thread up to m x n x k = 65536 x 4 (its GEMM threshold); _product
# slices a product into at most _BLAS_SLICES such calls.
_BLAS_ONE_THREAD = 65536 * 4
_BLAS_SLICES = 32


@dataclass(frozen=True)
class ClusterCells:
    """Per-(group, cluster) totals of a score array: cells ordered by group code, then by
    cluster value, so group g's cells (bounds[g]:bounds[g + 1]) are what a per-group
    np.unique of its clusters gives, in the same order."""

    group: npt.NDArray[np.intp]
    sums: npt.NDArray[np.float64]
    counts: npt.NDArray[np.float64]
    bounds: npt.NDArray[np.intp]

    def of(self, g: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Cluster sums and counts of group g."""
        start, end = self.bounds[g], self.bounds[g + 1]
        return self.sums[start:end], self.counts[start:end]


def cluster_cells(
    *,
    values: npt.NDArray[np.float64],
    groups: npt.NDArray[np.intp],
    n_groups: int,
    clusters: npt.NDArray[np.generic],
) -> ClusterCells:
    """Sum and count of `values` per (group, cluster), for every group at once (one sort)."""
    _, cluster_code = dense_codes(clusters)
    n_codes = int(cluster_code.max()) + 1 if len(cluster_code) else 1
    key = groups.astype(np.int64) * n_codes + cluster_code
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    if not len(order):
        starts = starts[:0]
    group = groups[order[starts]].astype(np.intp)
    # Sums of scores in {0, 0.5, 1} are exact in float64 in any order, so they equal the
    # per-group np.bincount totals bit for bit.
    sums = np.add.reduceat(values[order], starts) if len(starts) else np.zeros(0)
    counts = np.diff(np.append(starts, len(order))).astype(np.float64)
    bounds = np.searchsorted(group, np.arange(n_groups + 1)).astype(np.intp)
    return ClusterCells(group=group, sums=sums, counts=counts, bounds=bounds)


def size_entropy(seed: int, n_clusters: int) -> np.random.SeedSequence:
    """The stream every group of n_clusters clusters draws its resample counts from."""
    # Three words, so it never equals label_entropy's two nor a spawned child of the seed.
    return np.random.SeedSequence([seed, _SIZE_STREAM, n_clusters])


def _resample_counts(n_clusters: int, n_resamples: int, seed: int, dtype: type) -> npt.NDArray:
    """(n_resamples x n_clusters) draw counts: row r ~ Multinomial(C, 1/C), C = n_clusters."""
    rng = np.random.default_rng(size_entropy(seed, n_clusters))
    idx = rng.integers(0, n_clusters, size=(n_resamples, n_clusters), dtype=np.int32)
    idx += np.arange(n_resamples, dtype=np.int32)[:, None] * n_clusters
    counts = np.bincount(idx.ravel(), minlength=n_resamples * n_clusters)
    return counts.reshape(n_resamples, n_clusters).astype(dtype)


def _product(values: npt.NDArray, weights: npt.NDArray) -> npt.NDArray:
    """values @ weights.T, in slices of resamples that OpenBLAS runs on one thread when the
    whole product is small: its threads cost ~50 ms a call on a busy machine (measured on 2
    loaded cores: 48 ms for a 3M-multiply product that takes 0.14 ms on one thread)."""
    rows, inner = values.shape
    per_call = rows * inner * len(weights)
    if per_call > _BLAS_ONE_THREAD * _BLAS_SLICES or rows * inner > _BLAS_ONE_THREAD:
        return values @ weights.T
    step = max(1, _BLAS_ONE_THREAD // (rows * inner))
    out = np.empty((rows, len(weights)), dtype=np.result_type(values, weights))
    for start in range(0, len(weights), step):
        np.matmul(values, weights[start : start + step].T, out=out[:, start : start + step])
    return out


def _shared_size_ratios(
    cells: ClusterCells,
    which: npt.NDArray[np.intp],
    rows: npt.NDArray[np.intp],
    n_clusters: int,
    n_resamples: int,
    seed: int,
    out: npt.NDArray[np.float64],
) -> None:
    """Ratios of the groups which[rows], all of n_clusters clusters, from one draw of counts."""
    # Every weight, cluster sum and count, product and partial sum is a multiple of 0.5 of at
    # most C x (largest cluster count): below 2**23 float32 holds them exactly, so the totals
    # are those of float64 at half the memory traffic.
    exact32 = n_clusters * float(cells.counts.max()) < 2**23
    dtype = np.float32 if exact32 else np.float64
    weights = _resample_counts(n_clusters, n_resamples, seed, dtype)
    step = max(1, _MAX_CHUNK_CELLS // (2 * n_resamples))
    for start in range(0, len(rows), step):
        part = rows[start : start + step]
        m = len(part)
        at = cells.bounds[which[part]][:, None] + np.arange(n_clusters)  # (groups x C) cells
        values = np.empty((2 * m, n_clusters), dtype=dtype)
        values[:m] = cells.sums[at]
        values[m:] = cells.counts[at]
        # (2m x C) @ (C x R): each group's resampled sums, then its counts, as rows
        totals = _product(values, weights)
        out[part] = np.divide(totals[:m], totals[m:], dtype=np.float64)


def grouped_ratio_resamples(
    *,
    cells: ClusterCells,
    which: npt.NDArray[np.intp],
    n_resamples: int,
    seed: int,
    seed_of: Callable[[int], np.random.SeedSequence],
) -> npt.NDArray[np.float64]:
    """Bootstrap ratios (resampled sum / resampled count) of each group in `which`: row i
    holds n_resamples ratios of group which[i], its clusters drawn with replacement, i.e.
    weights ~ Multinomial(C, 1/C) over its own C clusters.

    Groups of at most _SMALL_CLUSTERS clusters (a model's prompts, one category of one model)
    share the draws: every group of C clusters uses the same (resamples x C) weight counts,
    drawn from size_entropy(seed, C), applied to its clusters in cluster order. The
    distribution of each group's ratios is the same as with draws of its own (the weights are
    exchangeable), a group's interval does not change when other groups are added, and the
    cost is one draw per size plus one matrix product per size instead of R multinomial draws
    per group. Only groups of the same size see correlated Monte Carlo noise, which no
    per-group interval can tell.

    Larger groups draw from their own stream seed_of(g): resampled_cluster_totals'
    multinomial over its distinct (sum, count) rows, or its general path; these run in a few
    threads (numpy's generators release the GIL and each group has its own generator, so the
    result does not depend on the threads).
    """
    n_clusters = np.diff(cells.bounds)[which]
    out = np.empty((len(which), n_resamples), dtype=np.float64)
    small = n_clusters <= _SMALL_CLUSTERS
    for size in np.unique(n_clusters[small]).tolist():
        rows = np.flatnonzero(n_clusters == size)
        _shared_size_ratios(cells, which, rows, size, n_resamples, seed, out)
    large = np.flatnonzero(~small)
    if not len(large):
        return out

    # Distinct (sum, count) rows per group, in _unique_rows' order (by sum, then count).
    perm = np.lexsort((cells.counts, cells.sums, cells.group))
    g_sorted, s_sorted, c_sorted = cells.group[perm], cells.sums[perm], cells.counts[perm]
    first = np.ones(len(perm), dtype=bool)
    first[1:] = (
        (g_sorted[1:] != g_sorted[:-1])
        | (s_sorted[1:] != s_sorted[:-1])
        | (c_sorted[1:] != c_sorted[:-1])
    )
    starts = np.flatnonzero(first)
    type_rows = np.column_stack([s_sorted[starts], c_sorted[starts]])
    type_counts = np.diff(np.append(starts, len(perm)))
    type_bounds = np.searchsorted(g_sorted[starts], np.arange(len(cells.bounds)))

    def one(i: int) -> None:
        g = int(which[i])
        size = int(n_clusters[i])
        t0, t1 = type_bounds[g], type_bounds[g + 1]
        if (t1 - t0) * 16 <= size:
            # resampled_cluster_totals' shortcut for few distinct rows, without its sort
            rng = np.random.default_rng(seed_of(g))
            draws = rng.multinomial(size, type_counts[t0:t1] / size, size=n_resamples)
            totals = draws @ type_rows[t0:t1]
        else:
            totals = resampled_cluster_totals(
                np.column_stack(cells.of(g)), n_resamples=n_resamples, seed=seed_of(g)
            )
        out[i] = totals[:, 0] / totals[:, 1]

    def task(first_row: int) -> None:
        for i in large[first_row : first_row + _GROUPS_PER_TASK].tolist():
            one(i)

    work = n_resamples * int(np.sum(np.diff(type_bounds)[which[large]]))
    tasks = range(0, len(large), _GROUPS_PER_TASK)
    workers = min(4, os.cpu_count() or 1) if work >= _PARALLEL_MIN_DRAWS else 1
    if workers == 1 or len(tasks) == 1:
        for start in tasks:
            task(start)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(task, tasks))
    return out
