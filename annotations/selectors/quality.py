"""Reads of quality control: the control items raters answered (the qc export) and the
excluded raters with who excluded them, when and why (results)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import connection

from annotations.models import Study
from annotations.selectors.pseudonyms import RaterPseudonyms

# One row per control item served, in serving order. For gold, output "a" is the better one;
# for a repeat, the repeated comparison's a/b (its first answer beside it).
_CHECKS_SQL = """
SELECT k.id, k.rater_id, k.kind, k.qualification, k.status, k.left_is_a, k.preference,
       k.both_bad, k.correct, k.duration_ms, k.created_at, k.finished_at, k.revised_at,
       g.key, gp.key, rp.key, ga.name, gb.name, j.preference, j.left_is_a, j.created_at
  FROM annotations_controlcheck k
  LEFT JOIN annotations_golditem g ON g.id = k.gold_id
  LEFT JOIN annotations_prompt gp ON gp.id = g.prompt_id
  LEFT JOIN annotations_judgment j ON j.id = k.repeat_of_id
  LEFT JOIN annotations_comparison c ON c.id = j.comparison_id
  LEFT JOIN annotations_prompt rp ON rp.id = c.prompt_id
  LEFT JOIN annotations_output oa ON oa.id = c.output_a_id
  LEFT JOIN annotations_output ob ON ob.id = c.output_b_id
  LEFT JOIN annotations_generator ga ON ga.id = oa.generator_id
  LEFT JOIN annotations_generator gb ON gb.id = ob.generator_id
 WHERE k.study_id = %(study)s
 ORDER BY k.created_at, k.id"""

# Columns of the qc export, in order.
QC_COLUMNS = (
    "id",
    "rater",
    "kind",
    "gold_key",
    "prompt_key",
    "generator_a",
    "generator_b",
    "qualification_attempt",
    "status",
    "left_is_a",
    "answer",
    "correct",
    "first_answer",
    "first_left_is_a",
    "first_at",
    "duration_ms",
    "served_at",
    "answered_at",
    "revised_at",
)


def _outcome(preference: int | None, both_bad: bool = False) -> str | None:
    if preference is None:
        return None
    if both_bad:
        return "both_bad"
    return "a" if preference > 0 else "b" if preference < 0 else "tie"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def control_checks_stream(*, study: Study) -> Iterator[dict[str, Any]]:
    """Every control item served in `study` as a QC_COLUMNS record, in serving order."""
    raters = RaterPseudonyms(study_id=study.pk)
    with connection.cursor() as cursor:
        cursor.execute(_CHECKS_SQL, {"study": study.pk})
        while rows := cursor.fetchmany(2000):
            for row in rows:
                (pk, rater_id, kind, attempt, status, left_is_a, preference, both_bad) = row[:8]
                (correct, duration, served, answered, revised) = row[8:13]
                (gold_key, gold_prompt, repeat_prompt, gen_a, gen_b) = row[13:18]
                (first, first_left, first_at) = row[18:21]
                yield {
                    "id": pk,
                    "rater": raters[rater_id],
                    "kind": kind,
                    "gold_key": gold_key,
                    "prompt_key": gold_prompt or repeat_prompt,
                    "generator_a": gen_a,
                    "generator_b": gen_b,
                    "qualification_attempt": attempt,
                    "status": status,
                    "left_is_a": left_is_a,
                    "answer": _outcome(preference, both_bad),
                    "correct": correct,
                    "first_answer": _outcome(first),
                    "first_left_is_a": first_left,
                    "first_at": _iso(first_at),
                    "duration_ms": duration,
                    "served_at": _iso(served),
                    "answered_at": _iso(answered) if status == "done" else None,
                    "revised_at": _iso(revised),
                }


_EXCLUDED_SQL = """
SELECT st.rater_id, st.excluded_reason, st.excluded_at,
       (SELECT e.actor FROM annotations_raterevent e
         WHERE e.study_id = st.study_id AND e.rater_id = st.rater_id AND e.action = 'exclude'
         ORDER BY e.at DESC, e.id DESC LIMIT 1),
       (SELECT count(*) FROM annotations_judgment j
          JOIN annotations_comparison c ON c.id = j.comparison_id
         WHERE j.rater_id = st.rater_id AND c.study_id = st.study_id)
  FROM annotations_raterstanding st
 WHERE st.study_id = %(study)s AND st.excluded
 ORDER BY st.excluded_at, st.rater_id"""


def excluded_raters(*, study: Study) -> list[dict[str, Any]]:
    """The raters excluded from `study`: [{"rater", "reason", "by", "at", "n_judgments"}]."""
    raters = RaterPseudonyms(study_id=study.pk)
    with connection.cursor() as cursor:
        cursor.execute(_EXCLUDED_SQL, {"study": study.pk})
        return [
            {
                "rater": raters[rater_id],
                "reason": reason,
                "by": actor or "",
                "at": _iso(at),
                "n_judgments": n,
            }
            for rater_id, reason, at, actor, n in cursor.fetchall()
        ]
