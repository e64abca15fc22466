"""Recording a rater's verdict: validate against the study's form, store it in a/b orientation.

The page and the API speak of left/right (what the rater saw); the judgment is stored in
canonical a/b orientation. The conversion happens here, once.

Verdict: ``winner`` is "left", "right", "tie" or "both_bad" and ``strength`` says how strongly:

- binary: "left" / "right" (no tie); strength 1 or omitted;
- ternary: "left" / "tie" / "right"; strength 1 or omitted;
- likert5: "left" / "right" with strength 1 (better) or 2 (much better), or "tie";
- likert7: "left" / "right" with strength 1 (slightly better), 2 (better) or 3 (much better),
  or "tie".

A Likert answer without a strength is refused (the page always sends one). The stored preference
is +strength when output_a won, -strength when output_b won, 0 for a tie; "both_bad" (only
where the study allows it) is stored as a tie with both_bad set. Criteria are answered on the same
scale, as {"helpful": {"winner": "left", "strength": 2}} or {"helpful": "left"}; each criterion
the study enabled must be answered, and none other. Flags are {"left": [...], "right": [...]}.

Time on task: the page reports the milliseconds the comparison was on screen
(``duration_ms``); it is kept when it is a whole number no larger than the time since the lease
was handed out (plus a few seconds for clock and network slack), otherwise the server-side time
since the lease was handed out is stored.

Revision (one level of undo): judgment_revise replaces the verdict of the rater's latest judgment
in a study while no other rater has been served its comparison since; see its docstring.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from annotations.db.prepared import instances_mark_loaded, sql_script_run
from annotations.models import (
    SCALE_MAX_STRENGTH,
    Assignment,
    AssignmentStatus,
    Comparison,
    Judgment,
    JudgmentSource,
    RationaleMode,
    Scale,
    Study,
    User,
)
from annotations.services.assignment import (
    EXPIRED_REASON,
    NotYourAssignment,
    PickRule,
    StudyClosed,
    comparison_has_room,
    study_pick_rule,
)

# The verdicts a rater (or an imported file) can give, in left/right terms.
WINNERS = ("left", "right", "tie", "both_bad")
MAX_RATIONALE = 10_000
DURATION_SLACK_MS = 5_000
MAX_DURATION_MS = 2_147_483_647
# A lease's created_at is the clock its request read before taking the comparison's lock, so a
# lease made just after a judgment can carry a slightly earlier time. Leases this close before
# the judgment count as served after it: refusing an undo costs little, allowing one after a
# new rater saw the pair would break the rule.
SERVED_CLOCK_SLACK = timedelta(seconds=2)


class LeaseLost(ValidationError):
    """A late submit for a comparison that other raters have filled meanwhile."""

    def __init__(self) -> None:
        super().__init__(
            "Your time on this comparison ran out and other raters have taken it; "
            "your answer was not saved.",
            code="lease_lost",
        )


class RevisionRefused(ValidationError):
    """The judgment cannot be revised any more (served to another rater, not the latest, ...)."""


@dataclass(frozen=True)
class Verdict:
    """A validated answer in canonical orientation, ready to store."""

    preference: int
    both_bad: bool
    criteria: dict[str, int]
    flags: dict[str, list[str]]
    rationale: str


def _left_preference(*, study: Study, field: str, winner: Any, strength: Any) -> int:
    """Preference in left/right terms (positive favours left) for one answer on the scale."""
    allowed = ["left", "right"] if study.scale == Scale.BINARY else ["left", "tie", "right"]
    if winner not in allowed:
        choices = ", ".join(allowed)
        raise ValidationError({field: f"must be one of {choices} on a {study.scale} scale"})
    top = SCALE_MAX_STRENGTH[study.scale]
    likert = study.scale in (Scale.LIKERT5, Scale.LIKERT7)
    if winner == "tie":
        if strength not in (None, 0):
            raise ValidationError({f"{field}.strength": "a tie has no strength"})
        return 0
    if strength is None and not likert:
        strength = 1
    if isinstance(strength, bool) or not isinstance(strength, int) or not 1 <= strength <= top:
        message = f"must be a whole number from 1 to {top} on a {study.scale} scale"
        raise ValidationError({f"{field}.strength": message})
    return strength if winner == "left" else -strength


def verdict_validate(
    *,
    study: Study,
    left_is_a: bool,
    winner: Any,
    strength: Any = None,
    criteria: Any = None,
    flags: Any = None,
    rationale: Any = "",
) -> Verdict:
    """Check an answer against the study's form and turn it into canonical a/b orientation."""
    errors: dict[str, list[str]] = {}

    def collect(exc: ValidationError) -> None:
        for key, messages in exc.message_dict.items():
            errors.setdefault(key, []).extend(messages)

    sign = 1 if left_is_a else -1
    preference = 0
    both_bad = False
    if winner == "both_bad":
        if not study.allow_both_bad:
            errors["winner"] = ["this study has no 'both are bad' answer"]
        elif strength not in (None, 0):
            errors["strength"] = ["'both are bad' has no strength"]
        both_bad = True
    else:
        try:
            preference = sign * _left_preference(
                study=study, field="winner", winner=winner, strength=strength
            )
        except ValidationError as exc:
            # Report the strength problem under the API's own field name.
            for key, messages in exc.message_dict.items():
                errors.setdefault(key.replace("winner.strength", "strength"), []).extend(messages)

    canonical_criteria: dict[str, int] = {}
    criteria = criteria or {}
    if not isinstance(criteria, dict):
        errors["criteria"] = ["must be an object mapping each criterion to an answer"]
    else:
        unknown = sorted(set(criteria) - set(study.criteria))
        if unknown:
            enabled = ", ".join(study.criteria) or "none"
            names = ", ".join(unknown)
            errors["criteria"] = [f"not asked in this study: {names} (asked: {enabled})"]
        for name in study.criteria:
            field = f"criteria.{name}"
            if name not in criteria:
                errors[field] = ["this question needs an answer"]
                continue
            answer = criteria[name]
            if isinstance(answer, dict):
                answer_winner, answer_strength = answer.get("winner"), answer.get("strength")
            else:
                answer_winner, answer_strength = answer, None
            try:
                canonical_criteria[name] = sign * _left_preference(
                    study=study, field=field, winner=answer_winner, strength=answer_strength
                )
            except ValidationError as exc:
                collect(exc)

    canonical_flags: dict[str, list[str]] = {"a": [], "b": []}
    flags = flags or {}
    if not isinstance(flags, dict):
        errors["flags"] = ["must be an object {'left': [...], 'right': [...]}"]
    else:
        unknown_sides = sorted(set(flags) - {"left", "right"})
        if unknown_sides:
            errors["flags"] = [f"unknown side(s) {', '.join(unknown_sides)}; use left and right"]
        for side in ("left", "right"):
            values = flags.get(side) or []
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                errors[f"flags.{side}"] = ["must be a list of flag names"]
                continue
            unknown = sorted(set(values) - set(study.flags))
            if unknown:
                errors[f"flags.{side}"] = [f"not offered in this study: {', '.join(unknown)}"]
                continue
            canonical_side = "a" if (side == "left") == left_is_a else "b"
            # Study order, no duplicates: the same answer always stores the same way.
            canonical_flags[canonical_side] = [f for f in study.flags if f in values]

    if rationale is None:
        rationale = ""
    if not isinstance(rationale, str):
        errors["rationale"] = ["must be text"]
        rationale = ""
    rationale = rationale.strip()
    if study.rationale == RationaleMode.OFF and rationale:
        errors["rationale"] = ["this study does not ask for a rationale"]
    elif study.rationale == RationaleMode.REQUIRED and not rationale:
        errors["rationale"] = ["this study asks for a rationale; please write one"]
    elif len(rationale) > MAX_RATIONALE:
        errors["rationale"] = [f"at most {MAX_RATIONALE} characters (got {len(rationale)})"]

    if errors:
        raise ValidationError(errors)
    return Verdict(
        preference=preference,
        both_bad=both_bad,
        criteria=canonical_criteria,
        flags=canonical_flags,
        rationale=rationale,
    )


def duration_from_report(*, started: datetime, reported: Any, now: datetime) -> int:
    """The time on task to store: the client's report when it fits the time since the item
    was served (`started`), else that time."""
    elapsed = max(0, int((now - started).total_seconds() * 1000))
    if (
        isinstance(reported, int)
        and not isinstance(reported, bool)
        and 0 <= reported <= elapsed + DURATION_SLACK_MS
    ):
        return reported
    return min(elapsed, MAX_DURATION_MS)


def revision_duration(
    *, stored: int | None, answered_at: datetime, reported: Any, now: datetime
) -> int:
    """The time on task after a revision: the stored time plus the revision's, when the
    client's report of it fits the time since the answer."""
    since = int((now - answered_at).total_seconds() * 1000) + DURATION_SLACK_MS
    extra = 0
    if isinstance(reported, int) and not isinstance(reported, bool):
        extra = reported if 0 <= reported <= since else 0
    return min((stored or 0) + extra, MAX_DURATION_MS)


@cache
def _submit_script(rule: PickRule) -> list[str]:
    """The common case of judgment_submit in one round trip and one durable commit.

    Lock the assignment, then the comparison (the order every path takes), and in a statement of
    its own, which sees everything committed before the locks were granted, insert the judgment
    when the lease is still open, the study open and the comparison has room under the pick
    rule; then close the lease and count the judgment. No row comes back when any condition
    fails, and then nothing was written.
    """
    return [
        "SELECT 1 FROM annotations_assignment WHERE id = %(assignment)s FOR UPDATE",
        "SELECT 1 FROM annotations_comparison WHERE id = %(comparison)s FOR UPDATE",
        f"""
WITH ok AS (
    SELECT 1
      FROM annotations_assignment a, annotations_comparison c, annotations_study s
     WHERE a.id = %(assignment)s AND a.rater_id = %(rater)s AND a.status = 'open'
       AND s.id = a.study_id AND s.is_open
       AND c.id = %(comparison)s
       AND {rule.has_room_sql}),
ins AS (
    INSERT INTO annotations_judgment
           (comparison_id, rater_id, assignment_id, scale, preference, both_bad, left_is_a,
            criteria, flags, rationale, duration_ms, source, created_at)
    SELECT %(comparison)s::bigint, %(rater)s::bigint, %(assignment)s::bigint,
           %(scale)s::text, %(preference)s::smallint, %(both_bad)s::boolean,
           %(left_is_a)s::boolean, %(criteria)s::jsonb, %(flags)s::jsonb, %(rationale)s::text,
           %(duration_ms)s::integer, %(source)s::text, %(now)s::timestamptz
      FROM ok
        ON CONFLICT (comparison_id, rater_id) DO NOTHING
    RETURNING id),
closed AS (
    UPDATE annotations_assignment SET status = 'done', finished_at = %(now)s
     WHERE id = %(assignment)s AND EXISTS (SELECT 1 FROM ins)),
counted AS (
    UPDATE annotations_comparison SET judgment_count = judgment_count + 1
     WHERE id = %(comparison)s AND EXISTS (SELECT 1 FROM ins))
SELECT id FROM ins""",  # noqa: S608 - built from fixed fragments; values are bound
    ]


def _judgment_build(
    *,
    assignment: Assignment,
    study: Study,
    rater: User,
    verdict: Verdict,
    duration_ms: Any,
    now: datetime,
) -> Judgment:
    """The (unsaved) judgment of `verdict` on `assignment`, in canonical a/b orientation."""
    return Judgment(
        comparison_id=assignment.comparison_id,
        rater=rater,
        assignment_id=assignment.pk,
        scale=study.scale,
        preference=verdict.preference,
        both_bad=verdict.both_bad,
        left_is_a=assignment.left_is_a,
        criteria=verdict.criteria,
        flags=verdict.flags,
        rationale=verdict.rationale,
        duration_ms=duration_from_report(
            started=assignment.created_at, reported=duration_ms, now=now
        ),
        source=JudgmentSource.WEB,
        created_at=now,
    )


def _submit_fast(
    *,
    rule: PickRule,
    assignment: Assignment,
    study: Study,
    rater: User,
    verdict: Verdict,
    duration_ms: Any,
) -> Judgment | None:
    """The new judgment, or None when the slow path must decide (nothing was written then)."""
    now = timezone.now()
    judgment = _judgment_build(
        assignment=assignment,
        study=study,
        rater=rater,
        verdict=verdict,
        duration_ms=duration_ms,
        now=now,
    )
    rows = sql_script_run(
        statements=_submit_script(rule),
        params={
            "assignment": assignment.pk,
            "comparison": assignment.comparison_id,
            "rater": rater.pk,
            "overlap": study.overlap,
            "now": now,
            "scale": judgment.scale,
            "preference": judgment.preference,
            "both_bad": judgment.both_bad,
            "left_is_a": judgment.left_is_a,
            "criteria": json.dumps(judgment.criteria),
            "flags": json.dumps(judgment.flags),
            "rationale": judgment.rationale,
            "duration_ms": judgment.duration_ms,
            "source": judgment.source,
        },
    )
    if not rows:
        return None
    judgment.pk = rows[0][0]
    instances_mark_loaded(judgment)
    return judgment


def _study_of(assignment: Assignment) -> Study:
    if Assignment.study.is_cached(assignment):
        return assignment.study
    return Study.objects.get(pk=assignment.study_id)


def judgment_submit(
    *,
    assignment: Assignment,
    rater: User,
    winner: Any,
    strength: Any = None,
    criteria: Any = None,
    flags: Any = None,
    rationale: Any = "",
    duration_ms: Any = None,
) -> tuple[Judgment, bool]:
    """Store the rater's verdict on their assignment; returns (judgment, created).

    Idempotent: a repeat (double click, retry, second tab) returns the stored judgment with
    created=False, whatever it carries. A submit after the lease expired is accepted while the
    comparison still has room under the study's pick rule and refused with LeaseLost otherwise.
    A first submit on a closed study is refused with StudyClosed. Nothing is written when the
    submit is refused.

    Lock order (both paths): the assignment row, then the comparison row; the room is counted
    in a statement that starts after both are held.
    """
    if assignment.rater_id != rater.pk:
        raise NotYourAssignment("this assignment belongs to another rater")
    study = _study_of(assignment)
    rule = study_pick_rule(study=study)

    def validate(left_is_a: bool) -> Verdict:
        return verdict_validate(
            study=study,
            left_is_a=left_is_a,
            winner=winner,
            strength=strength,
            criteria=criteria,
            flags=flags,
            rationale=rationale,
        )

    if assignment.status == AssignmentStatus.OPEN and study.is_open:
        # The common case, the lease open as last read: one message. Anything unusual (an
        # invalid answer, which a concurrent first submit would make a repeat, a lease closed,
        # a study closed or a comparison filled meanwhile) is decided under the locks below.
        try:
            verdict = validate(assignment.left_is_a)
        except ValidationError:
            verdict = None
        if verdict is not None:
            judgment = _submit_fast(
                rule=rule,
                assignment=assignment,
                study=study,
                rater=rater,
                verdict=verdict,
                duration_ms=duration_ms,
            )
            if judgment is not None:
                return judgment, True
    return _submit_locked(
        rule=rule,
        assignment=assignment,
        study=study,
        rater=rater,
        validate=validate,
        duration_ms=duration_ms,
    )


def _submit_locked(
    *,
    rule: PickRule,
    assignment: Assignment,
    study: Study,
    rater: User,
    validate: Callable[[bool], Verdict],
    duration_ms: Any,
) -> tuple[Judgment, bool]:
    """judgment_submit step by step under the locks; `validate` checks the answer for an order."""
    with transaction.atomic():
        locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
        if locked.rater_id != rater.pk:
            raise NotYourAssignment("this assignment belongs to another rater")
        if locked.status == AssignmentStatus.DONE:
            return Judgment.objects.get(comparison_id=locked.comparison_id, rater=rater), False
        # Read afresh: the copy the caller loaded may predate the closing.
        if not Study.objects.filter(pk=study.pk, is_open=True).exists():
            raise StudyClosed(study)
        # Validate only once we know this is the first submit: a repeat returns the stored
        # judgment even if the client's copy of the form has changed since.
        verdict = validate(locked.left_is_a)
        if locked.status == AssignmentStatus.SKIPPED:
            if locked.skip_reason == EXPIRED_REASON:
                raise LeaseLost()
            raise ValidationError("you skipped this comparison", code="skipped")
        now = timezone.now()
        if not comparison_has_room(
            rule=rule,
            comparison_id=locked.comparison_id,
            rater_id=rater.pk,
            overlap=study.overlap,
            now=now,
        ):
            raise LeaseLost()
        try:
            with transaction.atomic():
                judgment = _judgment_build(
                    assignment=locked,
                    study=study,
                    rater=rater,
                    verdict=verdict,
                    duration_ms=duration_ms,
                    now=now,
                )
                judgment.save(force_insert=True)
        except IntegrityError:
            # The unique (comparison, rater) constraint is the last guard against a second row.
            existing = Judgment.objects.filter(
                comparison_id=locked.comparison_id, rater=rater
            ).first()
            if existing is None:
                raise
            return existing, False
        locked.status = AssignmentStatus.DONE
        locked.finished_at = now
        locked.save(update_fields=["status", "finished_at"])
        Comparison.objects.filter(pk=locked.comparison_id).update(
            judgment_count=F("judgment_count") + 1
        )
    return judgment, True


def _revision_refusal(*, judgment: Judgment, study: Study, rater: User) -> RevisionRefused | None:
    """Why `judgment` may not be revised now, or None. Run under the comparison's row lock."""
    later = Judgment.objects.filter(rater=rater, comparison__study_id=study.pk).filter(
        Q(created_at__gt=judgment.created_at)
        | Q(created_at=judgment.created_at, pk__gt=judgment.pk)
    )
    if later.exists():
        return RevisionRefused("only your latest judgment can be revised", code="not_last")
    served = Assignment.objects.filter(
        comparison_id=judgment.comparison_id,
        created_at__gt=judgment.created_at - SERVED_CLOCK_SLACK,
    ).exclude(rater=rater)
    if served.exists():
        return RevisionRefused(
            "this pair has been given to another rater since; your judgment stands as it was",
            code="served",
        )
    return None


def judgment_revise(
    *,
    assignment: Assignment,
    rater: User,
    winner: Any,
    strength: Any = None,
    criteria: Any = None,
    flags: Any = None,
    rationale: Any = "",
    duration_ms: Any = None,
) -> Judgment:
    """Replace the verdict of the rater's judgment on `assignment` (one level of undo).

    Allowed while the judgment is the rater's latest in the study and no other rater has been
    leased its comparison since it was made (within SERVED_CLOCK_SLACK); refused with
    RevisionRefused otherwise (code "not_judged", "not_last" or "served"), and with StudyClosed
    on a closed study. The answer is validated as a first submit is, in the order the rater saw.

    The same row is updated: still one judgment per rater per comparison, created_at stays,
    revised_at records the revision, and duration_ms grows by the revision's time on task. No
    count changes (judgment_count, leases), so the overlap k and the left/right balance hold.

    Lock order, as the submit paths: the assignment row, then the comparison row (which every
    new lease on it takes, so none can be made while the check and the update run), then the
    judgment row.
    """
    if assignment.rater_id != rater.pk:
        raise NotYourAssignment("this assignment belongs to another rater")
    study = _study_of(assignment)
    with transaction.atomic():
        locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
        if locked.rater_id != rater.pk:
            raise NotYourAssignment("this assignment belongs to another rater")
        list(Comparison.objects.select_for_update().filter(pk=locked.comparison_id).values("pk"))
        judgment = (
            Judgment.objects.select_for_update()
            .filter(comparison_id=locked.comparison_id, rater=rater, assignment_id=locked.pk)
            .first()
        )
        if locked.status != AssignmentStatus.DONE or judgment is None:
            raise RevisionRefused("you have not judged this comparison", code="not_judged")
        if not Study.objects.filter(pk=study.pk, is_open=True).exists():
            raise StudyClosed(study)
        refusal = _revision_refusal(judgment=judgment, study=study, rater=rater)
        if refusal is not None:
            raise refusal
        verdict = verdict_validate(
            study=study,
            left_is_a=judgment.left_is_a,
            winner=winner,
            strength=strength,
            criteria=criteria,
            flags=flags,
            rationale=rationale,
        )
        now = timezone.now()
        judgment.preference = verdict.preference
        judgment.both_bad = verdict.both_bad
        judgment.criteria = verdict.criteria
        judgment.flags = verdict.flags
        judgment.rationale = verdict.rationale
        judgment.duration_ms = revision_duration(
            stored=judgment.duration_ms,
            answered_at=judgment.created_at,
            reported=duration_ms,
            now=now,
        )
        judgment.revised_at = now
        judgment.save(
            update_fields=[
                "preference",
                "both_bad",
                "criteria",
                "flags",
                "rationale",
                "duration_ms",
                "revised_at",
            ]
        )
    return judgment
