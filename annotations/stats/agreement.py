"""Agreement between raters: pairwise agreement, Cohen's kappa per pair, Fleiss, Krippendorff."""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from annotations.stats._common import py_value
from annotations.stats.bootstrap import dense_codes


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
    _, item_code = dense_codes(it)
    rater_labels, rater_code = dense_codes(ra)
    # One sort by (item, rater) finds duplicate ratings and lines up each item's ratings.
    key = item_code.astype(np.int64) * len(rater_labels) + rater_code
    order = np.argsort(key)
    key = key[order]
    repeated = key[1:] == key[:-1]
    if repeated.any():
        dup = int(key[int(np.argmax(repeated))])
        rater = py_value(rater_labels[dup % len(rater_labels)])
        raise ValueError(f"rater {rater!r} judged an item more than once")
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

    categories, cat_code = dense_codes(lab)
    n_cat = len(categories)
    # Cohen's kappa per rater pair: one confusion table per (rater_a, rater_b), a < b by order.
    n_raters = len(rater_labels)
    pair_key = rater_code[left].astype(np.int64) * n_raters + rater_code[right]
    pairs, pair_code = dense_codes(pair_key)
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
