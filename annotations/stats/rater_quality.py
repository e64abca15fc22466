"""Quality signals per rater: agreement, position bias, speed, streaks and an outlier e-value.

Arrays in (one entry per judgment), one RaterQuality per rater out. The answers are read two
ways: the canonical sign of the preference (+1 output_a, 0 tie, -1 output_b) for everything
that compares raters on the same comparison, and the side the rater chose on screen (left,
tie, right: the sign turned by left_is_a) for position bias and streaks. Likert strengths are
reduced to their sign: "slightly better" and "much better" are the same answer here.

Agreement (agreement_n, agreement). For each of a rater's judgments, the other raters'
answers on the same comparison are counted (a tie is an answer of its own, like a and b).
When one answer has a strict majority of them (more than half: with two others both must
agree; one a and one b is no majority), the judgment counts toward agreement_n and agrees
when the rater gave that answer. Comparisons without a majority of the others are left out.

Position (left_n, left_share, left_p_value). The share of the rater's non-tie judgments that
chose the left output, with a two-sided exact binomial test against 0.5.

Speed (timed_n, median_seconds, too_fast_share). Judgments without a duration (imported
ones: duration_ms negative) are left out. A judgment under `min_seconds` is too fast; with
min_seconds 0 the speed signal is off (too_fast_share is None) and only the median is given.

Streak (longest_streak). The longest run of the same on-screen answer (left, tie, right) in
the rater's own order of judging (the `order` array: created_at, then id).

Outlier (outlier_n, outlier_score): an e-value, a sequential test valid at any time, as in
Chatbot Arena's detection of anomalous users (Chiang et al., 2024), but with no plug-in
crowd model. H0: on each comparison, the rater's answer is exchangeable with the other
raters' answers (the rater behaves as one more member of the crowd). The alternative is any
rater who disagrees with the crowd more often than its members disagree with each other: a
random clicker, an always-left or always-tie rater on counterbalanced pairs, an adversary.

For a comparison with n >= 3 answers (the rater and at least two others), each voter j gets
the nonconformity score

    s_j = 1 - p_j,   p_j = (agree_j + 1) / (n + 1),

where agree_j is how many of the n - 1 others gave j's answer: p_j is the share of the others
voting as j did, smoothed by a uniform Beta(1, 1) prior (Laplace). The rater's e-value on the
comparison is the soft-rank conformal e-value (Vovk; Gauthier, Bach & Jordan, 2025, "E-values
expand the scope of conformal prediction")

    e = s_rater / mean_j(s_j)     (mean over all n voters, the rater included).

Under H0 the n answers are exchangeable, so every voter's ratio has the same expectation and
the ratios sum to n: E[e] = 1 exactly. The e-process is the running product of these factors
over the rater's judged comparisons (a test martingale when comparisons are judged
independently); outlier_score is its current value. By Ville's inequality the chance that an
H0 rater's score ever reaches 1/alpha is at most alpha, so the score may be checked after every
judgment: 20 is level 0.05. When the crowd is unanimous and the rater agrees, e = 1 (no
evidence either way); a lone dissent against n - 1 agreeing others gives e = n^2 / (3n - 2)
(9/7 with two others); siding with one half of a split crowd gives e < 1.
Comparisons with fewer than two other answers carry no information (e = 1) and are not
counted in outlier_n. The score is recomputed from all answers present, so it may change as
other raters' answers arrive.

Gold (gold_n, gold_accuracy, gold_ci_low, gold_ci_high). The share of answered gold items
where the rater chose the better output (a tie or "both bad" is wrong), with a Wilson 95%
interval. Consistency (repeat_n, self_consistency). The share of swapped repeats answered the
same way as the first time, in canonical a/b terms (a, b or tie; strength ignored).

Flags: a signal flags a rater when it passes its threshold (QualityThresholds) on at least the
threshold's minimum number of observations.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, fields, replace

import numpy as np
import numpy.typing as npt
from scipy import stats

from annotations.stats._common import py_value
from annotations.stats.bootstrap import dense_codes

# Why each flag is raised, in the order reasons are listed.
REASONS = ("gold", "consistency", "agreement", "position", "speed", "streak", "outlier")


@dataclass(frozen=True)
class QualityThresholds:
    """When a signal flags a rater; a study may override any of them (Study.min_seconds and
    Study.quality_thresholds)."""

    # A judgment faster than this is too fast; 0 turns the speed signal off.
    min_seconds: float = 3.0
    agreement_min_n: int = 20
    agreement_below: float = 0.5
    position_min_n: int = 20
    position_p_below: float = 0.001
    speed_min_n: int = 20
    too_fast_share_above: float = 0.5
    streak_at_least: int = 15
    outlier_min_n: int = 10
    # 1 / alpha: 20 is a level-0.05 test by Ville's inequality.
    outlier_e_at_least: float = 20.0
    # Control items: gold accuracy (Study.gold_min_accuracy and gold_min_n, which also pause
    # the rater) and self-consistency on swapped repeats.
    gold_min_n: int = 8
    gold_below: float = 0.5
    consistency_min_n: int = 5
    consistency_below: float = 0.5

    def describe(self) -> tuple[tuple[str, str], ...]:
        """(reason, rule) for each signal, as the README and the raters page name them."""
        speed = (
            f"more than {self.too_fast_share_above:.0%} of timed judgments under "
            f"{self.min_seconds:g} s (at least {self.speed_min_n} timed)"
            if self.min_seconds > 0
            else "off (min_seconds is 0)"
        )
        return (
            (
                "gold",
                f"gold accuracy below {self.gold_below:.0%} (at least {self.gold_min_n} gold "
                "answers; the rater is also paused)",
            ),
            (
                "consistency",
                f"the same answer on fewer than {self.consistency_below:.0%} of swapped repeats "
                f"(at least {self.consistency_min_n} repeats)",
            ),
            (
                "agreement",
                f"agreement with the other raters' majority below {self.agreement_below:.0%} "
                f"(at least {self.agreement_min_n} comparisons with a majority)",
            ),
            (
                "position",
                f"left share different from 50%, binomial p < {self.position_p_below:g} "
                f"(at least {self.position_min_n} non-tie judgments)",
            ),
            ("speed", speed),
            ("streak", f"the same answer {self.streak_at_least} or more times in a row"),
            (
                "outlier",
                f"outlier e-value {self.outlier_e_at_least:g} or more (at least "
                f"{self.outlier_min_n} comparisons with two or more other raters)",
            ),
        )


# Thresholds that are study settings of their own, not overrides.
_STUDY_FIELDS = ("min_seconds", "gold_min_n", "gold_below")


def quality_thresholds_build(
    *,
    overrides: Mapping[str, object] | None = None,
    min_seconds: float | None = None,
    gold_min_n: int | None = None,
    gold_min_accuracy: float | None = None,
) -> QualityThresholds:
    """The default thresholds with a study's overrides; ValueError names a bad key or value."""
    known = {f.name: f.type for f in fields(QualityThresholds)}
    changes: dict[str, float | int] = {}
    for key, value in (overrides or {}).items():
        if key not in known or key in _STUDY_FIELDS:
            raise ValueError(f"unknown quality threshold {key!r}")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"quality threshold {key!r} must be a number >= 0, got {value!r}")
        changes[key] = int(value) if known[key] == "int" else float(value)
    if min_seconds is not None:
        if min_seconds < 0:
            raise ValueError(f"min_seconds must be >= 0, got {min_seconds!r}")
        changes["min_seconds"] = float(min_seconds)
    if gold_min_n is not None:
        changes["gold_min_n"] = int(gold_min_n)
    if gold_min_accuracy is not None:
        changes["gold_below"] = float(gold_min_accuracy)
    return replace(QualityThresholds(), **changes)


@dataclass(frozen=True)
class ControlCounts:
    """One rater's answered control items: gold (answered, right) and repeats (answered, the
    same canonical answer as the first time)."""

    gold_n: int = 0
    gold_right: int = 0
    repeat_n: int = 0
    repeat_same: int = 0


@dataclass(frozen=True)
class RaterQuality:
    """One rater's quality signals; each value comes with the number of observations behind it
    (None when there are none)."""

    rater: Hashable
    n: int
    agreement_n: int
    agreement: float | None
    left_n: int
    left_share: float | None
    left_p_value: float | None
    timed_n: int
    median_seconds: float | None
    too_fast_share: float | None
    longest_streak: int
    outlier_n: int
    outlier_score: float
    flagged: bool
    reasons: tuple[str, ...]
    # Control items: gold accuracy with its Wilson interval, and self-consistency.
    gold_n: int = 0
    gold_accuracy: float | None = None
    gold_ci_low: float | None = None
    gold_ci_high: float | None = None
    repeat_n: int = 0
    self_consistency: float | None = None


def _per_rater_mean(
    codes: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_], values: npt.NDArray, n: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    count = np.bincount(codes[mask], minlength=n)
    total = np.bincount(codes[mask], weights=values[mask].astype(np.float64), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return count, total / count


def _comparison_counts(
    comparison: npt.NDArray, answer: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each judgment's comparison's answer counts (n x 3: b, tie, a) and its total."""
    _, comp = np.unique(comparison, return_inverse=True)
    counts = np.bincount(comp * 3 + answer, minlength=3 * (comp.max() + 1 if len(comp) else 0))
    table = counts.reshape(-1, 3)[comp]
    return table, table.sum(axis=1)


def _agreement_indicators(
    *, comparison: npt.ArrayLike, sign: npt.ArrayLike
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per judgment: whether the other raters of its comparison have a strict majority answer,
    and whether the judgment gave it."""
    answer = np.sign(np.asarray(sign, dtype=np.int64)).ravel() + 1
    table, total = _comparison_counts(np.asarray(comparison).ravel(), answer)
    others = table.copy()
    others[np.arange(len(answer)), answer] -= 1
    m = total - 1
    top = others.argmax(axis=1)
    has_majority = 2 * others.max(axis=1) > m
    return has_majority, has_majority & (top == answer)


def _outlier_factors(
    *, comparison: npt.ArrayLike, sign: npt.ArrayLike
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Per judgment: whether its comparison has two or more other answers, and the conformal
    e-value e = s_rater / mean(s) of the module docstring (1 where there are fewer)."""
    answer = np.sign(np.asarray(sign, dtype=np.int64)).ravel() + 1
    table, total = _comparison_counts(np.asarray(comparison).ravel(), answer)
    n = total.astype(np.float64)
    # s for a voter of each answer: 1 - (agree + 1) / (n + 1) = (n + 1 - count) / (n + 1).
    s = (n[:, None] + 1.0 - table) / (n[:, None] + 1.0)
    mean_s = (table * s).sum(axis=1) / n
    informative = total >= 3
    factor = np.where(informative, s[np.arange(len(answer)), answer] / mean_s, 1.0)
    return informative, factor


def _longest_runs(
    *, codes: npt.NDArray[np.int64], values: npt.NDArray[np.int64], n_raters: int
) -> npt.NDArray[np.int64]:
    """The longest run of equal values per rater code; the arrays are in judging order with
    each rater's judgments together."""
    if len(codes) == 0:
        return np.zeros(n_raters, dtype=np.int64)
    start = np.ones(len(codes), dtype=bool)
    start[1:] = (codes[1:] != codes[:-1]) | (values[1:] != values[:-1])
    run = np.cumsum(start) - 1
    lengths = np.bincount(run)
    longest = np.zeros(n_raters, dtype=np.int64)
    np.maximum.at(longest, codes[start], lengths)
    return longest


def _value(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def rater_quality_measure(
    *,
    rater: npt.ArrayLike,
    comparison: npt.ArrayLike,
    sign: npt.ArrayLike,
    left_is_a: npt.ArrayLike,
    duration_ms: npt.ArrayLike,
    order: npt.ArrayLike,
    thresholds: QualityThresholds | None = None,
    controls: Mapping[Hashable, ControlCounts] | None = None,
) -> tuple[RaterQuality, ...]:
    """Every rater's signals (see the module docstring), raters in sorted order.

    One entry per judgment: the rater, the comparison, the canonical preference (its sign is
    used), whether output_a was on the left, the duration in milliseconds (negative: unknown)
    and a sort key of the rater's order of judging (ties broken by position in the arrays).
    `controls` adds each rater's control items (gold accuracy, self-consistency); a rater with
    control answers and no judgment gets a row too.
    """
    limits = thresholds or QualityThresholds()
    rows = _judgment_signals(
        rater=rater,
        comparison=comparison,
        sign=sign,
        left_is_a=left_is_a,
        duration_ms=duration_ms,
        order=order,
        limits=limits,
    )
    by_rater = {row.rater: row for row in rows}
    for label in set(controls or {}) - set(by_rater):
        by_rater[label] = _empty_row(label)
    out = []
    for label in sorted(by_rater, key=lambda x: (str(type(x)), x)):  # type: ignore[arg-type]
        row = _with_controls(by_rater[label], (controls or {}).get(label, ControlCounts()))
        reasons = quality_reasons(row=row, thresholds=limits)
        out.append(replace(row, flagged=bool(reasons), reasons=reasons))
    return tuple(out)


def _empty_row(label: Hashable) -> RaterQuality:
    return RaterQuality(
        rater=label,
        n=0,
        agreement_n=0,
        agreement=None,
        left_n=0,
        left_share=None,
        left_p_value=None,
        timed_n=0,
        median_seconds=None,
        too_fast_share=None,
        longest_streak=0,
        outlier_n=0,
        outlier_score=1.0,
        flagged=False,
        reasons=(),
    )


def _with_controls(row: RaterQuality, counts: ControlCounts) -> RaterQuality:
    if not counts.gold_n and not counts.repeat_n:
        return row
    # Imported here: win_rate imports the bootstrap machinery this module does not need.
    from annotations.stats.win_rate import wilson_interval

    low = high = accuracy = None
    if counts.gold_n:
        accuracy = counts.gold_right / counts.gold_n
        low, high = wilson_interval(p=accuracy, n=counts.gold_n)
    return replace(
        row,
        gold_n=counts.gold_n,
        gold_accuracy=accuracy,
        gold_ci_low=low,
        gold_ci_high=high,
        repeat_n=counts.repeat_n,
        self_consistency=counts.repeat_same / counts.repeat_n if counts.repeat_n else None,
    )


def _judgment_signals(
    *,
    rater: npt.ArrayLike,
    comparison: npt.ArrayLike,
    sign: npt.ArrayLike,
    left_is_a: npt.ArrayLike,
    duration_ms: npt.ArrayLike,
    order: npt.ArrayLike,
    limits: QualityThresholds,
) -> list[RaterQuality]:
    """The signals the judgments give, one row per rater with a judgment (unflagged)."""
    r = np.asarray(rater).ravel()
    size = len(r)
    comp = np.asarray(comparison).ravel()
    canonical = np.sign(np.asarray(sign, dtype=np.int64)).ravel()
    left_a = np.asarray(left_is_a, dtype=bool).ravel()
    duration = np.asarray(duration_ms, dtype=np.float64).ravel()
    key = np.asarray(order).ravel()
    for name, values in (("comparison", comp), ("sign", canonical), ("left_is_a", left_a)):
        if len(values) != size:
            raise ValueError(f"{name} has {len(values)} entries but rater has {size}")
    if len(duration) != size or len(key) != size:
        raise ValueError("duration_ms and order need one entry per judgment")
    if size == 0:
        return []
    labels, codes = dense_codes(r)
    n_raters = len(labels)
    n = np.bincount(codes, minlength=n_raters)
    # Agreement with the others' majority.
    has_majority, agrees = _agreement_indicators(comparison=comp, sign=canonical)
    agreement_n, agreement = _per_rater_mean(codes, has_majority, agrees, n_raters)
    # Position: on screen, +1 left, -1 right, 0 tie.
    shown = np.where(left_a, canonical, -canonical)
    left_n = np.bincount(codes[shown != 0], minlength=n_raters)
    n_left = np.bincount(codes[shown > 0], minlength=n_raters)
    # Speed.
    timed = duration >= 0
    too_fast = duration < limits.min_seconds * 1000.0
    timed_n, fast_share = _per_rater_mean(codes, timed, too_fast, n_raters)
    by_rater = np.lexsort((np.arange(size), key, codes))
    timed_sorted = by_rater[timed[by_rater]]
    seconds = np.split(duration[timed_sorted] / 1000.0, np.cumsum(timed_n)[:-1])
    # Streaks in each rater's order of judging.
    streak = _longest_runs(codes=codes[by_rater], values=shown[by_rater], n_raters=n_raters)
    # Outlier e-process: the product of conformal e-values.
    informative, factor = _outlier_factors(comparison=comp, sign=canonical)
    outlier_n = np.bincount(codes[informative], minlength=n_raters)
    log_e = np.bincount(codes, weights=np.log(factor), minlength=n_raters)
    rows = []
    for i, label in enumerate(labels):
        left_share = n_left[i] / left_n[i] if left_n[i] else math.nan
        p_value = (
            float(stats.binomtest(int(n_left[i]), int(left_n[i]), 0.5).pvalue)
            if left_n[i]
            else None
        )
        row = RaterQuality(
            rater=py_value(label),
            n=int(n[i]),
            agreement_n=int(agreement_n[i]),
            agreement=_value(agreement[i]),
            left_n=int(left_n[i]),
            left_share=_value(left_share),
            left_p_value=p_value,
            timed_n=int(timed_n[i]),
            median_seconds=float(np.median(seconds[i])) if timed_n[i] else None,
            too_fast_share=_value(fast_share[i]) if limits.min_seconds > 0 else None,
            longest_streak=int(streak[i]),
            outlier_n=int(outlier_n[i]),
            outlier_score=float(math.exp(log_e[i])),
            flagged=False,
            reasons=(),
        )
        rows.append(row)
    return rows


def quality_reasons(*, row: RaterQuality, thresholds: QualityThresholds) -> tuple[str, ...]:
    """The signals of `row` that pass their threshold on enough observations, in REASONS
    order."""
    t = thresholds
    passed = {
        "gold": row.gold_n >= max(1, t.gold_min_n)
        and row.gold_accuracy is not None
        and row.gold_accuracy < t.gold_below,
        "consistency": row.repeat_n >= max(1, t.consistency_min_n)
        and row.self_consistency is not None
        and row.self_consistency < t.consistency_below,
        "agreement": row.agreement_n >= t.agreement_min_n
        and row.agreement is not None
        and row.agreement < t.agreement_below,
        "position": row.left_n >= t.position_min_n
        and row.left_p_value is not None
        and row.left_p_value < t.position_p_below,
        "speed": row.timed_n >= t.speed_min_n
        and row.too_fast_share is not None
        and row.too_fast_share > t.too_fast_share_above,
        "streak": row.longest_streak >= t.streak_at_least,
        "outlier": row.outlier_n >= t.outlier_min_n and row.outlier_score >= t.outlier_e_at_least,
    }
    return tuple(reason for reason in REASONS if passed.get(reason))
