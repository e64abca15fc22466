"""Leasing comparisons to raters: the one pick rule, exactly k raters per pair, counterbalancing.

Every path that decides whether a comparison may take one more rater builds its SQL from one
PickRule: the one-round-trip next path, the step-by-step path, the renewal of an expired lease
and both submit paths (services/judging.py). Lock order, taken by every path: the rater's user
row (next only), then the rater's assignment row, then the comparison row.

Guarantees:
- exactly k: a comparison takes a new lease or judgment only while its counted judgments plus
  other raters' live leases are below the study's overlap, counted in a statement that starts
  after the comparison's row lock is held (under READ COMMITTED it sees every lease and
  judgment committed before the lock was granted);
- a rater meets a comparison at most once and holds at most one open lease per study (both
  also database constraints);
- counterbalancing: a new lease shows output_a on the left when fewer of the comparison's
  counted judgments and live leases did so, at random on a tie;
- the quota: a rater's judgments in the study plus their open lease stay within the study's
  quota. The pick only leases while the rater holds no open lease and their judgments are below
  the quota, counted in the pick's own statement, which starts after the rater's row lock is
  held (every new lease of the rater is made under it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, cached_property
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotations.db.prepared import instances_mark_loaded, sql_rows, sql_script_run
from annotations.models import (
    Assignment,
    AssignmentStatus,
    Comparison,
    Output,
    Prompt,
    Study,
    User,
)
from annotations.selectors.judging import RATER_JUDGED_SQL
from annotations.services.access import completion_record

# Reason recorded when a rater's expired lease could not be renewed because other raters filled
# the comparison meanwhile; such a comparison is not offered to that rater again.
EXPIRED_REASON = "lease expired"
# Candidates tried per request when a concurrent lease filled the first one found.
MAX_CANDIDATES = 25
MAX_SKIP_REASON = 1000


class NotYourAssignment(PermissionDenied):
    """The assignment belongs to another rater."""


class StudyClosed(ValidationError):
    """The study is closed to raters: it hands out no lease and takes no judgment."""

    def __init__(self, study: Study) -> None:
        super().__init__(f"study {study.slug!r} is closed to raters", code="closed")


@dataclass(frozen=True)
class PickRule:
    """The pick rule as SQL: which comparison a rater gets next and whether one has room.

    ``counts`` is an SQL condition on a judgment ``j``: the judgments that count toward the
    study's overlap k and toward the left/right balance. None counts every judgment through the
    denormalised Comparison.judgment_count, which also bounds the walk of the (study,
    judgment_count, id) index; a condition is counted per comparison instead (quality control:
    ``"NOT j.excluded AND NOT j.gold"``). ``order`` is the ORDER BY list over the comparison
    ``c`` among the eligible ones (adaptive assignment: ``"c.priority DESC, c.id"``); the
    default, fewest judgments (all of them) first and then id, follows that index.

    Both are SQL written in code, never user input. Every statement shares these parameters:
    study, rater, overlap, now, and also tried (comparison ids to pass over), expires (the
    new lease's expiry) and quota (the study's, or None) for the pick, comparison for the room
    check.
    """

    counts: str | None = None
    order: str = "c.study_id, c.judgment_count, c.id"
    # Whether the rater may be leased anything in the study (their standing, quality control).
    rater_ok: str = ""
    # Whether comparison ``c`` may be served at all (collection: its candidate has not stopped).
    eligible: str = ""

    @cached_property
    def counted_sql(self) -> str:
        """The number of counted judgments of comparison ``c``."""
        if self.counts is None:
            return "c.judgment_count"
        return (
            "(SELECT count(*) FROM annotations_judgment j"  # noqa: S608 - built from fixed fragments; values are bound
            f" WHERE j.comparison_id = c.id AND ({self.counts}))"
        )

    def _room_sql(self, live: str) -> str:
        return (
            f"{self.counted_sql} + (SELECT count(*) FROM annotations_assignment l"  # noqa: S608 - built from fixed fragments; values are bound
            f" WHERE {live}) < %(overlap)s"
        )

    @cached_property
    def has_room_sql(self) -> str:
        """True when comparison ``c`` can take the rater: counted judgments plus other raters'
        live leases below the overlap (the rater's own lease is the one being decided)."""
        return self._room_sql(_LIVE_OTHERS)

    @cached_property
    def pick_sql(self) -> str:
        """Lock the first eligible comparison and hand its id (text, '' for none) to the lease
        statement through a transaction-local setting; returns that text.

        SKIP LOCKED lets concurrent raters pass each other instead of queueing on one row. The
        room test here saw a snapshot taken before the lock, so lease_sql tests it again. The
        rater has no lease on a candidate (NOT EXISTS m), so every live lease is another
        rater's: counted without the rater test, from the lease index alone.

        The quota test is an uncorrelated subquery, run once, and only for a study with a quota
        (PostgreSQL stops at the first true branch of the OR): no cost for the others.

        Why a setting carries the pick: the recount needs a snapshot taken after the lock,
        which only a new statement gets (a data-modifying CTE shares the pick's snapshot), and
        an SQL function would need dynamic SQL for the rule's fragments, planned on every call
        instead of prepared once.
        """
        bound = "AND c.judgment_count < %(overlap)s" if self.counts is None else ""
        return f"""
SELECT set_config('prefeval.pick', coalesce((
    SELECT c.id
      FROM annotations_comparison c
     WHERE c.study_id = %(study)s
       {bound}
       AND NOT (c.id = ANY(%(tried)s::bigint[]))
       AND NOT EXISTS (SELECT 1 FROM annotations_assignment o
                        WHERE o.study_id = %(study)s AND o.rater_id = %(rater)s
                          AND o.status = 'open')
       AND (%(quota)s::integer IS NULL OR {RATER_JUDGED_SQL} < %(quota)s::integer)
       AND {self.rater_ok or RATER_IN_GOOD_STANDING}
       {f"AND {self.eligible}" if self.eligible else ""}
       AND NOT EXISTS (SELECT 1 FROM annotations_assignment m
                        WHERE m.comparison_id = c.id AND m.rater_id = %(rater)s)
       AND NOT EXISTS (SELECT 1 FROM annotations_judgment jr
                        WHERE jr.comparison_id = c.id AND jr.rater_id = %(rater)s)
       AND {self._room_sql(_LIVE)}
     ORDER BY {self.order}
     LIMIT 1
       FOR UPDATE OF c SKIP LOCKED)::text, ''), true)"""  # noqa: S608 - built from fixed fragments; values are bound

    @cached_property
    def lease_sql(self) -> str:
        """Lease the comparison pick_sql locked when it still has room, counterbalanced;
        returns the new lease's id, or no row (nothing picked, or filled meanwhile).

        A statement of its own after the lock: it sees every lease and judgment committed
        before the lock was granted, so its room test is exact.
        """
        judged = "" if self.counts is None else f" AND ({self.counts})"
        return f"""
INSERT INTO annotations_assignment
       (study_id, comparison_id, rater_id, left_is_a, status, skip_reason, created_at,
        expires_at, finished_at)
SELECT %(study)s::bigint, c.id, %(rater)s::bigint,
       CASE WHEN seen.left_a = seen.left_b THEN random() < 0.5 ELSE seen.left_a < seen.left_b END,
       'open', '', %(now)s::timestamptz, %(expires)s::timestamptz, NULL
  FROM annotations_comparison c,
       LATERAL (SELECT count(*) FILTER (WHERE s.left_is_a) AS left_a,
                       count(*) FILTER (WHERE NOT s.left_is_a) AS left_b
                  FROM (SELECT j.left_is_a FROM annotations_judgment j
                         WHERE j.comparison_id = c.id{judged}
                        UNION ALL
                        SELECT l.left_is_a FROM annotations_assignment l
                         WHERE {_LIVE_OTHERS}) s) seen
 WHERE c.id = nullif(current_setting('prefeval.pick', true), '')::bigint
   AND {self.has_room_sql}
RETURNING id"""  # noqa: S608 - built from fixed fragments; values are bound

    @cached_property
    def room_sql(self) -> str:
        """Whether comparison %(comparison)s has room for the rater (one boolean row).

        The caller holds the comparison's row lock and runs this as a statement of its own.
        """
        return (
            f"SELECT {self.has_room_sql} FROM annotations_comparison c WHERE c.id = %(comparison)s"  # noqa: S608 - built from fixed fragments; values are bound
        )


# A lease of comparison c that is open and has not expired; and one of another rater.
_LIVE = "l.comparison_id = c.id AND l.status = 'open' AND l.expires_at > %(now)s"
_LIVE_OTHERS = f"{_LIVE} AND l.rater_id <> %(rater)s"

# A rater who is paused, excluded or screened out is leased nothing (services/quality.py);
# a rater with no standing row is in good standing. One probe of standing_unique.
RATER_IN_GOOD_STANDING = (
    "NOT EXISTS (SELECT 1 FROM annotations_raterstanding st"
    " WHERE st.study_id = %(study)s AND st.rater_id = %(rater)s"
    " AND (st.paused OR st.excluded OR st.qualification = 'failed'))"
)
# In a study that screens raters, regular pairs go only to raters who passed.
RATER_QUALIFIED = (
    "EXISTS (SELECT 1 FROM annotations_raterstanding st"
    " WHERE st.study_id = %(study)s AND st.rater_id = %(rater)s"
    " AND st.qualification = 'passed' AND NOT st.paused AND NOT st.excluded)"
)

# With control items, a rater holding an open one gets no regular lease beside it (a second
# tab's request that raced the one that served it).
_NO_OPEN_CHECK = (
    "NOT EXISTS (SELECT 1 FROM annotations_controlcheck ck"
    " WHERE ck.study_id = %(study)s AND ck.rater_id = %(rater)s AND ck.status = 'open')"
)

# Today's rule: judgments of raters in good standing count (Comparison.judgment_count),
# fewest first.
PICK_RULE = PickRule()
# Who may be leased a regular pair in a study with control items, and in one that screens.
_CONTROLLED_OK = f"{RATER_IN_GOOD_STANDING} AND {_NO_OPEN_CHECK}"
_SCREENED_OK = f"{RATER_QUALIFIED} AND {_NO_OPEN_CHECK}"


def study_controls_active(*, study: Study) -> bool:
    """Whether `study` serves control items or screens raters (services/quality.py)."""
    return bool(study.gold_rate) or study.repeat_rate > 0 or study.qualification > 0


# Collection with a target (services/collection.py): a pair served no more has no priority.
# Both samplings complete started pairs before they begin new ones (an observation is a
# completed comparison). Uniform begins them in the random order of Comparison.shuffle (the
# comparison_need_shuffled index read backwards); adaptive by priority, a weighted random key
# favouring the candidates furthest from their stopping rule.
_SERVABLE = "c.priority IS NOT NULL"
_UNIFORM_ORDER = "c.study_id DESC, c.judgment_count DESC, c.shuffle DESC"
_ADAPTIVE_ORDER = "c.study_id, c.judgment_count DESC, c.priority DESC"


@cache
def _rule(*, rater_ok: str, target: bool, adaptive: bool) -> PickRule:
    if not target:
        return PickRule(rater_ok=rater_ok)
    order = _ADAPTIVE_ORDER if adaptive else _UNIFORM_ORDER
    return PickRule(rater_ok=rater_ok, order=order, eligible=_SERVABLE)


def study_pick_rule(*, study: Study) -> PickRule:
    """The pick rule of `study`; the next and submit paths both take it from here."""
    if study.qualification > 0:
        rater_ok = _SCREENED_OK
    elif study_controls_active(study=study):
        rater_ok = _CONTROLLED_OK
    else:
        rater_ok = ""
    return _rule(
        rater_ok=rater_ok,
        target=study.target_half_width is not None,
        adaptive=study.sampling == "adaptive",
    )


_COMPARISON_LOCK = "SELECT 1 FROM annotations_comparison WHERE id = %(comparison)s FOR UPDATE"


def _require_rater(*, study: Study, rater: User) -> None:
    if not rater.is_rater:
        raise PermissionDenied("only raters take assignments")
    if not study.is_open:
        raise StudyClosed(study)


def comparison_has_room(
    *, rule: PickRule, comparison_id: int, rater_id: int, overlap: int, now: datetime
) -> bool:
    """Whether the comparison can take this rater's lease or judgment under `rule`.

    Takes the comparison's row lock first (held to the end of the caller's transaction; every
    change to its judgments or leases holds it), then counts in a statement of its own, which
    under READ COMMITTED sees everything committed before the lock was granted.
    """
    params = {"comparison": comparison_id, "rater": rater_id, "overlap": overlap, "now": now}
    sql_rows(sql=_COMPARISON_LOCK, params=params)
    return bool(sql_rows(sql=rule.room_sql, params=params)[0][0])


def _pick_params(*, study: Study, rater: User, now: datetime) -> dict[str, Any]:
    return {
        "study": study.pk,
        "rater": rater.pk,
        "overlap": study.overlap,
        "now": now,
        "expires": now + timedelta(minutes=study.lease_minutes),
        "tried": [],
        "quota": study.quota,
    }


def comparison_lease(*, rule: PickRule, study: Study, rater: User, now: datetime) -> int | None:
    """Lease the rater the first comparison `rule` picks; the new lease's id, None if none.

    Runs inside the caller's transaction, which holds the rater's user row lock and in which
    the rater has no open lease in `study`. A pick that filled up between its snapshot and its
    lock is passed over for the next one, up to MAX_CANDIDATES.
    """
    params = _pick_params(study=study, rater=rater, now=now)
    for _ in range(MAX_CANDIDATES):
        picked = sql_rows(sql=rule.pick_sql, params=params)[0][0]
        if picked == "":
            return None
        leased = sql_rows(sql=rule.lease_sql, params=params)
        if leased:
            return leased[0][0]
        params["tried"] = [*params["tried"], int(picked)]
    return None


_SYNC_OFF = "SELECT set_config('synchronous_commit', 'off', true)"
# One request per rater at a time (second tabs, retries): the next one then sees the lease this
# one made instead of racing it. NO KEY UPDATE leaves foreign-key checks unblocked.
RATER_LOCK_SQL = "SELECT 1 FROM annotations_user WHERE id = %(rater)s FOR NO KEY UPDATE"
# The rater's open lease with the texts the page shows, after the pick's setting.
_LEASE_LOAD = """
SELECT current_setting('prefeval.pick', true), lease.*
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
    ON true"""


@cache
def _next_script(rule: PickRule) -> list[str]:
    """The common case of assignment_next in one round trip and one transaction.

    A lease lost in a server crash costs nothing (the rater asks again), so its commit need not
    wait for the disk; judgments keep the durable default. Lock the rater, pick and lock a
    comparison unless the rater holds an open lease, lease it if the recount finds room, and
    return the rater's open lease.
    """
    return [_SYNC_OFF, RATER_LOCK_SQL, rule.pick_sql, rule.lease_sql, _LEASE_LOAD]


def _next_in_transaction(*, rule: PickRule, study: Study, rater: User, now: datetime) -> int | None:
    """The rare cases step by step: renew or close an expired own lease, then lease anew."""
    params = {"rater": rater.pk}
    sql_rows(sql=_SYNC_OFF, params=params)
    sql_rows(sql=RATER_LOCK_SQL, params=params)
    own = (
        Assignment.objects.select_for_update()
        .filter(study=study, rater=rater, status=AssignmentStatus.OPEN)
        .first()
    )
    if own is not None:
        if own.expires_at > now:
            return own.pk
        # Expired: renew it when the comparison still has room (the rater may still have the
        # page open), otherwise close it so the rater moves on.
        if comparison_has_room(
            rule=rule,
            comparison_id=own.comparison_id,
            rater_id=rater.pk,
            overlap=study.overlap,
            now=now,
        ):
            own.expires_at = now + timedelta(minutes=study.lease_minutes)
            own.save(update_fields=["expires_at"])
            return own.pk
        own.status = AssignmentStatus.SKIPPED
        own.skip_reason = EXPIRED_REASON
        own.finished_at = now
        own.save(update_fields=["status", "skip_reason", "finished_at"])
    return comparison_lease(rule=rule, study=study, rater=rater, now=now)


def _lease_from_row(*, row: tuple, study: Study, rater: User) -> Assignment:
    """The open lease with its comparison, prompt and outputs, as loaded by _LEASE_LOAD."""
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
    instances_mark_loaded(
        assignment, comparison, comparison.prompt, comparison.output_a, comparison.output_b
    )
    return assignment


def _next_fast(
    *, rule: PickRule, study: Study, rater: User, now: datetime
) -> tuple[bool, Assignment | None]:
    """(settled, lease): settled is False when the slow path must decide (see assignment_next)."""
    rows = sql_script_run(
        statements=_next_script(rule), params=_pick_params(study=study, rater=rater, now=now)
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
    the study's pick rule finds: counted judgments plus live leases below the study's overlap,
    never met by this rater (judged, skipped or leased), fewest judgments first, with the order
    counterbalanced, and none once the rater's judgments reach the study's quota. Refused with
    StudyClosed when the study is closed. When nothing is left for a rater who has completed
    the study, their completion is recorded (services/access.py).

    The lease comes back with its comparison, prompt and both outputs loaded.
    """
    _require_rater(study=study, rater=rater)
    # Imported here: quality control builds on the judging service, which builds on this one.
    from annotations.services.quality import control_check_lease, control_next

    if study.target_half_width is not None:
        # Bounded: a real refresh at most every few seconds per study (services/collection.py).
        from annotations.services.collection import collection_refresh

        collection_refresh(study=study)
    if study_controls_active(study=study):
        decision = control_next(study=study, rater=rater)
        if decision.check is not None:
            return control_check_lease(check=decision.check)
        if decision.stopped:
            return None
    rule = study_pick_rule(study=study)
    for _ in range(3):
        now = timezone.now()
        try:
            settled, lease = _next_fast(rule=rule, study=study, rater=rater, now=now)
            if settled:
                if lease is None:
                    completion_record(study=study, rater=rater)
                return lease
            # Rare cases (an expired own lease, a pick that filled up under the lock): the
            # step-by-step transaction below.
            with transaction.atomic():
                lease_id = _next_in_transaction(rule=rule, study=study, rater=rater, now=now)
            if lease_id is None:
                completion_record(study=study, rater=rater)
                return None
            return (
                Assignment.objects.select_related(
                    "comparison__prompt", "comparison__output_a", "comparison__output_b"
                )
                .filter(pk=lease_id)
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
