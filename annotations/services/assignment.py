"""Leasing comparisons to raters: exactly k raters per pair, counterbalanced left/right order."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotations.models import (
    Assignment,
    AssignmentStatus,
    Comparison,
    Output,
    Prompt,
    Study,
    User,
)
from annotations.sql import sql_script_run

# Reason recorded when a rater's expired lease could not be renewed because other raters filled
# the comparison meanwhile; such a comparison is not offered to that rater again.
EXPIRED_REASON = "lease expired"
# Candidates tried per request when a concurrent lease filled the first one found.
MAX_CANDIDATES = 25
MAX_SKIP_REASON = 1000


class NotYourAssignment(PermissionDenied):
    """The assignment belongs to another rater."""


def _require_rater(*, study: Study, rater: User) -> None:
    if not rater.is_rater:
        raise PermissionDenied("only raters take assignments")
    if not study.is_open:
        raise ValidationError(f"study {study.slug!r} is closed to raters", code="closed")


def comparison_room(*, comparison_id: int, rater_id: int, overlap: int, now: datetime) -> dict:
    """Judgments, other raters' live leases and left/right counts of one comparison.

    The caller must hold the comparison's row lock: the counts are read in a statement of their
    own, so under READ COMMITTED they include everything committed before the lock was granted.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.judgment_count,
                   (SELECT count(*) FROM annotations_assignment a
                     WHERE a.comparison_id = c.id AND a.status = 'open'
                       AND a.expires_at > %(now)s AND a.rater_id <> %(rater)s),
                   (SELECT count(*) FILTER (WHERE s.left_is_a) FROM (
                        SELECT j.left_is_a FROM annotations_judgment j
                         WHERE j.comparison_id = c.id
                        UNION ALL
                        SELECT a.left_is_a FROM annotations_assignment a
                         WHERE a.comparison_id = c.id AND a.status = 'open'
                           AND a.expires_at > %(now)s AND a.rater_id <> %(rater)s) s),
                   (SELECT count(*) FILTER (WHERE NOT s.left_is_a) FROM (
                        SELECT j.left_is_a FROM annotations_judgment j
                         WHERE j.comparison_id = c.id
                        UNION ALL
                        SELECT a.left_is_a FROM annotations_assignment a
                         WHERE a.comparison_id = c.id AND a.status = 'open'
                           AND a.expires_at > %(now)s AND a.rater_id <> %(rater)s) s)
              FROM annotations_comparison c
             WHERE c.id = %(comparison)s
            """,
            {"now": now, "rater": rater_id, "comparison": comparison_id},
        )
        judgments, live, left_a, left_b = cursor.fetchone()
    return {
        "judgments": judgments,
        "live_leases": live,
        "has_room": judgments + live < overlap,
        "left_a": left_a,
        "left_b": left_b,
    }


def comparison_lock(*, comparison_id: int) -> None:
    """Take the comparison's row lock: every change to its judgments or leases holds it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM annotations_comparison WHERE id = %s FOR UPDATE", [comparison_id]
        )


def _balanced_left_is_a(left_a: int, left_b: int) -> bool:
    if left_a == left_b:
        return random.random() < 0.5
    return left_a < left_b


# Walks the (study, judgment_count, id) index in order and stops at the first comparison that
# still has room and that this rater has never met; SKIP LOCKED lets concurrent raters pass
# each other instead of queueing on the same row.
_PICK_SQL = """
SELECT c.id
  FROM annotations_comparison c
 WHERE c.study_id = %(study)s
   AND c.judgment_count < %(overlap)s
   AND NOT (c.id = ANY(%(tried)s))
   AND NOT EXISTS (SELECT 1 FROM annotations_assignment m
                    WHERE m.comparison_id = c.id AND m.rater_id = %(rater)s)
   AND NOT EXISTS (SELECT 1 FROM annotations_judgment j
                    WHERE j.comparison_id = c.id AND j.rater_id = %(rater)s)
   AND c.judgment_count + (SELECT count(*) FROM annotations_assignment l
                            WHERE l.comparison_id = c.id AND l.status = 'open'
                              AND l.expires_at > %(now)s) < %(overlap)s
 ORDER BY c.study_id, c.judgment_count, c.id
 LIMIT 1
   FOR UPDATE OF c SKIP LOCKED
"""


def _pick_and_lease(*, study: Study, rater: User, now: datetime) -> Assignment | None:
    tried: list[int] = []
    with connection.cursor() as cursor:
        for _ in range(MAX_CANDIDATES):
            cursor.execute(
                _PICK_SQL,
                {
                    "study": study.pk,
                    "overlap": study.overlap,
                    "tried": tried,
                    "rater": rater.pk,
                    "now": now,
                },
            )
            row = cursor.fetchone()
            if row is None:
                return None
            comparison_id = row[0]
            # The pick saw a snapshot taken before the lock; recount now that we hold it.
            room = comparison_room(
                comparison_id=comparison_id, rater_id=rater.pk, overlap=study.overlap, now=now
            )
            if not room["has_room"]:
                tried.append(comparison_id)
                continue
            return Assignment.objects.create(
                study=study,
                comparison_id=comparison_id,
                rater=rater,
                left_is_a=_balanced_left_is_a(room["left_a"], room["left_b"]),
                expires_at=now + timedelta(minutes=study.lease_minutes),
            )
    return None


def _next_in_transaction(*, study: Study, rater: User, now: datetime) -> Assignment | None:
    with connection.cursor() as cursor:
        # A lease lost in a server crash costs nothing (the rater asks again), so its commit
        # need not wait for the disk; judgments keep the durable default.
        cursor.execute("SET LOCAL synchronous_commit = off")
        # One request per rater at a time (second tabs, retries): the next one then sees the
        # lease this one made instead of racing it. NO KEY UPDATE leaves foreign-key checks
        # unblocked.
        cursor.execute("SELECT 1 FROM annotations_user WHERE id = %s FOR NO KEY UPDATE", [rater.pk])
    own = (
        Assignment.objects.select_for_update()
        .filter(study=study, rater=rater, status=AssignmentStatus.OPEN)
        .first()
    )
    if own is not None:
        if own.expires_at > now:
            return own
        # Expired: renew it when the comparison still has room (the rater may still have the
        # page open), otherwise close it so the rater moves on.
        comparison_lock(comparison_id=own.comparison_id)
        room = comparison_room(
            comparison_id=own.comparison_id, rater_id=rater.pk, overlap=study.overlap, now=now
        )
        if room["has_room"]:
            own.expires_at = now + timedelta(minutes=study.lease_minutes)
            own.save(update_fields=["expires_at"])
            return own
        own.status = AssignmentStatus.SKIPPED
        own.skip_reason = EXPIRED_REASON
        own.finished_at = now
        own.save(update_fields=["status", "skip_reason", "finished_at"])
    return _pick_and_lease(study=study, rater=rater, now=now)


# The common case of assignment_next in one round trip and one transaction: lock the rater (one
# request per rater at a time), pick a comparison with SKIP LOCKED unless the rater holds an open
# lease, recount it in a statement of its own now that its row lock is held, lease it if it
# still has room, and return the rater's open lease with the texts the page shows. The pick
# travels from the locking statement to the recount in a transaction-local setting.
_NEXT_SCRIPT = [
    "SELECT set_config('synchronous_commit', 'off', true)",
    "SELECT 1 FROM annotations_user WHERE id = %(rater)s FOR NO KEY UPDATE",
    """
SELECT set_config('prefeval.pick', coalesce((
    SELECT c.id
      FROM annotations_comparison c
     WHERE c.study_id = %(study)s
       AND c.judgment_count < %(overlap)s
       AND NOT EXISTS (SELECT 1 FROM annotations_assignment o
                        WHERE o.study_id = %(study)s AND o.rater_id = %(rater)s
                          AND o.status = 'open')
       AND NOT EXISTS (SELECT 1 FROM annotations_assignment m
                        WHERE m.comparison_id = c.id AND m.rater_id = %(rater)s)
       AND NOT EXISTS (SELECT 1 FROM annotations_judgment j
                        WHERE j.comparison_id = c.id AND j.rater_id = %(rater)s)
       AND c.judgment_count + (SELECT count(*) FROM annotations_assignment l
                                WHERE l.comparison_id = c.id AND l.status = 'open'
                                  AND l.expires_at > %(now)s) < %(overlap)s
     ORDER BY c.study_id, c.judgment_count, c.id
     LIMIT 1
       FOR UPDATE OF c SKIP LOCKED)::text, ''), true)""",
    """
INSERT INTO annotations_assignment
       (study_id, comparison_id, rater_id, left_is_a, status, skip_reason, created_at,
        expires_at, finished_at)
SELECT %(study)s::bigint, c.id, %(rater)s::bigint,
       CASE WHEN seen.left_a = seen.left_b THEN random() < 0.5 ELSE seen.left_a < seen.left_b END,
       'open', '', %(now)s::timestamptz, %(expires)s::timestamptz, NULL
  FROM annotations_comparison c,
       LATERAL (SELECT count(*) AS n FROM annotations_assignment l
                 WHERE l.comparison_id = c.id AND l.status = 'open'
                   AND l.expires_at > %(now)s AND l.rater_id <> %(rater)s) live,
       LATERAL (SELECT count(*) FILTER (WHERE s.left_is_a) AS left_a,
                       count(*) FILTER (WHERE NOT s.left_is_a) AS left_b
                  FROM (SELECT j.left_is_a FROM annotations_judgment j
                         WHERE j.comparison_id = c.id
                        UNION ALL
                        SELECT a.left_is_a FROM annotations_assignment a
                         WHERE a.comparison_id = c.id AND a.status = 'open'
                           AND a.expires_at > %(now)s AND a.rater_id <> %(rater)s) s) seen
 WHERE c.id = nullif(current_setting('prefeval.pick'), '')::bigint
   AND c.judgment_count + live.n < %(overlap)s""",
    """
SELECT current_setting('prefeval.pick'), lease.*
  FROM (SELECT 1) one
  LEFT JOIN LATERAL (
       SELECT a.id, a.comparison_id, a.left_is_a, a.status, a.created_at, a.expires_at,
              c.prompt_id, c.output_a_id, c.output_b_id,
              (SELECT p.text FROM annotations_prompt p WHERE p.id = c.prompt_id),
              (SELECT p.messages FROM annotations_prompt p WHERE p.id = c.prompt_id),
              (SELECT o.text FROM annotations_output o WHERE o.id = c.output_a_id),
              (SELECT o.text FROM annotations_output o WHERE o.id = c.output_b_id)
         FROM annotations_assignment a
         JOIN annotations_comparison c ON c.id = a.comparison_id
        WHERE a.study_id = %(study)s AND a.rater_id = %(rater)s AND a.status = 'open') lease
    ON true""",
]


def _lease_from_row(*, row: tuple, study: Study, rater: User) -> Assignment:
    """The open lease with its comparison, prompt and outputs, as loaded by _NEXT_SCRIPT."""
    (pk, comparison_id, left_is_a, status, created_at, expires_at, prompt_id, a_id, b_id) = row[:9]
    prompt_text, messages, a_text, b_text = row[9:13]
    if isinstance(messages, str):
        messages = json.loads(messages)
    comparison = Comparison(
        id=comparison_id,
        study=study,
        prompt=Prompt(id=prompt_id, study=study, text=prompt_text, messages=messages),
        output_a=Output(id=a_id, study=study, prompt_id=prompt_id, text=a_text),
        output_b=Output(id=b_id, study=study, prompt_id=prompt_id, text=b_text),
    )
    assignment = Assignment(
        id=pk,
        study=study,
        comparison=comparison,
        rater=rater,
        left_is_a=left_is_a,
        status=status,
        created_at=created_at,
        expires_at=expires_at,
    )
    for instance in (
        assignment,
        comparison,
        comparison.prompt,
        comparison.output_a,
        comparison.output_b,
    ):
        instance._state.adding = False
        instance._state.db = connection.alias
    return assignment


def _next_fast(*, study: Study, rater: User, now: datetime) -> tuple[bool, Assignment | None]:
    """(settled, lease): settled is False when the slow path must decide (see assignment_next)."""
    rows = sql_script_run(
        statements=_NEXT_SCRIPT,
        params={
            "study": study.pk,
            "rater": rater.pk,
            "overlap": study.overlap,
            "now": now,
            "expires": now + timedelta(minutes=study.lease_minutes),
        },
    )
    picked, row = rows[0][0], rows[0][1:]
    if row[0] is None:
        # No lease: nothing is left for this rater when nothing was picked; otherwise the
        # picked comparison filled up between the pick's snapshot and its lock, and the slow
        # path tries others.
        return picked == "", None
    if row[5] <= now:
        # The rater's own lease expired: renew or close it (slow path).
        return False, None
    return True, _lease_from_row(row=row, study=study, rater=rater)


def assignment_next(*, study: Study, rater: User) -> Assignment | None:
    """The rater's open lease in `study`, or a new one; None when nothing is left for them.

    A reload or a second tab gets the same open lease back. A new lease goes to a comparison
    with judgments plus live leases below the study's overlap, that this rater has neither
    judged, skipped nor leased, fewest judgments first, with the order counterbalanced.

    The lease comes back with its comparison, prompt and both outputs loaded.
    """
    _require_rater(study=study, rater=rater)
    for _ in range(3):
        now = timezone.now()
        try:
            settled, lease = _next_fast(study=study, rater=rater, now=now)
            if settled:
                return lease
            # Rare cases (an expired own lease, a pick that filled up under the lock): the
            # step-by-step transaction below.
            with transaction.atomic():
                lease = _next_in_transaction(study=study, rater=rater, now=now)
            if lease is None:
                return None
            return (
                Assignment.objects.select_related(
                    "comparison__prompt", "comparison__output_a", "comparison__output_b"
                )
                .filter(pk=lease.pk)
                .first()
            )
        except IntegrityError:
            # A concurrent request of the same rater (second tab) leased first; its lease is
            # found as the open one on the next round.
            continue
    raise ValidationError("could not lease a comparison; please try again", code="busy")


def assignment_skip(*, assignment: Assignment, rater: User, reason: str = "") -> Assignment:
    """Close the rater's lease without a judgment; the comparison is not served to them again.

    Skipping twice is harmless; skipping a judged comparison is refused.
    """
    reason = (reason or "").strip()
    if len(reason) > MAX_SKIP_REASON:
        raise ValidationError(
            {"reason": f"at most {MAX_SKIP_REASON} characters (got {len(reason)})"}
        )
    with transaction.atomic():
        locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
        if locked.rater_id != rater.pk:
            raise NotYourAssignment("this assignment belongs to another rater")
        if locked.status == AssignmentStatus.DONE:
            raise ValidationError("this comparison is already judged", code="judged")
        if locked.status == AssignmentStatus.OPEN:
            locked.status = AssignmentStatus.SKIPPED
            locked.skip_reason = reason
            locked.finished_at = timezone.now()
            locked.save(update_fields=["status", "skip_reason", "finished_at"])
    return locked
