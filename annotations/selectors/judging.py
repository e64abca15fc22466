"""Reads for raters: the studies they may judge, the blinded assignment, the form, progress."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from django.db import connection

from annotations.db.prepared import sql_rows
from annotations.models import (
    SCALE_MAX_STRENGTH,
    Assignment,
    ControlCheck,
    Criterion,
    Flag,
    Judgment,
    Scale,
    Study,
    User,
)
from annotations.rendering import markdown_render

_STRENGTH_WORDS = {
    1: {1: "better"},
    2: {1: "better", 2: "much better"},
    3: {1: "slightly better", 2: "better", 3: "much better"},
}
# The letter keys pick "A better", "Tie" and "B better" on every scale (on likert7 that is the
# middle strength, not "slightly better"). The page reads them from the choices, so the
# shortcut help and what the keys do cannot disagree.
_SHORTCUTS = {"left": "A", "tie": "T", "right": "B"}


def scale_choices(*, scale: str) -> list[dict[str, Any]]:
    """The verdict buttons of a scale, left to right, with their keyboard keys ("1", "2", ...)
    and, on the "A better", "Tie" and "B better" buttons, their letter `shortcut` (else None)."""
    top = SCALE_MAX_STRENGTH[scale]
    likert = scale in (Scale.LIKERT5, Scale.LIKERT7)
    words = _STRENGTH_WORDS[top] if likert else {1: "better"}
    plain = next(strength for strength, word in words.items() if word == "better")
    choices: list[dict[str, Any]] = []
    for strength in range(top, 0, -1):
        choices.append({"winner": "left", "strength": strength, "label": f"A {words[strength]}"})
    if scale != Scale.BINARY:
        choices.append({"winner": "tie", "strength": None, "label": "Tie"})
    for strength in range(1, top + 1):
        choices.append({"winner": "right", "strength": strength, "label": f"B {words[strength]}"})
    for number, choice in enumerate(choices, start=1):
        choice["key"] = str(number)
        is_plain = choice["strength"] in (None, plain)
        choice["shortcut"] = _SHORTCUTS[choice["winner"]] if is_plain else None
        if not likert:
            choice["strength"] = None
    return choices


def study_form(*, study: Study) -> dict[str, Any]:
    """What the judging page asks, from the study's settings (no generator names)."""
    criterion_labels = dict(Criterion.choices)
    flag_labels = dict(Flag.choices)
    return {
        "scale": study.scale,
        "choices": scale_choices(scale=study.scale),
        "allow_both_bad": study.allow_both_bad,
        "criteria": [{"name": c, "label": criterion_labels.get(c, c)} for c in study.criteria],
        "flags": [{"name": f, "label": flag_labels.get(f, f)} for f in study.flags],
        "rationale": study.rationale,
    }


# The items the rater answered in the study, judgments and control items alike (a rater
# cannot tell them apart): what the quota caps (the pick SQL carries it too).
RATER_JUDGED_SQL = (
    "((SELECT count(*) FROM annotations_judgment qj"
    " JOIN annotations_comparison qc ON qc.id = qj.comparison_id"
    " WHERE qj.rater_id = %(rater)s AND qc.study_id = %(study)s)"
    " + (SELECT count(*) FROM annotations_controlcheck qk"
    " WHERE qk.rater_id = %(rater)s AND qk.study_id = %(study)s AND qk.status = 'done'))"
)

# The access rule, its one home, as a condition on a study row ``s``: a rater may judge a study
# that is open to raters when it is open to every rater and theirs is not a crowd account
# (crowd accounts judge only the studies they joined), or when they are its member. Parameters:
# rater (the user id) and crowd (User.is_crowd). For an open study the membership probe is
# never reached, so the lookups that carry the rule cost no more than before.
#
# A crowd account signed in through a study's link is limited to that study for the session
# (parameter `only`, the study id, or NULL): the platform paid for that study's work.
MAY_JUDGE_SQL = (
    "((s.access = 'open' AND NOT %(crowd)s) OR EXISTS (SELECT 1 FROM annotations_membership m"
    " WHERE m.study_id = s.id AND m.user_id = %(rater)s))"
    " AND (%(only)s::bigint IS NULL OR s.id = %(only)s::bigint)"
)
JUDGEABLE_SQL = f"s.is_open AND {MAY_JUDGE_SQL}"


def rater_access_params(*, rater: User) -> dict[str, Any]:
    """The parameters MAY_JUDGE_SQL takes for `rater` (session_study_id: see CrowdSessionLimit)."""
    return {
        "rater": rater.pk,
        "crowd": rater.is_crowd,
        "only": getattr(rater, "session_study_id", None),
    }


def completion_url_fill(*, url: str, code: str) -> str:
    """The study's completion URL with {code} replaced by the (URL-quoted) code."""
    return url.replace("{code}", quote(code, safe=""))


def rater_progress(*, study: Study, rater: User) -> dict[str, Any]:
    """The rater's progress in `study`: judged, skipped, remaining, quota, complete and, once
    complete, the completion code and URL (None until then, so they reach no page early).

    "remaining" counts the comparisons that still need judgments and that the rater has neither
    judged nor skipped (the one leased to them included), capped by what the quota still allows;
    leases of others that may yet expire are not subtracted, so it is what could still come
    their way. The rater has completed the study when they reached the quota, or when they
    judged at least one pair and nothing remains for them, or once their completion was
    recorded. A rater who judged nothing has not completed anything: skipping every pair, or
    arriving before the study's pairs are loaded, shows no code.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT
              {RATER_JUDGED_SQL},
              (SELECT count(*) FROM annotations_assignment a
                WHERE a.rater_id = %(rater)s AND a.study_id = %(study)s
                  AND a.status = 'skipped')
              + (SELECT count(*) FROM annotations_controlcheck k
                  WHERE k.rater_id = %(rater)s AND k.study_id = %(study)s
                    AND k.status = 'skipped'),
              (SELECT count(*) FROM annotations_comparison c
                WHERE c.study_id = %(study)s AND c.judgment_count < %(overlap)s),
              (SELECT count(*) FROM annotations_assignment a
                 JOIN annotations_comparison c ON c.id = a.comparison_id
                WHERE a.rater_id = %(rater)s AND a.study_id = %(study)s
                  AND a.status <> 'open' AND c.judgment_count < %(overlap)s),
              (SELECT m.completed_at FROM annotations_membership m
                WHERE m.study_id = %(study)s AND m.user_id = %(rater)s),
              (SELECT CASE WHEN st.qualification = 'failed' THEN 'screened_out'
                           WHEN st.paused OR st.excluded THEN 'paused' END
                 FROM annotations_raterstanding st
                WHERE st.study_id = %(study)s AND st.rater_id = %(rater)s)
            """,  # noqa: S608 - built from fixed fragments; values are bound
            {"rater": rater.pk, "study": study.pk, "overlap": study.overlap},
        )
        judged, skipped, needing, met_needing, completed_at, stopped = cursor.fetchone()
    remaining = max(0, needing - met_needing)
    if study.quota is not None:
        remaining = min(remaining, max(0, study.quota - judged))
    quota_reached = study.quota is not None and judged >= study.quota
    complete = completed_at is not None or quota_reached or (remaining == 0 and judged > 0)
    if stopped is not None:
        # Paused, excluded or screened out: no more items, and no completion code for work
        # not done (a screened-out crowd rater gets the study's screen-out code instead).
        complete = completed_at is not None
        remaining = 0
    code = study.completion_code if complete else ""
    screened_out = stopped == "screened_out"
    screenout_code = study.screenout_code if screened_out else ""
    return {
        "judged": judged,
        "skipped": skipped,
        "remaining": remaining,
        "quota": study.quota,
        "complete": complete,
        "completion_code": code or None,
        "completion_url": (
            completion_url_fill(url=study.completion_url, code=code)
            if complete and study.completion_url
            else None
        ),
        # None, "paused" (also an excluded rater: they are not told more) or "screened_out".
        "stopped": stopped,
        # A study with a target has collected what it needs (services/collection.py).
        "study_complete": (study.collection_state or {}).get("status") == "complete",
        "screenout_code": screenout_code or None,
        "screenout_url": (
            completion_url_fill(url=study.screenout_url, code=screenout_code)
            if screened_out and study.screenout_url
            else None
        ),
    }


def rater_studies(*, rater: User) -> list[dict[str, Any]]:
    """The studies this rater may judge, with their progress in each, for the home page."""
    studies = Study.objects.raw(
        f"SELECT s.* FROM annotations_study s WHERE {JUDGEABLE_SQL} ORDER BY s.name, s.slug",  # noqa: S608 - built from fixed fragments; values are bound
        rater_access_params(rater=rater),
    )
    return [{"study": study, **rater_progress(study=study, rater=rater)} for study in studies]


def _prompt_view(prompt: Any) -> dict[str, Any]:
    messages = prompt.messages if isinstance(prompt.messages, list) else None
    view: dict[str, Any] = {"text": prompt.text, "html": markdown_render(prompt.text)}
    if messages:
        view["messages"] = [
            {
                "role": str(m.get("role", "")) if isinstance(m, dict) else "",
                "content": str(m.get("content", "")) if isinstance(m, dict) else str(m),
                "html": markdown_render(
                    str(m.get("content", "")) if isinstance(m, dict) else str(m)
                ),
            }
            for m in messages
        ]
    else:
        view["messages"] = None
    return view


def assignment_view(*, assignment: Assignment) -> dict[str, Any]:
    """The blinded assignment as the page and API show it.

    Left/right is the order this rater sees. No generator names, generator ids, output ids or
    comparison ids: nothing a rater could join back to a model.
    """
    comparison = assignment.comparison
    a, b = comparison.output_a, comparison.output_b
    left, right = (a, b) if assignment.left_is_a else (b, a)
    return {
        "id": assignment.pk,
        "prompt": _prompt_view(comparison.prompt),
        "left": {"text": left.text, "html": markdown_render(left.text)},
        "right": {"text": right.text, "html": markdown_render(right.text)},
        "expires_at": assignment.expires_at.isoformat(),
        "status": assignment.status,
    }


_STUDY_COLUMNS = [f.column for f in Study._meta.concrete_fields]
_STUDY_NAMES = [f.attname for f in Study._meta.concrete_fields]
# Hand-written SQL hands JSON columns back as text (Django's psycopg loader leaves the parsing
# to the field, which Model.from_db does not call): these get parsed as the ORM would.
_STUDY_JSON = [
    i for i, f in enumerate(Study._meta.concrete_fields) if f.get_internal_type() == "JSONField"
]


def _study_from_row(row: tuple) -> Study:
    values = list(row)
    for i in _STUDY_JSON:
        if isinstance(values[i], str):
            values[i] = json.loads(values[i])
    return Study.from_db(connection.alias, _STUDY_NAMES, values)


_ASSIGNMENT_COLUMNS = [f.column for f in Assignment._meta.concrete_fields]
_ASSIGNMENT_NAMES = [f.attname for f in Assignment._meta.concrete_fields]
_STUDY_SQL = (
    f"SELECT {', '.join(f's.{c}' for c in _STUDY_COLUMNS)} FROM annotations_study s"  # noqa: S608 - built from fixed fragments; values are bound
    f" WHERE s.slug = %(slug)s AND {JUDGEABLE_SQL}"
)
_OPEN_STUDY_SQL = (
    f"SELECT {', '.join(_STUDY_COLUMNS)} FROM annotations_study WHERE slug = %s AND is_open"  # noqa: S608 - built from fixed fragments; values are bound
)
# A rater's own assignment, in a study they may still judge (a member removed from an invite
# study loses their lease with their access). Whether the study is open is the judging
# service's to decide: it answers a closed study with its own refusal.
_ASSIGNMENT_SQL = (
    "SELECT "  # noqa: S608 - built from fixed fragments; values are bound
    + ", ".join([f"a.{c}" for c in _ASSIGNMENT_COLUMNS] + [f"s.{c}" for c in _STUDY_COLUMNS])
    + " FROM annotations_assignment a JOIN annotations_study s ON s.id = a.study_id"
    f" WHERE a.id = %(assignment)s AND a.rater_id = %(rater)s AND {MAY_JUDGE_SQL}"
)


def study_judging_get(*, slug: str, user: User) -> Study | None:
    """The study with this slug as the judging page and the rater API find it, or None (404).

    For a rater, only a study they may judge (JUDGEABLE_SQL), so that a study they may not
    judge does not even show that it exists. For anyone else, any open study: they are then
    told that only raters judge. One indexed lookup, no query compilation.
    """
    if user.is_rater:
        rows = sql_rows(sql=_STUDY_SQL, params={"slug": slug, **rater_access_params(rater=user)})
    else:
        rows = sql_rows(sql=_OPEN_STUDY_SQL, params=[slug])
    return _study_from_row(rows[0]) if rows else None


def assignment_load(*, assignment_id: int, rater: User) -> Assignment | None:
    """The rater's own assignment with its study, or None (also for others', and in a study
    the rater may no longer judge).

    Judging and skipping need the lease and the study's form, not the texts; one statement
    written out by hand, since this runs on every submit.
    """
    rows = sql_rows(
        sql=_ASSIGNMENT_SQL,
        params={"assignment": assignment_id, **rater_access_params(rater=rater)},
    )
    if not rows:
        return None
    row = rows[0]
    split = len(_ASSIGNMENT_COLUMNS)
    assignment = Assignment.from_db(connection.alias, _ASSIGNMENT_NAMES, row[:split])
    assignment.study = _study_from_row(row[split:])
    assignment.rater = rater
    return assignment


_CONTROL_CHECK_SQL = (
    "SELECT k.id FROM annotations_controlcheck k JOIN annotations_study s ON s.id = k.study_id"  # noqa: S608 - built from fixed fragments; values are bound
    f" WHERE k.id = %(assignment)s AND k.rater_id = %(rater)s AND {MAY_JUDGE_SQL}"
)


def control_check_load(*, check_id: int, rater: User) -> ControlCheck | None:
    """The rater's own control item (services/quality.py) with its study, or None, under the
    same rule as assignment_load: an id that is not an assignment may be one of these."""
    rows = sql_rows(
        sql=_CONTROL_CHECK_SQL, params={"assignment": check_id, **rater_access_params(rater=rater)}
    )
    if not rows:
        return None
    return ControlCheck.objects.select_related("study").get(pk=check_id)


def judgment_view(*, judgment: Judgment) -> dict[str, Any]:
    """A stored judgment back in the left/right terms the rater used."""
    sign = 1 if judgment.left_is_a else -1
    left_pref = sign * judgment.preference

    def answer(preference: int) -> dict[str, Any]:
        if preference == 0:
            return {"winner": "tie", "strength": None}
        return {"winner": "left" if preference > 0 else "right", "strength": abs(preference)}

    verdict = {"winner": "both_bad", "strength": None} if judgment.both_bad else answer(left_pref)
    flags = judgment.flags or {}
    left_side, right_side = ("a", "b") if judgment.left_is_a else ("b", "a")
    return {
        "assignment": judgment.assignment_id,
        **verdict,
        "criteria": {
            name: answer(sign * value) for name, value in (judgment.criteria or {}).items()
        },
        "flags": {"left": flags.get(left_side, []), "right": flags.get(right_side, [])},
        "rationale": judgment.rationale,
        "duration_ms": judgment.duration_ms,
        "created_at": judgment.created_at.isoformat(),
    }
