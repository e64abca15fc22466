"""The prompt-clustered bootstrap: dense codes, per-group seeds and resampled cluster totals."""

from __future__ import annotations

import os
import zlib
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from annotations.stats._common import py_value

# Past these sizes one bootstrap chunk of cluster weights would need too much memory.
_MAX_CHUNK_CELLS = 1 << 22
# Below this many (resample x cluster) draws a thread pool costs more than it saves.
_PARALLEL_MIN_WORK = 1 << 22
# Up to this many clusters the bootstrap always draws multinomial counts per distinct row.
_SMALL_CLUSTERS = 256


def dense_codes(
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


def label_entropy(seed: int, label: Hashable) -> list[int]:
    # Python's hash() of str is salted per process; crc32 keeps each group's stream stable
    # across runs and independent of which other groups exist.
    return [seed, zlib.crc32(repr(py_value(label)).encode())]


def _unique_rows(
    values: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    # np.unique(axis=0) sorts a structured view and is ~10x slower than a lexsort here.
    ordered = values[np.lexsort(values.T[::-1])]
    first = np.ones(len(ordered), dtype=bool)
    first[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    starts = np.flatnonzero(first)
    return ordered[starts], np.diff(np.append(starts, len(ordered)))


def resampled_cluster_totals(
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
