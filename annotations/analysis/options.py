"""The options of a results computation: method, resamples, seed, confidence, baseline, bt_ci,
and the filters (category, since, until, source, criterion, include_excluded, judge).

Adding an option: a field of ResultsOptions (or of ResultsFilters, annotations.analysis.inputs,
when it picks judgments), its query parameter in QUERY_PARAMETERS, and its check in
results_options_validate. The cache key and the results fingerprint derive from
results_options_describe, which reads every field: they need no change.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from annotations.analysis.inputs import NO_CATEGORY, NO_FILTERS, ResultsFilters
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
    filters: ResultsFilters = NO_FILTERS


# The query parameters of the results page and API, with the value an empty one means; each is
# a keyword of results_options_validate.
QUERY_PARAMETERS: dict[str, Any] = {
    "baseline": None,
    "method": "bootstrap",
    "resamples": DEFAULT_RESAMPLES,
    "seed": 0,
    "bt_ci": DEFAULT_BT_CI,
    "category": None,
    "since": None,
    "until": None,
    "source": None,
    "criterion": None,
    "include_excluded": None,
    "judge": None,
}
# The filters' names, as the results' `filters` states them.
FILTERS = tuple(field.name for field in dataclasses.fields(ResultsFilters))


def results_query_parse(*, query: Mapping[str, Any]) -> dict[str, Any]:
    """The results options of a page's or the API's query string, as results_options_validate
    (and study_results) take them; empty values mean the defaults."""
    return {name: query.get(name) or default for name, default in QUERY_PARAMETERS.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def results_filters_describe(*, filters: ResultsFilters) -> dict[str, Any]:
    """The filters in force as the results state them: null when not set, times in ISO 8601
    (UTC, inclusive bounds), the uncategorised prompts as "(none)". Every value passed back as
    a query parameter selects the same judgments."""
    described = _plain(dataclasses.asdict(filters))
    if filters.category == "":
        described["category"] = NO_CATEGORY
    # A switch: stated only when on, so that null means "not set" for every filter.
    described["include_excluded"] = True if filters.include_excluded else None
    return described


def results_options_describe(*, options: ResultsOptions) -> dict[str, Any]:
    """Every option, JSON-ready (the filters as results_filters_describe states them)."""
    described = _plain(dataclasses.asdict(options))
    described["filters"] = results_filters_describe(filters=options.filters)
    return described


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
    category: str | None = None,
    since: Any = None,
    until: Any = None,
    source: str | None = None,
    criterion: str | None = None,
    include_excluded: Any = None,
    judge: str | None = None,
) -> ResultsOptions:
    """Check the options of a results request; raises ValidationError naming the bad field.

    since/until take a date (YYYY-MM-DD: from the start of that day, or through its end) or an
    ISO 8601 time; times without an offset are in the project's time zone."""
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
    filters = _filters_validate(
        study=study,
        errors=errors,
        category=category,
        since=since,
        until=until,
        source=source,
        criterion=criterion,
        include_excluded=include_excluded,
        judge=judge,
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
        filters=filters,
    )


_TIME_HELP = "use YYYY-MM-DD or an ISO 8601 time such as 2026-01-31T14:00:00+00:00"


def _moment(field: str, value: Any, errors: dict[str, str], *, end: bool) -> datetime | None:
    """A filter bound as an aware UTC datetime; a date covers its whole day (start or end)."""
    # Imported here: django.utils.timezone reads the settings, and the pure computation imports
    # this module without any.
    from django.utils import timezone

    if value is None or value == "":
        return None
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        day = value
    else:
        text = str(value).strip()
        try:
            day = date.fromisoformat(text)
        except ValueError:
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                errors[field] = f"not a date or time: {str(value)[:40]!r}; {_TIME_HELP}"
                return None
    if moment is None:
        # Inclusive bounds: the last microsecond of the day, PostgreSQL's resolution.
        moment = datetime.combine(day, time.max if end else time.min)
    try:
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        errors[field] = f"out of range: {str(value)[:40]!r}"
        return None


def _filters_validate(
    *,
    study: Study,
    errors: dict[str, str],
    category: str | None,
    since: Any,
    until: Any,
    source: str | None,
    criterion: str | None,
    include_excluded: Any = None,
    judge: str | None = None,
) -> ResultsFilters:
    """The filters of a results request; problems go into `errors` under their field."""
    from annotations.models import JudgmentSource, Prompt
    from annotations.selectors.judgment_filters import flag_parse, judge_id_find

    chosen_category = None
    if category not in (None, ""):
        known = set(
            Prompt.objects.filter(study=study).values_list("category", flat=True).distinct()
        )
        if category in known:
            chosen_category = category
        elif category == NO_CATEGORY and "" in known:
            chosen_category = ""
        else:
            names = sorted(c or NO_CATEGORY for c in known)
            shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
            errors["category"] = f"no category {category!r} in study {study.slug!r}; " + (
                f"categories: {shown}" if names else "it has no prompts yet"
            )
    start = _moment("since", since, errors, end=False)
    stop = _moment("until", until, errors, end=True)
    if start is not None and stop is not None and start > stop:
        errors["since"] = f"{start.isoformat()} is after until ({stop.isoformat()})"
    # An automatic judge's verdicts are asked for by name (judge), never as a source.
    sources = [value for value in JudgmentSource.values if value != JudgmentSource.JUDGE]
    if source not in (None, "") and source not in sources:
        errors["source"] = f"unknown source {source!r}; choose from {', '.join(sources)}"
    chosen_judge = None
    if judge not in (None, ""):
        try:
            judge_id_find(study=study, judge=str(judge))
            chosen_judge = str(judge).strip()
        except ValidationError as exc:
            errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if criterion not in (None, "") and criterion not in study.criteria:
        asked = ", ".join(study.criteria)
        errors["criterion"] = f"study {study.slug!r} asks no criterion {criterion!r}; " + (
            f"criteria: {asked}" if asked else "it asks none"
        )
    return ResultsFilters(
        category=chosen_category,
        since=start,
        until=stop,
        source=source or None,
        criterion=criterion or None,
        include_excluded=include_excluded is True or flag_parse(include_excluded),
        judge=chosen_judge,
    )
