"""What a plan reads from a pilot study: each candidate's score from every judgment of its
comparisons against the baseline, as arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from django.db import connection

from annotations.models import Study

# One row per judgment of a comparison with the baseline on one side: the comparison, the
# candidate (the other side) and the candidate's score, 1 / 0.5 / 0 ("both bad" is stored as a
# tie, preference 0). The sign of the stored preference favours output_a, so it flips when the
# baseline is output_a. In the order the judgments arrived.
_PILOT_SQL = """
SELECT j.comparison_id,
       CASE WHEN oa.generator_id = %(baseline)s THEN ob.generator_id ELSE oa.generator_id END,
       (1 + CASE WHEN oa.generator_id = %(baseline)s THEN -sign(j.preference)
                 ELSE sign(j.preference) END) / 2.0
FROM annotations_judgment j
JOIN annotations_comparison c ON c.id = j.comparison_id
JOIN annotations_output oa ON oa.id = c.output_a_id
JOIN annotations_output ob ON ob.id = c.output_b_id
WHERE c.study_id = %(study)s
  AND %(baseline)s IN (oa.generator_id, ob.generator_id)
ORDER BY j.created_at, j.id
"""


@dataclass(frozen=True)
class PilotScores:
    """One entry per judgment against the baseline, in the order they arrived."""

    comparison: npt.NDArray[np.int64]
    candidate: npt.NDArray[np.int64]
    score: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.score)


def study_pilot_scores(*, study: Study) -> PilotScores:
    """Every judgment of `study` on a comparison against its baseline: the comparison, the
    candidate generator's id and the candidate's score. Empty when the study has no baseline."""
    if study.baseline_id is None:
        rows: list[tuple[int, int, float]] = []
    else:
        with connection.cursor() as cursor:
            cursor.execute(_PILOT_SQL, {"study": study.pk, "baseline": study.baseline_id})
            rows = cursor.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [(), (), ()]
    return PilotScores(
        comparison=np.asarray(columns[0], dtype=np.int64),
        candidate=np.asarray(columns[1], dtype=np.int64),
        score=np.asarray(columns[2], dtype=np.float64),
    )
