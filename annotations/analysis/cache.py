"""A study's results for the page, command, API and exports: read, compute, and cache them.

study_results() returns plain JSON-ready data (the results contract) and caches it in Django's
default cache under a short hashed key that changes whenever a judgment is added, removed or
revised, the generators change, or any option differs. The outputs' style features are cached
apart, until an output is added or removed: a new judgment does not make them cold.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from annotations.analysis.compute import results_compute
from annotations.analysis.inputs import OutputFeatures
from annotations.analysis.length_style import output_features_compute
from annotations.analysis.options import (
    ResultsOptions,
    results_options_describe,
    results_options_validate,
)
from annotations.models import Study
from annotations.selectors.quality import excluded_raters
from annotations.selectors.results import (
    study_output_texts,
    study_outputs_version,
    study_results_inputs,
    study_results_version,
)
from annotations.services.collection import collection_compute

CACHE_SECONDS = 24 * 3600
# Bump when the shape of the results changes, so cached entries of an older shape are ignored.
RESULTS_VERSION = 2
_PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@functools.cache
def software_version() -> str:
    """The project's version (pyproject.toml), the results format and the numeric libraries,
    as the results fingerprint records them."""
    import numpy
    import scipy

    try:
        version = tomllib.loads(_PYPROJECT.read_text())["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        version = "unknown"
    return (
        f"prefeval {version}; results format {RESULTS_VERSION}; "
        f"numpy {numpy.__version__}; scipy {scipy.__version__}"
    )


def _cache_key(study: Study, version: str, options: ResultsOptions) -> str:
    # Every option, whatever fields ResultsOptions grows, hashed: database-cache keys stay short.
    described = json.dumps(
        [RESULTS_VERSION, version, results_options_describe(options=options)], sort_keys=True
    )
    return f"results:{study.pk}:{hashlib.sha256(described.encode()).hexdigest()[:40]}"


def study_output_features(*, study: Study, fresh: bool = False) -> OutputFeatures:
    """The style features of every output of `study` (cached until an output is added or
    removed: stored outputs never change their text; `fresh` reads them anew)."""
    key = f"output-features:{study.pk}:{study_outputs_version(study=study)}"
    features = None if fresh else cache.get(key)
    if features is None:
        ids, texts = study_output_texts(study=study)
        features = output_features_compute(ids=ids, texts=texts)
        cache.set(key, features, CACHE_SECONDS)
    return features


def study_results_compute(*, study: Study, options: ResultsOptions) -> dict[str, Any]:
    """The results of `study` (no results cache): read what they depend on, then compute them."""
    features = study_output_features(study=study)
    inputs = study_results_inputs(study=study, filters=options.filters, output_features=features)
    sides = (inputs.arrays.output_a, inputs.arrays.output_b)
    if not all(features.covers(ids) for ids in sides if ids is not None):
        # Outputs were loaded between the two reads: their judgments need their features.
        features = study_output_features(study=study, fresh=True)
        inputs = dataclasses.replace(inputs, output_features=features)
    results = results_compute(
        inputs=inputs,
        options=options,
        computed_at=timezone.now().isoformat(),
        software_version=software_version(),
    )
    results["excluded_raters"] = excluded_raters(study=study)
    if study.target_half_width is not None and options.baseline_id == study.baseline_id:
        _anytime_intervals_add(study, results)
    return results


def _anytime_intervals_add(study: Study, results: dict[str, Any]) -> None:
    """The anytime-valid intervals of a study with a target (services/collection.py) beside
    the fixed-n ones: generators[].av_ci_low, av_ci_high, valid however often they are looked
    at and whenever collection stopped."""
    from annotations.stats.confidence_sequences import AV_METHOD_DESCRIPTION

    state, _ = collection_compute(study=study)
    intervals = {row["name"]: row for row in state["generators"]}
    for row in results["generators"]:
        found = intervals.get(row["name"])
        row["av_ci_low"] = found["av_ci_low"] if found else None
        row["av_ci_high"] = found["av_ci_high"] if found else None
        row["collection_status"] = found["status"] if found else None
    results["av_method"] = AV_METHOD_DESCRIPTION
    results["collection"] = state


def study_results(*, study: Study, **options: Any) -> dict[str, Any]:
    """Win rates against the baseline with CIs (raw and length-controlled), Bradley-Terry
    ratings (plain and style-controlled), breakdowns, agreement, position and length bias and
    the raters table of `study`, as JSON-ready data, with the filters in force and a
    fingerprint of what was counted.

    `options` are results_options_validate's keywords (baseline, method, resamples, seed,
    confidence, bt_ci, category, since, until, source, criterion); missing ones take their
    defaults. Raises ValidationError for bad options, naming the field. A study without
    judgments gives the same shape with empty tables and a note. Cached in Django's default
    cache until a judgment is added, removed or revised.
    """
    validated = results_options_validate(study=study, **options)
    return study_results_for_options(study=study, options=validated)


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
