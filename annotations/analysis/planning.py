"""A study plan: the options checked, a pilot study's win rate and ICC read, and the sizes of a
fixed-n design and of the anytime-valid rule computed (what `manage.py plan` prints)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError

from annotations import stats
from annotations.models import Study
from annotations.selectors.planning import study_pilot_scores
from annotations.stats.defaults import MIN_RELIABLE_JUDGMENTS, MIN_RELIABLE_PROMPTS

CONFIDENCE = 0.95
# A pilot estimates the win rate from at least as many judgments, and the ICC from at least as
# many comparisons with two or more judgments, as the results need to call a win rate reliable
# (stats/defaults.py): below that the estimate is too rough to plan with.
MIN_PILOT_JUDGMENTS = MIN_RELIABLE_JUDGMENTS
MIN_PILOT_COMPARISONS = MIN_RELIABLE_PROMPTS


def _number(field: str, value: Any) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValidationError({field: f"must be a number, not {value!r}"}) from None
    if not math.isfinite(number):
        raise ValidationError({field: f"must be a number, not {value!r}"})
    return number


def _whole(field: str, value: Any) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValidationError({field: f"must be a whole number, not {value!r}"}) from None


def _given(
    win_rate: Any, half_width: Any, raters_per_comparison: Any, icc: Any
) -> tuple[float | None, float, int | None, float | None]:
    """The options as numbers, each checked; None where not given."""
    rate = None if win_rate is None else _number("win_rate", win_rate)
    if rate is not None and not 0.0 < rate < 1.0:
        raise ValidationError({"win_rate": f"must be between 0 and 1 (exclusive), got {rate}"})
    width = _number("half_width", half_width)
    if not 0.0 < width <= 0.5:
        raise ValidationError({"half_width": f"must be in (0, 0.5], got {width}"})
    raters = (
        None
        if raters_per_comparison is None
        else _whole("raters_per_comparison", raters_per_comparison)
    )
    if raters is not None and raters < 1:
        raise ValidationError({"raters_per_comparison": f"must be at least 1, got {raters}"})
    rho = None if icc is None else _number("icc", icc)
    if rho is not None and not 0.0 <= rho <= 1.0:
        raise ValidationError({"icc": f"must be between 0 and 1, got {rho}"})
    return rate, width, raters, rho


def _pilot(study: Study, need_rate: bool, need_icc: bool) -> dict[str, Any]:
    """The pilot's counts, and its win rate and ICC where asked for; ValidationError naming
    from_study when it has too little data for what is asked."""
    if study.baseline_id is None:
        raise ValidationError({"from_study": f"study {study.slug!r} has no baseline model"})
    scores = study_pilot_scores(study=study)
    comparisons, sizes = np.unique(scores.comparison, return_counts=True)
    repeated = int(np.sum(sizes >= 2))
    pilot: dict[str, Any] = {
        "study": study.slug,
        "judgments": len(scores),
        "comparisons": len(comparisons),
        "comparisons_with_2_or_more": repeated,
        "candidates": len(np.unique(scores.candidate)),
        "win_rate": None,
        "icc": None,
        "icc_raw": None,
    }
    if need_rate:
        if len(scores) < MIN_PILOT_JUDGMENTS:
            raise ValidationError(
                {
                    "from_study": f"study {study.slug!r} has {len(scores)} judgments against the "
                    f"baseline; estimating the win rate needs at least {MIN_PILOT_JUDGMENTS} "
                    "(or give --win-rate)"
                }
            )
        rate = float(scores.score.mean())
        if not 0.0 < rate < 1.0:
            raise ValidationError(
                {
                    "from_study": f"the pilot's win rate is {rate:.0%}; a plan needs one strictly "
                    "between 0 and 1 (give --win-rate)"
                }
            )
        pilot["win_rate"] = rate
    if need_icc:
        if repeated < MIN_PILOT_COMPARISONS:
            raise ValidationError(
                {
                    "from_study": f"study {study.slug!r} has {repeated} comparisons with two or "
                    "more judgments against the baseline; estimating the intra-prompt "
                    f"correlation needs at least {MIN_PILOT_COMPARISONS} (or give --icc)"
                }
            )
        # Within candidates: their different win rates are not correlation within a prompt.
        try:
            estimate = stats.icc_estimate(
                scores=scores.score, groups=scores.comparison, strata=scores.candidate
            )
        except ValueError as exc:  # as many candidates as comparisons: nothing within them
            raise ValidationError({"from_study": f"{exc} (give --icc)"}) from exc
        if math.isnan(estimate.icc):
            raise ValidationError(
                {
                    "from_study": "the pilot's scores do not vary, so they say nothing of the "
                    "intra-prompt correlation (give --icc)"
                }
            )
        pilot["icc"], pilot["icc_raw"] = estimate.icc, estimate.icc_raw
    return pilot


def _anytime(plan: stats.AnytimeSampleSize) -> dict[str, Any]:
    return {
        "prompts_mean": plan.comparisons_mean,
        "prompts_median": plan.comparisons_median,
        "prompts_p90": plan.comparisons_p90,
        "judgments_mean": plan.judgments_mean,
        "reached": plan.reached,
        "horizon": plan.horizon,
        "runs": plan.runs,
        "seed": plan.seed,
    }


def study_plan(
    *,
    half_width: Any,
    win_rate: Any = None,
    raters_per_comparison: Any = None,
    icc: Any = None,
    pilot_study: Study | None = None,
) -> dict[str, Any]:
    """The sizes a study needs for a 95% interval of +-half_width around the win rate.

    Options not given come from `pilot_study` when there is one (its win rate and ICC, and its
    raters per comparison k), else raters default to 1 and the ICC to 0 (judgments on one
    prompt taken as independent, said so by icc_source "assumed"). Sizes are per candidate
    model: prompts (one comparison each with the baseline) and judgments. Raises
    ValidationError naming the bad option.
    """
    rate, width, raters, rho = _given(win_rate, half_width, raters_per_comparison, icc)
    if rate is None and pilot_study is None:
        raise ValidationError({"win_rate": "give --win-rate, or --from-study to estimate it"})
    pilot = None
    if pilot_study is not None:
        pilot = _pilot(pilot_study, need_rate=rate is None, need_icc=rho is None)
    sources = {
        "win_rate": "given" if rate is not None else "pilot",
        "raters_per_comparison": "given"
        if raters is not None
        else ("study" if pilot_study is not None else "default"),
        "icc": "given" if rho is not None else ("pilot" if pilot_study is not None else "assumed"),
    }
    if rate is None:
        rate = pilot["win_rate"]  # type: ignore[index]
    if raters is None:
        raters = pilot_study.overlap if pilot_study is not None else 1
    if rho is None:
        rho = pilot["icc"] if pilot is not None else 0.0
    common = {
        "win_rate": rate,
        "half_width": width,
        "raters_per_comparison": raters,
        "icc": rho,
        "confidence": CONFIDENCE,
    }
    fixed = stats.fixed_sample_size(**common)
    return {
        **common,
        "sources": sources,
        "design_effect": fixed.design_effect,
        "pilot": pilot,
        "fixed": {
            "prompts": fixed.comparisons,
            "judgments": fixed.judgments,
            "judgments_if_independent": fixed.judgments_if_independent,
        },
        "anytime_method": stats.AV_METHOD,
        "anytime_description": stats.AV_METHOD_DESCRIPTION,
        "anytime": _anytime(stats.anytime_sample_size(**common)),
        "anytime_stop_on_decision": _anytime(
            stats.anytime_sample_size(**common, stop_on_decision=True)
        ),
    }
