"""Small helpers shared by the statistics modules: argument checks, z values, plain values."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import numpy.typing as npt
from scipy import stats


def z_value(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def as_scores(scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    bad = ~np.isin(s, (0.0, 0.5, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"scores must be 0, 0.5 or 1; got {s[i]!r} at index {i}")
    return s


def check_length(name: str, values: npt.NDArray[np.generic], n: int) -> None:
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries but scores has {n}")


def py_value(value: object) -> Hashable:
    # numpy scalars as plain Python values, so results compare and serialise naturally
    return value.item() if isinstance(value, np.generic) else value  # type: ignore[return-value]


def two_sided_z_p(estimate: float, null: float, se: float) -> float:
    if se > 0.0:
        return float(2.0 * stats.norm.sf(abs(estimate - null) / se))
    return 1.0 if estimate == null else 0.0
