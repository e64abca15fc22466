"""What a study's results are computed from: plain arrays and rows, no database objects.

The selectors in annotations.selectors.results fill these; annotations.analysis.compute reads
them. Keeping the types here lets the computation (and its tests) run with no Django at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class JudgmentArrays:
    """Every judgment of a study as parallel numpy arrays (canonical a/b orientation).

    generator_a/b, prompt, rater and comparison hold database ids; category holds an index into
    `categories`; duration_ms is -1 where unknown. Judgments follow id order. output_a/b (the
    outputs' ids, for their style features) and revised_us (the revision time in microseconds
    since the Unix epoch, -1 if never revised: the results fingerprint hashes it) are always
    filled by the selector; arrays built by hand may leave them out.
    """

    id: npt.NDArray[np.int64]
    comparison: npt.NDArray[np.int64]
    generator_a: npt.NDArray[np.int64]
    generator_b: npt.NDArray[np.int64]
    prompt: npt.NDArray[np.int64]
    rater: npt.NDArray[np.int64]
    category: npt.NDArray[np.int32]
    preference: npt.NDArray[np.int16]
    both_bad: npt.NDArray[np.bool_]
    left_is_a: npt.NDArray[np.bool_]
    duration_ms: npt.NDArray[np.int64]
    categories: tuple[str, ...]
    output_a: npt.NDArray[np.int64] | None = None
    output_b: npt.NDArray[np.int64] | None = None
    revised_us: npt.NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return len(self.preference)


@dataclass(frozen=True)
class OutputFeatures:
    """Style features of a study's outputs (annotations.stats.style_features_count's columns:
    words, headers, list items, bold spans), one row per output id, ids ascending."""

    output: npt.NDArray[np.int64]
    values: npt.NDArray[np.int64]

    def of(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The rows of the outputs `ids` (each must be present: see covers)."""
        return self.values[np.searchsorted(self.output, ids)]

    def covers(self, ids: npt.NDArray[np.int64]) -> bool:
        """Whether every output in `ids` has features here."""
        if not len(ids):
            return True
        at = np.searchsorted(self.output, ids)
        return bool(at.max() < len(self.output) and np.all(self.output[at] == ids))


# How results name the prompts without a category (and how a filter asks for them).
NO_CATEGORY = "(none)"


@dataclass(frozen=True)
class ResultsFilters:
    """Which judgments the results count; None means no restriction.

    category: prompts of that category ("" for prompts without one). since/until: judgment
    times (created_at), both bounds inclusive, timezone-aware. source: "web" or "import".
    criterion: the verdict on that criterion replaces the overall verdict, and judgments
    without an answer to it are left out. include_excluded: also excluded raters' judgments.
    judge: an automatic judge's verdicts in place of the humans'. A new filter is a field here,
    read by
    annotations.selectors.results and described by annotations.analysis.options.
    """

    category: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    source: str | None = None
    criterion: str | None = None
    # Also the judgments of raters excluded from the study (left out by default).
    include_excluded: bool = False
    # An automatic judge's verdicts instead of the human judgments (import_judgments --judge).
    judge: str | None = None


NO_FILTERS = ResultsFilters()


@dataclass(frozen=True)
class GeneratorRow:
    """One generator of a study as the results show it."""

    id: int
    name: str
    family: str
    size: int | None


@dataclass(frozen=True)
class ResultsInputs:
    """Everything a study's results are computed from (annotations.analysis.compute).

    criteria and flags are the study's (key, label) pairs in the study's order. The answers
    and marks are (judgment id, key, value) rows: criterion answers as signed integers (positive
    favours output a), flags as (judgment id, side "a" or "b", flag).
    """

    slug: str
    name: str
    generators: tuple[GeneratorRow, ...]  # in name order
    arrays: JudgmentArrays
    rater_pseudonyms: dict[int, str]
    criteria: tuple[tuple[str, str], ...] = ()
    criterion_answers: tuple[tuple[int, str, int], ...] = ()
    flags: tuple[tuple[str, str], ...] = ()
    flag_marks: tuple[tuple[int, str, str], ...] = ()
    output_features: OutputFeatures | None = None
    # Each automatic judge's verdicts (name, arrays), under the same filters, to be checked
    # against the human raters (annotations.analysis.judges).
    judges: tuple[tuple[str, JudgmentArrays], ...] = ()
