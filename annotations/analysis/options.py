"""The options of a results computation: method, resamples, seed, confidence, baseline, bt_ci."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from annotations.stats.defaults import CI_METHOD_DESCRIPTIONS, DEFAULT_RESAMPLES

if TYPE_CHECKING:
    from annotations.models import Study

METHODS = CI_METHOD_DESCRIPTIONS
# The interval of the Bradley-Terry ratings, an option of its own: the win-rate method does not
# decide it, so wilson or cluster win rates never pay for 2,000 Bradley-Terry refits.
BT_CI_METHODS: dict[str, str] = {
    "bootstrap": "prompt-clustered percentile bootstrap (refits on resampled prompts)",
    "sandwich": "prompt-clustered robust (sandwich) standard error, normal interval",
}
# Chosen by coverage: in bench/stats_coverage.py --part bt-coverage the sandwich covered at
# least as often as the bootstrap in every scenario (figures in bench/RESULTS.md), at a
# fraction of the cost.
DEFAULT_BT_CI = "sandwich"
MIN_RESAMPLES = 100
MAX_RESAMPLES = 10_000


@dataclass(frozen=True)
class ResultsOptions:
    """Validated options of a results computation (plain values: the computation is pure)."""

    baseline_id: int
    method: str
    resamples: int
    seed: int
    confidence: float
    bt_ci: str = DEFAULT_BT_CI


def results_query_parse(*, query: Mapping[str, Any]) -> dict[str, Any]:
    """The results options of a page's or the API's query string, as results_options_validate
    (and study_results) take them; empty values mean the defaults."""
    return {
        "baseline": query.get("baseline") or None,
        "method": query.get("method") or "bootstrap",
        "resamples": query.get("resamples") or DEFAULT_RESAMPLES,
        "seed": query.get("seed") or 0,
        "bt_ci": query.get("bt_ci") or DEFAULT_BT_CI,
    }


def _as_int(field: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ValidationError({field: f"must be a whole number, not {value!r}"})
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValidationError({field: f"must be a whole number, not {value!r}"}) from None


def results_options_validate(
    *,
    study: Study,
    baseline: str | None = None,
    method: str | None = None,
    resamples: Any = None,
    seed: Any = None,
    confidence: Any = None,
    bt_ci: str | None = None,
) -> ResultsOptions:
    """Check the options of a results request; raises ValidationError naming the bad field."""
    # Imported here so that the pure computation, which imports the option types from this
    # module, never loads Django's models.
    from annotations.models import Generator

    errors: dict[str, str] = {}
    baseline_id = study.baseline_id
    if baseline:
        baseline_id = (
            Generator.objects.filter(study=study, name=baseline)
            .values_list("pk", flat=True)
            .first()
        )
        if baseline_id is None:
            names = list(
                Generator.objects.filter(study=study).order_by("name").values_list("name", flat=1)
            )
            shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
            errors["baseline"] = f"no model named {baseline!r} in study {study.slug!r}; " + (
                f"models: {shown}" if names else "it has no models yet"
            )
    elif baseline_id is None:
        errors["baseline"] = f"study {study.slug!r} has no baseline model"
    method = method or "bootstrap"
    if method not in METHODS:
        errors["method"] = f"unknown method {method!r}; choose from {', '.join(METHODS)}"
    bt_ci = bt_ci or DEFAULT_BT_CI
    if bt_ci not in BT_CI_METHODS:
        errors["bt_ci"] = (
            f"unknown Bradley-Terry CI {bt_ci!r}; choose from {', '.join(BT_CI_METHODS)}"
        )
    values: dict[str, Any] = {}
    for field, value, default in (
        ("resamples", resamples, DEFAULT_RESAMPLES),
        ("seed", seed, 0),
    ):
        if value is None or value == "":
            values[field] = default
            continue
        try:
            values[field] = _as_int(field, value)
        except ValidationError as exc:
            errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if "resamples" in values and not MIN_RESAMPLES <= values["resamples"] <= MAX_RESAMPLES:
        errors["resamples"] = (
            f"must be between {MIN_RESAMPLES} and {MAX_RESAMPLES}, not {values['resamples']}"
        )
    if "seed" in values and not 0 <= values["seed"] < 2**32:
        errors["seed"] = f"must be between 0 and {2**32 - 1}, not {values['seed']}"
    level = 0.95
    if confidence not in (None, ""):
        try:
            level = float(confidence)
        except (TypeError, ValueError):
            level = math.nan
        if not 0.5 <= level < 1.0:
            errors["confidence"] = (
                f"must be a number from 0.5 up to (not including) 1, not {confidence!r}"
            )
    if errors:
        raise ValidationError(errors)
    assert baseline_id is not None
    return ResultsOptions(
        baseline_id=baseline_id,
        method=method,
        resamples=values["resamples"],
        seed=values["seed"],
        confidence=level,
        bt_ci=bt_ci,
    )
