"""Pure numpy/scipy statistics for preference studies; the package re-exports the public names.

`from annotations import stats; stats.win_rate_estimate(...)` and
`from annotations.stats import win_rate_estimate` both work. Names other than the defaults load
their module on first use (PEP 562): the URL configuration and the management commands read
DEFAULT_RESAMPLES, and a process that never computes results should not carry scipy's ~80 MB.
"""

from __future__ import annotations

import importlib
from typing import Any

from annotations.stats.defaults import (
    CI_METHOD_DESCRIPTIONS,
    DEFAULT_RESAMPLES,
    MIN_RELIABLE_JUDGMENTS,
    MIN_RELIABLE_PROMPTS,
)

# The public names of each module, loaded on first use.
_PUBLIC: dict[str, tuple[str, ...]] = {
    "win_rate": (
        "CI_METHODS",
        "P_VALUE_CLUSTER_SCORE",
        "P_VALUE_INDEPENDENT_SCORE",
        "CIMethod",
        "Proportion",
        "WinRate",
        "flag_rates_by_group",
        "proportion_estimate",
        "score_from_preference",
        "wilson_interval",
        "win_rate_estimate",
        "win_rates_by_group",
    ),
    "bradley_terry": (
        "BASELINE_RATING",
        "BT_CI_DESCRIPTIONS",
        "DEFAULT_BT_REGULARIZATION",
        "ELO_PER_NAT",
        "BradleyTerry",
        "GeneratorRating",
        "bradley_terry_fit",
    ),
    "agreement": (
        "Agreement",
        "RaterPairKappa",
        "agreement_measure",
        "cohen_kappa",
        "fleiss_kappa",
    ),
    "position_bias": (
        "P_VALUE_BINOMIAL",
        "PositionBias",
        "PositionBiasReport",
        "position_bias_test",
    ),
    "length_style": (
        "LC_METHOD",
        "LENGTH_UNIT",
        "STYLE_FEATURES",
        "LengthBias",
        "LengthBiasReport",
        "LengthControlled",
        "LengthControlledWinRate",
        "StyleCoefficient",
        "StyleControlledBradleyTerry",
        "bradley_terry_style_fit",
        "length_bias_test",
        "length_controlled_win_rates",
        "style_features_count",
    ),
    "ranking": ("ci_aware_ranks", "holm_adjust"),
    "confidence_sequences": (
        "AV_METHOD",
        "AV_METHOD_DESCRIPTION",
        "AV_RESOLUTION",
        "STATUSES",
        "ConfidenceSequence",
        "Status",
        "comparison_means",
        "confidence_sequence",
        "confidence_sequence_path",
        "lattice_resolution",
        "observations_to_target",
        "observations_until",
        "stopping_status",
    ),
    "planning": (
        "PLANNING_RUNS",
        "AnytimeSampleSize",
        "FixedSampleSize",
        "IntraclassCorrelation",
        "anytime_sample_size",
        "comparison_means_simulate",
        "design_effect",
        "fixed_sample_size",
        "icc_estimate",
    ),
    "rater_quality": (
        "REASONS",
        "ControlCounts",
        "QualityThresholds",
        "RaterQuality",
        "quality_reasons",
        "quality_thresholds_build",
        "rater_quality_measure",
    ),
}
_HOMES = {name: module for module, names in _PUBLIC.items() for name in names}

__all__ = [
    "CI_METHOD_DESCRIPTIONS",
    "DEFAULT_RESAMPLES",
    "MIN_RELIABLE_JUDGMENTS",
    "MIN_RELIABLE_PROMPTS",
    *_HOMES,
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
