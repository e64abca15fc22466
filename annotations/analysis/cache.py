"""A study's results for the page, command, API and exports: read, compute, and cache them.

study_results() returns plain JSON-ready data (the results contract) and caches it in Django's
default cache under a key that changes whenever a judgment is added or removed, the generators
change, or the options differ.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.utils import timezone

from annotations.analysis.compute import results_compute
from annotations.analysis.options import ResultsOptions, results_options_validate
from annotations.models import Study
from annotations.selectors.results import study_results_inputs, study_results_version
from annotations.stats import DEFAULT_RESAMPLES

CACHE_SECONDS = 24 * 3600
# Bump when the shape of the results changes, so cached entries of an older shape are ignored.
RESULTS_VERSION = 1


def _cache_key(study: Study, version: str, options: ResultsOptions) -> str:
    return (
        f"results:v{RESULTS_VERSION}:{study.pk}:{version}:{options.baseline_id}:"
        f"{options.method}:{options.resamples}:{options.seed}:{options.confidence}:{options.bt_ci}"
    )


def study_results_compute(*, study: Study, options: ResultsOptions) -> dict[str, Any]:
    """The results of `study` (no cache): read what they depend on, then compute them."""
    inputs = study_results_inputs(study=study)
    return results_compute(inputs=inputs, options=options, computed_at=timezone.now().isoformat())


def study_results(
    *,
    study: Study,
    baseline: str | None = None,
    method: str = "bootstrap",
    resamples: int | str = DEFAULT_RESAMPLES,
    seed: int | str = 0,
    confidence: float | str = 0.95,
    bt_ci: str | None = None,
) -> dict[str, Any]:
    """Win rates against the baseline with CIs, Bradley-Terry ratings, breakdowns, agreement,
    position bias and the raters table of `study`, as JSON-ready data.

    Raises ValidationError for bad options (unknown baseline, method or bt_ci, resamples out
    of range). A study without judgments gives the same shape with empty tables and a note.
    Cached in Django's default cache until a judgment is added or removed.
    """
    options = results_options_validate(
        study=study,
        baseline=baseline,
        method=method,
        resamples=resamples,
        seed=seed,
        confidence=confidence,
        bt_ci=bt_ci,
    )
    return study_results_for_options(study=study, options=options)


def study_results_for_options(*, study: Study, options: ResultsOptions) -> dict[str, Any]:
    """study_results with options already validated (cached)."""
    version = study_results_version(study=study)
    key = _cache_key(study, version, options)
    results = cache.get(key)
    if results is None:
        results = study_results_compute(study=study, options=options)
        # What the numbers were computed from: pages poll it to learn of new judgments.
        results["version"] = version
        cache.set(key, results, CACHE_SECONDS)
    return results
