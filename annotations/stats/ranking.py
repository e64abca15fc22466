"""Honest ranks and many-model corrections: CI-aware ranks and Holm-adjusted p-values."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def ci_aware_ranks(*, ci_low: npt.ArrayLike, ci_high: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Rank of each item: 1 + the number of items whose interval lies wholly above its own.

    Items whose intervals overlap share a rank, so a rank never claims more than the intervals
    show (as LMArena ranks models). A missing bound (NaN) is unbounded on that side: an item
    without an interval is never wholly above another, nor has anything wholly above it.
    """
    low = np.asarray(ci_low, dtype=np.float64)
    high = np.asarray(ci_high, dtype=np.float64)
    low = np.where(np.isnan(low), -np.inf, low)
    high = np.where(np.isnan(high), np.inf, high)
    # above[i, j]: item j's interval lies wholly above item i's. Sorting the lows makes this a
    # search per item instead of a G x G matrix.
    sorted_low = np.sort(low)
    above = len(low) - np.searchsorted(sorted_low, high, side="right")
    return (1 + above).astype(np.int64)


def holm_adjust(*, p_values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Holm's step-down adjustment (Holm 1979) of a family of p-values; NaN stays NaN.

    With m tests ordered p_(1) <= ... <= p_(m), the adjusted p_(i) is
    max over j <= i of min(1, (m - j + 1) p_(j)); it controls the family-wise error rate, so
    "p_holm < 0.05" holds for all models together. Missing p-values are not counted in m.
    """
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    present = np.flatnonzero(~np.isnan(p))
    m = len(present)
    if m == 0:
        return adjusted
    order = present[np.argsort(p[present], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted
