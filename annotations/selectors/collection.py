"""Reads for collection with a target (services/collection.py): the counted judgments of a
study in arrival order, as arrays, and the size of the whole design."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from django.db import connection

from annotations.models import Study
from annotations.selectors.judgments import COUNTED_SQL

# Judgments that count toward k (human, raters in good standing), oldest first: the order the
# comparisons completed in. Generators of the canonical sides: a is the candidate and b the
# baseline when one side is the baseline.
_JUDGMENTS_SQL = f"""
SELECT c.id, oa.generator_id, ob.generator_id, sign(j.preference)::int
  FROM annotations_judgment j
  JOIN annotations_comparison c ON c.id = j.comparison_id
  JOIN annotations_output oa ON oa.id = c.output_a_id
  JOIN annotations_output ob ON ob.id = c.output_b_id
 WHERE c.study_id = %(study)s AND {COUNTED_SQL}
 ORDER BY j.created_at, j.id"""  # noqa: S608 - built from fixed fragments; values are bound

# Per pair of generators: its comparisons and their counted judgments.
_DESIGN_SQL = """
SELECT oa.generator_id, ob.generator_id, count(*), coalesce(sum(c.judgment_count), 0),
       count(*) FILTER (WHERE c.judgment_count < %(overlap)s)
  FROM annotations_comparison c
  JOIN annotations_output oa ON oa.id = c.output_a_id
  JOIN annotations_output ob ON ob.id = c.output_b_id
 WHERE c.study_id = %(study)s
 GROUP BY oa.generator_id, ob.generator_id"""


@dataclass(frozen=True)
class CountedJudgments:
    """One entry per counted judgment, in arrival order."""

    comparison: npt.NDArray[np.int64]
    generator_a: npt.NDArray[np.int64]
    generator_b: npt.NDArray[np.int64]
    # +1 output_a won, 0 tie, -1 output_b won.
    sign: npt.NDArray[np.int64]


@dataclass(frozen=True)
class PairDesign:
    generator_a: int
    generator_b: int
    comparisons: int
    judgments: int
    # Comparisons still below k counted judgments.
    open: int


def counted_judgments(*, study: Study) -> CountedJudgments:
    with connection.cursor() as cursor:
        cursor.execute(_JUDGMENTS_SQL, {"study": study.pk})
        rows = np.asarray(cursor.fetchall(), dtype=np.int64).reshape(-1, 4)
    return CountedJudgments(
        comparison=rows[:, 0], generator_a=rows[:, 1], generator_b=rows[:, 2], sign=rows[:, 3]
    )


def study_design(*, study: Study) -> list[PairDesign]:
    """Each pair of generators the study compares, with its comparisons, counted judgments
    and comparisons still below k (canonical sides)."""
    with connection.cursor() as cursor:
        cursor.execute(_DESIGN_SQL, {"study": study.pk, "overlap": study.overlap})
        return [PairDesign(*row) for row in cursor.fetchall()]
