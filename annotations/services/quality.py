"""Rater quality control: control items (gold pairs, swapped repeats), screening, pause and
exclusion, with every action recorded.

Control items are served through the same endpoints, JSON and page as regular pairs (their
ids come from the assignments' sequence) but are stored as ControlCheck rows, never as
judgments: results, exports, training pairs and the overlap k cannot count them.

What a rater is served next, in a study with control items (control_next):
1. their open control item, if any (a reload gets it back);
2. nothing new while they hold an open regular lease (the regular path returns it);
3. screening: until they pass, gold items of the current qualification attempt; once the
   attempt has `qualification` answers (or the gold runs out) it is graded: a share of at
   least `qualification_pass` right passes; otherwise a second attempt when the study allows
   a retry, else the rater is screened out;
4. a pause when their gold accuracy is below `gold_min_accuracy` after `gold_min_n` answers;
5. a draw: a gold item with probability `gold_rate` (one the rater has not met), a swapped
   repeat of one of their judgments made at least REPEAT_GAP judgments earlier with
   probability `repeat_rate`, else a regular pair.
Grading and pausing happen when the rater next asks for an item, not at the answer itself,
so that the page's one-step undo can still correct a slip of the finger.

Exclusion keeps the overlap k honest through Comparison.judgment_count, which counts the
judgments of raters in good standing: excluding a rater closes their open leases and takes
their judgments out of the count (so the pairs are served again to others); including them
again puts them back (a pair may then hold more than k counted judgments). Lock order: the
rater's user row (as the next path), their standing, their leases, the comparisons.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from annotations.db.prepared import instances_mark_loaded, sql_rows
from annotations.models import (
    Assignment,
    AssignmentStatus,
    Comparison,
    ControlCheck,
    ControlKind,
    GoldItem,
    Judgment,
    Output,
    Prompt,
    Qualification,
    RaterAction,
    RaterEvent,
    RaterStanding,
    Study,
    User,
)
from annotations.selectors.judging import RATER_JUDGED_SQL
from annotations.services.assignment import RATER_LOCK_SQL, NotYourAssignment, StudyClosed
from annotations.services.judging import (
    RevisionRefused,
    Verdict,
    duration_from_report,
    revision_duration,
    verdict_validate,
)

# A repeat re-serves a judgment made at least this many of the rater's judgments ago.
REPEAT_GAP = 10
# Skip reasons of leases closed by an action on the rater.
EXCLUDED_REASON = "rater excluded"
PAUSED_REASON = "rater paused"
MAX_REASON = 1000

_NEXT_ID = "SELECT nextval(pg_get_serial_sequence('annotations_assignment', 'id'))"

# Everything control_next decides on, in one statement: the open control item, whether a
# regular lease is open, the standing, the current qualification attempt's answers, gold
# answers overall and the items answered (the quota's own count).
_STATE_SQL = f"""
SELECT
  (SELECT k.id FROM annotations_controlcheck k
    WHERE k.study_id = %(study)s AND k.rater_id = %(rater)s AND k.status = 'open'),
  EXISTS (SELECT 1 FROM annotations_assignment a
           WHERE a.study_id = %(study)s AND a.rater_id = %(rater)s AND a.status = 'open'),
  coalesce(st.qualification, ''), coalesce(st.qualification_attempt, 1),
  coalesce(st.paused, false), coalesce(st.excluded, false),
  done.attempt_answered, done.attempt_correct, done.gold_answered, done.gold_correct,
  {RATER_JUDGED_SQL}
  FROM (SELECT 1) one
  LEFT JOIN annotations_raterstanding st
    ON st.study_id = %(study)s AND st.rater_id = %(rater)s
  CROSS JOIN LATERAL (
       SELECT count(*) FILTER (WHERE k.qualification = coalesce(st.qualification_attempt, 1))
                AS attempt_answered,
              count(*) FILTER (WHERE k.qualification = coalesce(st.qualification_attempt, 1)
                                 AND k.correct) AS attempt_correct,
              count(*) FILTER (WHERE k.kind = 'gold') AS gold_answered,
              count(*) FILTER (WHERE k.kind = 'gold' AND k.correct) AS gold_correct
         FROM annotations_controlcheck k
        WHERE k.study_id = %(study)s AND k.rater_id = %(rater)s AND k.status = 'done') done"""  # noqa: S608 - built from fixed fragments; values are bound

_GOLD_PICK_SQL = """
SELECT g.id FROM annotations_golditem g
 WHERE g.study_id = %(study)s
   AND NOT EXISTS (SELECT 1 FROM annotations_controlcheck k
                    WHERE k.gold_id = g.id AND k.rater_id = %(rater)s)
 ORDER BY random() LIMIT 1"""

# One of the rater's judgments made in the app at least REPEAT_GAP judgments ago, not yet
# repeated: row_number counts from the latest judgment (1).
_REPEAT_PICK_SQL = f"""
SELECT r.id, r.left_is_a FROM (
    SELECT j.id, j.left_is_a, j.assignment_id,
           row_number() OVER (ORDER BY j.created_at DESC, j.id DESC) AS back
      FROM annotations_judgment j
      JOIN annotations_comparison c ON c.id = j.comparison_id
     WHERE j.rater_id = %(rater)s AND c.study_id = %(study)s) r
 WHERE r.back > {REPEAT_GAP} AND r.assignment_id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM annotations_controlcheck k WHERE k.repeat_of_id = r.id)
 ORDER BY random() LIMIT 1"""  # noqa: S608 - built from fixed fragments; values are bound


@dataclass(frozen=True)
class _State:
    open_check: int | None
    open_lease: bool
    qualification: str
    attempt: int
    paused: bool
    excluded: bool
    attempt_answered: int
    attempt_correct: int
    gold_answered: int
    gold_correct: int
    # Items answered, judgments and control items alike: what the quota caps.
    answered: int


def _state_read(*, study: Study, rater: User) -> _State:
    row = sql_rows(sql=_STATE_SQL, params={"study": study.pk, "rater": rater.pk})[0]
    return _State(*row)


# Who did an action, when no user did: the app itself (grading, the gold pause), or an
# operator at the command line.
AUTOMATIC = "automatic"
COMMAND_LINE = "command line"


def _event(
    *, study: Study, rater: User, action: str, reason: str, by: User | None, via: str = ""
) -> None:
    actor = by.username if by is not None else (via or AUTOMATIC)
    RaterEvent.objects.create(
        study=study, rater=rater, action=action, reason=reason, by=by, actor=actor
    )


def _standing_locked(*, study: Study, rater: User) -> RaterStanding:
    standing, _ = RaterStanding.objects.get_or_create(study=study, rater=rater)
    return RaterStanding.objects.select_for_update().get(pk=standing.pk)


class ControlDecision:
    """What control_next decided: serve `check`, stop the rater (`stopped`), or neither
    (serve a regular pair)."""

    def __init__(self, *, check: ControlCheck | None = None, stopped: bool = False) -> None:
        self.check = check
        self.stopped = stopped


def _grade_attempt(*, study: Study, rater: User, state: _State, gold_left: bool) -> str | None:
    """Grade the current qualification attempt when it is over; the new qualification state
    ('passed', 'failed', 'retry') or None while it goes on."""
    needed = study.qualification
    over = state.attempt_answered >= needed or not gold_left
    if not over:
        return None
    if state.attempt_answered == 0:
        # No gold to screen with (a second attempt only starts with gold left): screening
        # cannot hold the rater back.
        outcome, reason = "passed", "no gold items to screen with"
    else:
        share = state.attempt_correct / state.attempt_answered
        passed = share >= study.qualification_pass
        reason = (
            f"{state.attempt_correct} of {state.attempt_answered} qualification items right "
            f"({share:.0%}; {study.qualification_pass:.0%} needed)"
        )
        if passed:
            outcome = "passed"
        elif study.qualification_retry and state.attempt == 1 and gold_left:
            outcome = "retry"
        else:
            outcome = "failed"
    standing = _standing_locked(study=study, rater=rater)
    if outcome == "retry":
        standing.qualification_attempt = 2
        action = RaterAction.RETRY
    else:
        passed = outcome == "passed"
        standing.qualification = Qualification.PASSED if passed else Qualification.FAILED
        action = RaterAction.QUALIFY if passed else RaterAction.SCREEN_OUT
    standing.updated_at = timezone.now()
    standing.save()
    _event(study=study, rater=rater, action=action, reason=reason, by=None)
    return outcome


def _pause_due(*, study: Study, state: _State) -> str | None:
    if study.gold_min_accuracy <= 0 or state.gold_answered < max(1, study.gold_min_n):
        return None
    accuracy = state.gold_answered and state.gold_correct / state.gold_answered
    if accuracy >= study.gold_min_accuracy:
        return None
    return (
        f"gold accuracy {accuracy:.0%} ({state.gold_correct} of {state.gold_answered}) below "
        f"{study.gold_min_accuracy:.0%}"
    )


def _check_create(
    *,
    study: Study,
    rater: User,
    now: datetime,
    gold_id: int | None = None,
    repeat: tuple[int, bool] | None = None,
    qualification: int | None = None,
) -> ControlCheck:
    check = ControlCheck(
        id=sql_rows(sql=_NEXT_ID, params=[])[0][0],
        study=study,
        rater=rater,
        kind=ControlKind.GOLD if gold_id is not None else ControlKind.REPEAT,
        gold_id=gold_id,
        repeat_of_id=repeat[0] if repeat else None,
        qualification=qualification,
        # Gold: a coin flip (the better output is "a"). Repeat: the other side than before.
        left_is_a=(random.random() < 0.5) if repeat is None else not repeat[1],
        created_at=now,
        expires_at=now + timedelta(minutes=study.lease_minutes),
    )
    check.save(force_insert=True)
    return check


def _gold_pick(*, study: Study, rater: User) -> int | None:
    rows = sql_rows(sql=_GOLD_PICK_SQL, params={"study": study.pk, "rater": rater.pk})
    return rows[0][0] if rows else None


def control_next(*, study: Study, rater: User) -> ControlDecision:
    """Decide whether the rater's next item is a control item (see the module docstring).

    Runs in its own transaction under the rater's user row lock, the lock the regular next
    path takes, so two requests of one rater cannot both lease.
    """
    now = timezone.now()
    with transaction.atomic():
        sql_rows(sql=RATER_LOCK_SQL, params={"rater": rater.pk})
        state = _state_read(study=study, rater=rater)
        if state.open_check is not None:
            check = ControlCheck.objects.get(pk=state.open_check)
            if check.expires_at <= now:
                # Control items never fill up: an expired one is simply renewed.
                check.expires_at = now + timedelta(minutes=study.lease_minutes)
                check.save(update_fields=["expires_at"])
            return ControlDecision(check=check)
        if state.excluded or state.paused or state.qualification == Qualification.FAILED:
            return ControlDecision(stopped=True)
        if state.open_lease:
            return ControlDecision()
        if study.quota is not None and state.answered >= study.quota:
            return ControlDecision()
        if study.qualification > 0 and state.qualification != Qualification.PASSED:
            gold_id = _gold_pick(study=study, rater=rater)
            outcome = _grade_attempt(
                study=study, rater=rater, state=state, gold_left=gold_id is not None
            )
            if outcome == "failed":
                return ControlDecision(stopped=True)
            if outcome != "passed":
                # The attempt goes on, or the second one starts; either way gold is left.
                assert gold_id is not None
                attempt = 2 if outcome == "retry" else state.attempt
                return ControlDecision(
                    check=_check_create(
                        study=study, rater=rater, now=now, gold_id=gold_id, qualification=attempt
                    )
                )
        reason = _pause_due(study=study, state=state)
        if reason is not None:
            _pause(study=study, rater=rater, reason=reason, by=None, now=now)
            return ControlDecision(stopped=True)
        draw = random.random()
        gold_rate = study.gold_rate or 0.0
        if draw < gold_rate:
            gold_id = _gold_pick(study=study, rater=rater)
            if gold_id is not None:
                return ControlDecision(
                    check=_check_create(study=study, rater=rater, now=now, gold_id=gold_id)
                )
        elif draw < gold_rate + study.repeat_rate:
            rows = sql_rows(sql=_REPEAT_PICK_SQL, params={"study": study.pk, "rater": rater.pk})
            if rows:
                return ControlDecision(
                    check=_check_create(
                        study=study, rater=rater, now=now, repeat=(rows[0][0], rows[0][1])
                    )
                )
    return ControlDecision()


def control_check_lease(*, check: ControlCheck) -> Assignment:
    """The control item dressed as a lease (unsaved), with the texts the page shows, so that
    the rater's view of it is built by the very code that shows regular pairs."""
    study = check.study
    if check.kind == ControlKind.GOLD:
        gold = GoldItem.objects.get(pk=check.gold_id)
        prompt = Prompt(id=0, study=study, text=gold.prompt_text, messages=gold.messages)
        a_text, b_text = gold.better_text, gold.worse_text
    else:
        judgment = Judgment.objects.select_related(
            "comparison__prompt", "comparison__output_a", "comparison__output_b"
        ).get(pk=check.repeat_of_id)
        source = judgment.comparison
        prompt = Prompt(id=0, study=study, text=source.prompt.text, messages=source.prompt.messages)
        a_text, b_text = source.output_a.text, source.output_b.text
    comparison = Comparison(
        id=0,
        study=study,
        prompt=prompt,
        output_a=Output(id=0, study=study, text=a_text),
        output_b=Output(id=0, study=study, text=b_text),
    )
    lease = Assignment(
        id=check.pk,
        study=study,
        comparison=comparison,
        rater=check.rater,
        left_is_a=check.left_is_a,
        status=check.status,
        created_at=check.created_at,
        expires_at=check.expires_at,
    )
    instances_mark_loaded(lease, comparison, prompt, comparison.output_a, comparison.output_b)
    return lease


def _correct(*, check: ControlCheck, preference: int) -> bool:
    if check.kind == ControlKind.GOLD:
        return preference > 0
    original = Judgment.objects.values_list("preference", flat=True).get(pk=check.repeat_of_id)
    return (preference > 0) - (preference < 0) == (original > 0) - (original < 0)


def _answer_store(check: ControlCheck, verdict: Verdict) -> None:
    """Put a validated answer on the (locked) control item, graded."""
    check.preference = verdict.preference
    check.both_bad = verdict.both_bad
    check.criteria = verdict.criteria
    check.flags = verdict.flags
    check.rationale = verdict.rationale
    check.correct = _correct(check=check, preference=verdict.preference)


def _as_judgment(check: ControlCheck) -> Judgment:
    """The answer as an (unsaved) judgment, for the rater API's view of an answer."""
    return Judgment(
        assignment_id=check.pk,
        preference=check.preference,
        both_bad=check.both_bad,
        left_is_a=check.left_is_a,
        criteria=check.criteria,
        flags=check.flags,
        rationale=check.rationale,
        duration_ms=check.duration_ms,
        created_at=check.finished_at,
        revised_at=check.revised_at,
    )


def _open_study_or_refuse(study: Study) -> None:
    if not Study.objects.filter(pk=study.pk, is_open=True).exists():
        raise StudyClosed(study)


def control_answer_submit(
    *, check: ControlCheck, rater: User, duration_ms: Any = None, **answer: Any
) -> tuple[Judgment, bool]:
    """Store the answer to a control item; (the answer as a judgment, created), idempotent
    like judgment_submit: a repeat returns the stored answer."""
    if check.rater_id != rater.pk:
        raise NotYourAssignment("this assignment belongs to another rater")
    with transaction.atomic():
        locked = ControlCheck.objects.select_for_update().select_related("study").get(pk=check.pk)
        if locked.status == AssignmentStatus.DONE:
            return _as_judgment(locked), False
        _open_study_or_refuse(locked.study)
        verdict = verdict_validate(study=locked.study, left_is_a=locked.left_is_a, **answer)
        if locked.status == AssignmentStatus.SKIPPED:
            raise ValidationError("you skipped this comparison", code="skipped")
        now = timezone.now()
        _answer_store(locked, verdict)
        locked.duration_ms = duration_from_report(
            started=locked.created_at, reported=duration_ms, now=now
        )
        locked.status = AssignmentStatus.DONE
        locked.finished_at = now
        locked.save()
    return _as_judgment(locked), True


def control_answer_revise(
    *, check: ControlCheck, rater: User, duration_ms: Any = None, **answer: Any
) -> Judgment:
    """Replace the answer to a control item (the page's one-step undo), while it is the
    rater's latest answer in the study."""
    if check.rater_id != rater.pk:
        raise NotYourAssignment("this assignment belongs to another rater")
    with transaction.atomic():
        locked = ControlCheck.objects.select_for_update().select_related("study").get(pk=check.pk)
        if locked.status != AssignmentStatus.DONE:
            raise RevisionRefused("you have not judged this comparison", code="not_judged")
        _open_study_or_refuse(locked.study)
        later_judgment = Judgment.objects.filter(
            rater=rater, comparison__study_id=locked.study_id, created_at__gt=locked.finished_at
        ).exists()
        later_check = ControlCheck.objects.filter(
            rater=rater, study_id=locked.study_id, finished_at__gt=locked.finished_at
        ).exists()
        if later_judgment or later_check:
            raise RevisionRefused("only your latest judgment can be revised", code="not_last")
        verdict = verdict_validate(study=locked.study, left_is_a=locked.left_is_a, **answer)
        now = timezone.now()
        _answer_store(locked, verdict)
        locked.duration_ms = revision_duration(
            stored=locked.duration_ms,
            answered_at=locked.finished_at,
            reported=duration_ms,
            now=now,
        )
        locked.revised_at = now
        locked.save()
    return _as_judgment(locked)


def control_skip(*, check: ControlCheck, rater: User) -> ControlCheck:
    """Close the control item without an answer (skipping twice is harmless)."""
    if check.rater_id != rater.pk:
        raise NotYourAssignment("this assignment belongs to another rater")
    with transaction.atomic():
        locked = ControlCheck.objects.select_for_update().get(pk=check.pk)
        if locked.status == AssignmentStatus.DONE:
            raise ValidationError("this comparison is already judged", code="judged")
        if locked.status == AssignmentStatus.OPEN:
            locked.status = AssignmentStatus.SKIPPED
            locked.finished_at = timezone.now()
            locked.save(update_fields=["status", "finished_at"])
    return locked


# --- Actions on raters: pause, resume, exclude, include ---------------------------------

_CLOSE_LEASES_SQL = """
UPDATE annotations_assignment
   SET status = 'skipped', skip_reason = %(reason)s, finished_at = %(now)s
 WHERE study_id = %(study)s AND rater_id = %(rater)s AND status = 'open'"""
_CLOSE_CHECKS_SQL = """
UPDATE annotations_controlcheck SET status = 'skipped', finished_at = %(now)s
 WHERE study_id = %(study)s AND rater_id = %(rater)s AND status = 'open'"""
# Each of the rater's judgments in the study out of (-1) or back into (+1) its comparison's
# count; one judgment per rater per comparison, so one step per comparison.
_RECOUNT_SQL = """
UPDATE annotations_comparison c SET judgment_count = c.judgment_count + %(step)s
  FROM annotations_judgment j
 WHERE j.comparison_id = c.id AND j.rater_id = %(rater)s AND c.study_id = %(study)s"""


def _reason_check(reason: Any, *, required: bool) -> str:
    if not isinstance(reason, str):
        raise ValidationError({"reason": "must be text"})
    reason = reason.strip()
    if required and not reason:
        raise ValidationError({"reason": "give a reason: it is recorded with the action"})
    if len(reason) > MAX_REASON:
        raise ValidationError({"reason": f"at most {MAX_REASON} characters (got {len(reason)})"})
    if "\x00" in reason:
        raise ValidationError({"reason": "must not contain NUL characters"})
    return reason


def _leases_close(*, study: Study, rater: User, reason: str, now: datetime) -> None:
    params = {"study": study.pk, "rater": rater.pk, "reason": reason, "now": now}
    with connection.cursor() as cursor:
        cursor.execute(_CLOSE_LEASES_SQL, params)
        cursor.execute(_CLOSE_CHECKS_SQL, params)


def _pause(
    *, study: Study, rater: User, reason: str, by: User | None, now: datetime, via: str = ""
) -> None:
    """Pause inside the caller's transaction, which holds the rater's user row lock."""
    standing = _standing_locked(study=study, rater=rater)
    if standing.paused:
        return
    standing.paused = True
    standing.paused_reason = reason
    standing.updated_at = now
    standing.save()
    _leases_close(study=study, rater=rater, reason=PAUSED_REASON, now=now)
    _event(study=study, rater=rater, action=RaterAction.PAUSE, reason=reason, by=by, via=via)


def rater_pause(
    *, study: Study, rater: User, reason: str = "", by: User | None, via: str = ""
) -> bool:
    """Pause `rater` in `study`: no more items, their open lease released; whether it
    changed anything (pausing a paused rater does not)."""
    reason = _reason_check(reason, required=False) or "paused by an admin"
    now = timezone.now()
    with transaction.atomic():
        sql_rows(sql=RATER_LOCK_SQL, params={"rater": rater.pk})
        was = RaterStanding.objects.filter(study=study, rater=rater, paused=True).exists()
        _pause(study=study, rater=rater, reason=reason, by=by, now=now, via=via)
    return not was


def rater_resume(
    *, study: Study, rater: User, reason: str = "", by: User | None, via: str = ""
) -> bool:
    """Lift a pause; whether the rater was paused."""
    reason = _reason_check(reason, required=False)
    with transaction.atomic():
        sql_rows(sql=RATER_LOCK_SQL, params={"rater": rater.pk})
        standing = _standing_locked(study=study, rater=rater)
        if not standing.paused:
            return False
        standing.paused = False
        standing.paused_reason = ""
        standing.updated_at = timezone.now()
        standing.save()
        _event(study=study, rater=rater, action=RaterAction.RESUME, reason=reason, by=by, via=via)
    return True


def rater_exclude(
    *, study: Study, rater: User, reason: str, by: User | None, via: str = ""
) -> bool:
    """Exclude `rater`'s judgments from `study`'s results, exports and overlap k, and stop
    serving them; recorded with who, when and why. Whether it changed anything."""
    reason = _reason_check(reason, required=True)
    now = timezone.now()
    with transaction.atomic():
        sql_rows(sql=RATER_LOCK_SQL, params={"rater": rater.pk})
        standing = _standing_locked(study=study, rater=rater)
        if standing.excluded:
            return False
        standing.excluded = True
        standing.excluded_reason = reason
        standing.excluded_by = by
        standing.excluded_at = now
        standing.updated_at = now
        standing.save()
        # Closing the leases waits for a submit in flight on one (it holds the lease's row
        # lock) and then finds it done; the recount, a later statement, sees that judgment.
        _leases_close(study=study, rater=rater, reason=EXCLUDED_REASON, now=now)
        with connection.cursor() as cursor:
            cursor.execute(_RECOUNT_SQL, {"study": study.pk, "rater": rater.pk, "step": -1})
        _event(study=study, rater=rater, action=RaterAction.EXCLUDE, reason=reason, by=by, via=via)
    return True


def rater_include(
    *, study: Study, rater: User, reason: str = "", by: User | None, via: str = ""
) -> bool:
    """Undo an exclusion: the judgments count again (recorded). Whether the rater was
    excluded."""
    reason = _reason_check(reason, required=False)
    now = timezone.now()
    with transaction.atomic():
        sql_rows(sql=RATER_LOCK_SQL, params={"rater": rater.pk})
        standing = _standing_locked(study=study, rater=rater)
        if not standing.excluded:
            return False
        standing.excluded = False
        standing.excluded_reason = ""
        standing.excluded_by = None
        standing.excluded_at = None
        standing.updated_at = now
        standing.save()
        with connection.cursor() as cursor:
            cursor.execute(_RECOUNT_SQL, {"study": study.pk, "rater": rater.pk, "step": 1})
        _event(study=study, rater=rater, action=RaterAction.INCLUDE, reason=reason, by=by, via=via)
    return True
