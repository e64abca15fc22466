"""A study's roster: one row per rater who has started it or is a member, with quality signals.

The rows come from one query; the quality signals (stats/rater_quality.py) from one read of the
study's judgments as arrays, computed in Python for every rater at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np
import psycopg
from django.db import connection

from annotations.models import Study
from annotations.selectors.judgments import HUMAN_SQL
from annotations.selectors.pseudonyms import rater_pseudonym

if TYPE_CHECKING:
    from annotations.stats.rater_quality import QualityThresholds

# Judgments and leases are each grouped once per study, then joined to the people: the number
# of statements does not grow with the raters. A rater who reached the quota before their
# completion was recorded (they closed the page after the last judgment) counts as completed
# at their last judgment.
_PEOPLE_SQL = f"""
WITH judged AS (
    SELECT j.rater_id AS user_id, count(*) AS judged,
           coalesce(sum(j.duration_ms), 0) AS ms,
           min(j.created_at) AS first_at, max(j.created_at) AS last_at
      FROM annotations_judgment j
      JOIN annotations_comparison c ON c.id = j.comparison_id
     WHERE c.study_id = %(study)s AND {HUMAN_SQL}
     GROUP BY j.rater_id),
met AS (
    SELECT a.rater_id AS user_id, count(*) FILTER (WHERE a.status = 'skipped') AS skipped,
           min(a.created_at) AS first_at, max(coalesce(a.finished_at, a.created_at)) AS last_at
      FROM annotations_assignment a
     WHERE a.study_id = %(study)s
     GROUP BY a.rater_id),
people AS (
    SELECT user_id FROM judged
     UNION SELECT user_id FROM met
     UNION SELECT rater_id FROM annotations_controlcheck WHERE study_id = %(study)s
     UNION SELECT user_id FROM annotations_membership WHERE study_id = %(study)s)"""  # noqa: S608 - built from fixed fragments; values are bound

_ROWS_SQL = (
    _PEOPLE_SQL
    + """
SELECT u.id, u.username, coalesce(m.platform, ''), coalesce(m.platform_id, ''),
       coalesce(m.platform_session_id, ''), coalesce(m.platform_study_id, ''),
       coalesce(jd.judged, 0), coalesce(mt.skipped, 0), coalesce(jd.ms, 0),
       least(jd.first_at, mt.first_at), greatest(jd.last_at, mt.last_at),
       coalesce(m.completed_at,
                CASE WHEN jd.judged >= %(quota)s::integer THEN jd.last_at END),
       m.id IS NOT NULL
  FROM people p
  JOIN annotations_user u ON u.id = p.user_id
  LEFT JOIN annotations_membership m ON m.study_id = %(study)s AND m.user_id = p.user_id
  LEFT JOIN judged jd ON jd.user_id = p.user_id
  LEFT JOIN met mt ON mt.user_id = p.user_id
 ORDER BY least(jd.first_at, mt.first_at) NULLS LAST, u.id
 LIMIT %(limit)s OFFSET %(offset)s"""
)
_COUNT_SQL = _PEOPLE_SQL + "\nSELECT count(*) FROM people"
# Fields every reader of the roster sees, and those only admins see (they name the person).
ROSTER_FIELDS = (
    "rater",
    "judged",
    "skipped",
    "seconds",
    "started_at",
    "last_at",
    "completed_at",
    "member",
)
ROSTER_ADMIN_FIELDS = (
    "username",
    "platform",
    "platform_id",
    "platform_session_id",
    "platform_study_id",
)
# The quality signals of each row (every reader sees them), each beside the n it rests on.
QUALITY_FIELDS = (
    "gold_n",
    "gold_accuracy",
    "gold_ci_low",
    "gold_ci_high",
    "repeat_n",
    "self_consistency",
    "agreement_n",
    "agreement",
    "left_n",
    "left_share",
    "left_p_value",
    "timed_n",
    "median_seconds",
    "too_fast_share",
    "longest_streak",
    "outlier_n",
    "outlier_score",
    "flagged",
    "reasons",
    "paused",
    "excluded",
    "excluded_reason",
)
# A rater with no judgments yet: no signal, nothing flagged, no action taken.
_NO_SIGNALS: dict[str, Any] = {
    **{name: 0 if name.endswith("_n") else None for name in QUALITY_FIELDS},
    "longest_streak": 0,
    "outlier_score": 1.0,  # the e-process starts at 1
    "flagged": False,
    "reasons": [],
    "paused": False,
    "excluded": False,
}

# The study's judgments as fixed-width binary records (see selectors/results.py for why):
# rater, comparison, id, created_at in microseconds, preference, left_is_a, duration (-1:
# unknown). Sorted in numpy, by created_at then id: each rater's order of judging.
_QUALITY_RECORD = np.dtype(
    [
        ("rater", ">i8"),
        ("comparison", ">i8"),
        ("id", ">i8"),
        ("at", ">i8"),
        ("preference", ">i2"),
        ("left_is_a", "?"),
        ("duration_ms", ">i4"),
    ]
)
_QUALITY_SQL = f"""
SELECT string_agg(
    int8send(j.rater_id) || int8send(j.comparison_id) || int8send(j.id)
    || int8send((extract(epoch FROM j.created_at) * 1000000)::int8)
    || int2send(j.preference) || boolsend(j.left_is_a)
    || int4send(coalesce(j.duration_ms, -1)),
    ''::bytea
)
FROM annotations_judgment j
JOIN annotations_comparison c ON c.id = j.comparison_id
WHERE c.study_id = %(study)s AND {HUMAN_SQL}
"""  # noqa: S608 - built from fixed fragments; values are bound


def study_quality_thresholds(*, study: Study) -> QualityThresholds:
    """The study's rater quality thresholds: the defaults with its overrides (ValueError
    names a bad override)."""
    from annotations.stats.rater_quality import quality_thresholds_build

    return quality_thresholds_build(
        overrides=study.quality_thresholds or {},
        min_seconds=study.min_seconds,
        gold_min_n=study.gold_min_n,
        gold_min_accuracy=study.gold_min_accuracy,
    )


# Each rater's answered control items (services/quality.py): gold answered and right,
# repeats answered and consistent.
_CONTROLS_SQL = """
SELECT rater_id,
       count(*) FILTER (WHERE kind = 'gold'), count(*) FILTER (WHERE kind = 'gold' AND correct),
       count(*) FILTER (WHERE kind = 'repeat'),
       count(*) FILTER (WHERE kind = 'repeat' AND correct)
  FROM annotations_controlcheck
 WHERE study_id = %(study)s AND status = 'done'
 GROUP BY rater_id"""
_STANDINGS_SQL = """
SELECT rater_id, paused, excluded, nullif(excluded_reason, '')
  FROM annotations_raterstanding WHERE study_id = %(study)s"""


def _control_counts(study: Study) -> dict[int, Any]:
    from annotations.stats.rater_quality import ControlCounts

    with connection.cursor() as cursor:
        cursor.execute(_CONTROLS_SQL, {"study": study.pk})
        return {row[0]: ControlCounts(*row[1:]) for row in cursor.fetchall()}


def _standings(study: Study) -> dict[int, dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(_STANDINGS_SQL, {"study": study.pk})
        return {
            row[0]: {"paused": row[1], "excluded": row[2], "excluded_reason": row[3]}
            for row in cursor.fetchall()
        }


def rater_quality_signals(*, study: Study) -> dict[int, dict[str, Any]]:
    """The quality signals (QUALITY_FIELDS) of every rater with a judgment in `study`, by user
    id: one query, then arithmetic over arrays."""
    # Loaded here, not at import: the URL configuration must start without scipy.
    from annotations.stats.rater_quality import rater_quality_measure

    with (
        connection.cursor() as django_cursor,
        psycopg.Cursor(django_cursor.connection) as cursor,
    ):
        cursor.execute(_QUALITY_SQL, {"study": study.pk}, binary=True)
        packed = cursor.fetchone()[0]
    rows = np.frombuffer(packed or b"", dtype=_QUALITY_RECORD)
    controls = _control_counts(study)
    standings = _standings(study)
    at = rows["at"].astype(np.int64)
    ids = rows["id"].astype(np.int64)
    measured = rater_quality_measure(
        rater=rows["rater"].astype(np.int64),
        comparison=rows["comparison"].astype(np.int64),
        sign=rows["preference"].astype(np.int64),
        left_is_a=rows["left_is_a"].astype(bool),
        duration_ms=rows["duration_ms"].astype(np.int64),
        # Each judgment's rank by judging time, then id.
        order=np.lexsort((ids, at)).argsort(),
        thresholds=study_quality_thresholds(study=study),
        controls=controls,
    )
    signals: dict[int, dict[str, Any]] = {}
    for quality in measured:
        values = asdict(quality)
        values["reasons"] = list(quality.reasons)
        signals[int(quality.rater)] = {
            **_NO_SIGNALS,
            **{name: values[name] for name in QUALITY_FIELDS if name in values},
        }
    for user_id, standing in standings.items():
        signals[user_id] = {**signals.get(user_id, _NO_SIGNALS), **standing}
    return signals


def roster_rater_find(*, study: Study, rater: str) -> int | None:
    """The user id behind a roster row's pseudonymous id (`r-...`) in `study`, or None."""
    with connection.cursor() as cursor:
        cursor.execute(_PEOPLE_SQL + "\nSELECT user_id FROM people", {"study": study.pk})
        for (user_id,) in cursor.fetchall():
            if rater_pseudonym(study_id=study.pk, user_id=user_id) == rater:
                return user_id
    return None


def _row(study: Study, values: tuple, signals: dict[int, dict[str, Any]]) -> dict[str, Any]:
    (user_id, username, platform, platform_id, session_id, study_id) = values[:6]
    judged, skipped, ms, started_at, last_at, completed_at, member = values[6:]
    return {
        "rater": rater_pseudonym(study_id=study.pk, user_id=user_id),
        "judged": judged,
        "skipped": skipped,
        "seconds": round(ms / 1000, 3),
        "started_at": started_at,
        "last_at": last_at,
        "completed_at": completed_at,
        "member": member,
        "username": username,
        "platform": platform,
        "platform_id": platform_id,
        "platform_session_id": session_id,
        "platform_study_id": study_id,
        **signals.get(user_id, _NO_SIGNALS),
    }


def roster_rows(
    *,
    study: Study,
    limit: int,
    offset: int = 0,
    signals: dict[int, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Rows `offset` to `offset + limit` of the roster, first starters first.

    Each row has the ROSTER_FIELDS, ROSTER_ADMIN_FIELDS and QUALITY_FIELDS; `seconds` is the
    total time on task of the rater's judgments (their duration_ms), `started_at` their first
    lease or judgment, `last_at` their latest. `signals` (rater_quality_signals) is read when
    not given; callers reading several pages pass it once.
    """
    if signals is None:
        signals = rater_quality_signals(study=study)
    params = {"study": study.pk, "quota": study.quota, "limit": limit, "offset": offset}
    with connection.cursor() as cursor:
        cursor.execute(_ROWS_SQL, params)
        return [_row(study, values, signals) for values in cursor.fetchall()]


def roster_count(*, study: Study) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_COUNT_SQL, {"study": study.pk})
        return cursor.fetchone()[0]


class Roster:
    """The roster as a sliceable sequence, for Django's and DRF's paginators: each page is
    one query for its rows (and one for the count)."""

    def __init__(self, *, study: Study) -> None:
        self.study = study
        self._signals: dict[int, dict[str, Any]] | None = None

    def count(self) -> int:
        return roster_count(study=self.study)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: slice) -> list[dict[str, Any]]:
        start = index.start or 0
        if self._signals is None:
            self._signals = rater_quality_signals(study=self.study)
        return roster_rows(
            study=self.study, limit=index.stop - start, offset=start, signals=self._signals
        )


def roster_stream(*, study: Study, batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Every roster row, fetched `batch` at a time (the quality signals are read once)."""
    signals = rater_quality_signals(study=study)
    offset = 0
    while True:
        rows = roster_rows(study=study, limit=batch, offset=offset, signals=signals)
        yield from rows
        if len(rows) < batch:
            return
        offset += batch


def rater_standing_view(*, study: Study, user_id: int) -> dict[str, Any]:
    """A rater's standing in `study` as the API shows it (good standing without a row)."""
    from annotations.models import RaterStanding

    standing = (
        RaterStanding.objects.select_related("excluded_by")
        .filter(study=study, rater_id=user_id)
        .first()
    )
    if standing is None:
        return {
            "paused": False,
            "excluded": False,
            "excluded_reason": None,
            "excluded_by": None,
            "excluded_at": None,
        }
    return {
        "paused": standing.paused,
        "excluded": standing.excluded,
        "excluded_reason": standing.excluded_reason or None,
        "excluded_by": standing.excluded_by.username if standing.excluded_by else None,
        "excluded_at": standing.excluded_at,
    }
