"""A study's roster: one row per rater who has started it or is a member, in one query."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import connection

from annotations.models import Study
from annotations.selectors.pseudonyms import rater_pseudonym

# Judgments and leases are each grouped once per study, then joined to the people: the number
# of statements does not grow with the raters. A rater who reached the quota before their
# completion was recorded (they closed the page after the last judgment) counts as completed
# at their last judgment.
_PEOPLE_SQL = """
WITH judged AS (
    SELECT j.rater_id AS user_id, count(*) AS judged,
           coalesce(sum(j.duration_ms), 0) AS ms,
           min(j.created_at) AS first_at, max(j.created_at) AS last_at
      FROM annotations_judgment j
      JOIN annotations_comparison c ON c.id = j.comparison_id
     WHERE c.study_id = %(study)s
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
     UNION SELECT user_id FROM annotations_membership WHERE study_id = %(study)s)"""

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


def _row(study: Study, values: tuple) -> dict[str, Any]:
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
    }


def roster_rows(*, study: Study, limit: int, offset: int = 0) -> list[dict[str, Any]]:
    """Rows `offset` to `offset + limit` of the roster, first starters first.

    Each row has the ROSTER_FIELDS and ROSTER_ADMIN_FIELDS; `seconds` is the total time on
    task of the rater's judgments (their duration_ms), `started_at` their first lease or
    judgment, `last_at` their latest.
    """
    params = {"study": study.pk, "quota": study.quota, "limit": limit, "offset": offset}
    with connection.cursor() as cursor:
        cursor.execute(_ROWS_SQL, params)
        return [_row(study, values) for values in cursor.fetchall()]


def roster_count(*, study: Study) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_COUNT_SQL, {"study": study.pk})
        return cursor.fetchone()[0]


class Roster:
    """The roster as a sliceable sequence, for Django's and DRF's paginators: each page is
    one query for its rows (and one for the count)."""

    def __init__(self, *, study: Study) -> None:
        self.study = study

    def count(self) -> int:
        return roster_count(study=self.study)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: slice) -> list[dict[str, Any]]:
        start = index.start or 0
        return roster_rows(study=self.study, limit=index.stop - start, offset=start)


def roster_stream(*, study: Study, batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Every roster row, fetched `batch` at a time."""
    offset = 0
    while True:
        rows = roster_rows(study=study, limit=batch, offset=offset)
        yield from rows
        if len(rows) < batch:
            return
        offset += batch
