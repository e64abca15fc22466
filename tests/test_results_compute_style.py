"""The length and style sections, the filters stated and the fingerprint of the pure results
computation, from hand-built arrays (no database: these tests carry no django_db mark)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
from datetime import UTC, datetime

import numpy as np
import pytest

from annotations.analysis.compute import results_compute
from annotations.analysis.inputs import (
    GeneratorRow,
    JudgmentArrays,
    OutputFeatures,
    ResultsFilters,
    ResultsInputs,
)
from annotations.analysis.options import ResultsOptions

ALPHA, BASE, BETA = 1, 2, 3
# Outputs: (id, generator, words, headers, list items, bold) for prompts 10 and 20.
OUTPUTS = [
    (101, ALPHA, 120, 2, 4, 1),
    (102, BASE, 60, 0, 0, 0),
    (103, BETA, 40, 0, 1, 0),
    (201, ALPHA, 200, 1, 6, 2),
    (202, BASE, 80, 0, 2, 0),
    (203, BETA, 90, 0, 0, 0),
]
# judgment id, comparison, output a, output b, prompt, rater, preference, revised_us.
ROWS = [
    (11, 100, 101, 102, 10, 7, 1, -1),  # Alpha (longer) beats Base
    (12, 100, 101, 102, 10, 8, 1, -1),  # Alpha (longer) beats Base
    (13, 101, 201, 202, 20, 7, 0, -1),  # tie
    (14, 101, 201, 202, 20, 8, -1, -1),  # Base (shorter) beats Alpha
    (15, 102, 103, 102, 10, 7, -1, -1),  # Base (longer) beats Beta
    (16, 103, 203, 202, 20, 8, 1, 1_700_000_000_000_000),  # Beta (longer) beats Base, revised
    (17, 104, 101, 103, 10, 7, 1, -1),  # Alpha (longer) beats Beta
]
GENERATORS = (
    GeneratorRow(id=ALPHA, name="Alpha", family="", size=None),
    GeneratorRow(id=BASE, name="Base", family="", size=None),
    GeneratorRow(id=BETA, name="Beta", family="", size=None),
)


def inputs_of(rows: list[tuple] = ROWS) -> ResultsInputs:
    generator_of = {o[0]: o[1] for o in OUTPUTS}
    columns = list(zip(*rows, strict=True))

    def column(i: int, dtype: type = np.int64) -> np.ndarray:
        return np.array(columns[i], dtype=dtype)

    n = len(rows)
    arrays = JudgmentArrays(
        id=column(0),
        comparison=column(1),
        generator_a=np.array([generator_of[o] for o in columns[2]], dtype=np.int64),
        generator_b=np.array([generator_of[o] for o in columns[3]], dtype=np.int64),
        prompt=column(4),
        rater=column(5),
        category=np.zeros(n, dtype=np.int32),
        preference=column(6, np.int16),
        both_bad=np.zeros(n, dtype=bool),
        left_is_a=np.ones(n, dtype=bool),
        duration_ms=np.full(n, -1, dtype=np.int64),
        categories=("",),
        output_a=column(2),
        output_b=column(3),
        revised_us=column(7),
    )
    features = OutputFeatures(
        output=np.array([o[0] for o in OUTPUTS], dtype=np.int64),
        values=np.array([o[2:] for o in OUTPUTS], dtype=np.int64),
    )
    return ResultsInputs(
        slug="tiny",
        name="A tiny study",
        generators=GENERATORS,
        arrays=arrays,
        rater_pseudonyms={7: "r-seven", 8: "r-eight"},
        output_features=features,
    )


OPTIONS = ResultsOptions(baseline_id=BASE, method="wilson", resamples=100, seed=0, confidence=0.95)


def compute(inputs: ResultsInputs, options: ResultsOptions = OPTIONS, software: str = "v1") -> dict:
    return results_compute(
        inputs=inputs,
        options=options,
        computed_at="2024-01-02T03:04:05+00:00",
        software_version=software,
    )


def test_length_bias_counts_by_hand() -> None:
    bias = compute(inputs_of())["length_bias"]
    # Non-tie judgments: 11, 12 (longer won), 14 (shorter won), 15, 16, 17 (longer won).
    assert (bias["n"], bias["n_longer_won"], bias["n_ties"], bias["n_same_length"]) == (6, 5, 1, 0)
    assert bias["share_longer_won"] == pytest.approx(5 / 6)
    # Two-sided exact binomial test of 5 of 6 at 0.5: 2 * (1 + 6) / 64.
    assert bias["p_value"] == pytest.approx(14 / 64)
    assert bias["length"] == "words"
    by = {row["name"]: row for row in bias["by_generator"]}
    # Alpha: 11, 12, 14, 17; Base: 11, 12, 14, 15, 16; Beta: 15, 16, 17.
    assert {k: (v["n"], v["n_longer_won"]) for k, v in by.items()} == {
        "Alpha": (4, 3),
        "Base": (5, 4),
        "Beta": (3, 3),
    }


def test_generators_carry_length_controlled_rates_and_style_sections_have_their_keys() -> None:
    results = compute(inputs_of())
    for row in results["generators"]:
        assert {"lc_win_rate", "lc_ci_low", "lc_ci_high"} <= set(row)
        assert 0.0 <= row["lc_win_rate"] <= 1.0
    assert results["length_controlled_method"]["length"] == "words"
    assert set(results["style_coefficients"]) == {"length", "headers", "lists", "bold"}
    rows = results["bradley_terry_style_controlled"]
    assert {r["name"] for r in rows} == {"Alpha", "Base", "Beta"}
    assert all({"name", "rating", "ci_low", "ci_high"} <= set(r) for r in rows)
    base = next(r for r in rows if r["name"] == "Base")
    assert base["rating"] == pytest.approx(1000.0)
    json.dumps(results, allow_nan=False)


def test_without_features_the_sections_are_empty_but_present() -> None:
    inputs = dataclasses.replace(inputs_of(), output_features=None)
    results = compute(inputs)
    assert all(row["lc_win_rate"] is None for row in results["generators"])
    assert results["bradley_terry_style_controlled"] == []
    assert results["style_coefficients"] == dict.fromkeys(("length", "headers", "lists", "bold"))
    assert results["length_bias"]["n"] == 0


def test_filters_are_stated_null_when_not_set() -> None:
    assert compute(inputs_of())["filters"] == dict.fromkeys(
        ("category", "since", "until", "source", "criterion", "include_excluded", "judge")
    )
    since = datetime(2024, 3, 1, tzinfo=UTC)
    options = dataclasses.replace(
        OPTIONS, filters=ResultsFilters(category="", since=since, source="web")
    )
    assert compute(inputs_of(), options)["filters"] == {
        "category": "(none)",
        "since": "2024-03-01T00:00:00+00:00",
        "until": None,
        "source": "web",
        "criterion": None,
        "include_excluded": None,
        "judge": None,
    }


def test_fingerprint_hashes_the_documented_records() -> None:
    results = compute(inputs_of())
    fingerprint = results["fingerprint"]
    # SHA-256 over (id int64, preference int16, revised_us int64), little-endian, in id order.
    packed = b"".join(struct.pack("<qhq", r[0], r[6], r[7]) for r in sorted(ROWS))
    assert fingerprint["judgments_sha256"] == hashlib.sha256(packed).hexdigest()
    assert fingerprint["n_judgments"] == 7
    assert fingerprint["software_version"] == "v1"
    assert fingerprint["parameters"] == {
        "study": "tiny",
        "baseline": "Base",
        "method": "wilson",
        "resamples": 100,
        "seed": 0,
        "confidence": 0.95,
        "bt_ci": "sandwich",
        "filters": dict.fromkeys(
            ("category", "since", "until", "source", "criterion", "include_excluded", "judge")
        ),
    }
    whole = {k: v for k, v in fingerprint.items() if k != "sha256"}
    assert (
        fingerprint["sha256"]
        == hashlib.sha256(json.dumps(whole, sort_keys=True).encode()).hexdigest()
    )


def test_fingerprint_is_stable_and_changes_with_judgments_options_and_software() -> None:
    base = compute(inputs_of())["fingerprint"]
    later = results_compute(
        inputs=inputs_of(), options=OPTIONS, computed_at="2030-01-01", software_version="v1"
    )
    assert later["fingerprint"] == base  # the time of computing is not part of it
    shuffled = inputs_of(list(reversed(ROWS)))
    assert compute(shuffled)["fingerprint"]["judgments_sha256"] == base["judgments_sha256"]

    added = compute(inputs_of([*ROWS, (18, 104, 101, 103, 10, 8, 0, -1)]))["fingerprint"]
    revised = [*ROWS[:-1], (17, 104, 101, 103, 10, 7, 1, 1_800_000_000_000_000)]
    changed_verdict = [*ROWS[:-1], (17, 104, 101, 103, 10, 7, -1, -1)]
    others = [
        added,
        compute(inputs_of(revised))["fingerprint"],
        compute(inputs_of(changed_verdict))["fingerprint"],
        compute(inputs_of(), dataclasses.replace(OPTIONS, seed=1))["fingerprint"],
        compute(inputs_of(), dataclasses.replace(OPTIONS, baseline_id=BETA))["fingerprint"],
        compute(inputs_of(), dataclasses.replace(OPTIONS, filters=ResultsFilters(source="import")))[
            "fingerprint"
        ],
        compute(inputs_of(), software="v2")["fingerprint"],
    ]
    hashes = {base["sha256"], *(f["sha256"] for f in others)}
    assert len(hashes) == 1 + len(others)
    assert added["n_judgments"] == 8
