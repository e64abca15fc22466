"""Creating and updating studies, with their baseline generator."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.utils import timezone

from annotations.models import (
    Access,
    Criterion,
    Flag,
    Generator,
    Pairing,
    Prompt,
    RationaleMode,
    Sampling,
    Scale,
    Study,
)
from annotations.services.collection import collection_priorities_reset
from annotations.services.generators import generator_get_or_create
from annotations.services.pairing import comparisons_create, study_pairing_lock

# Fields a caller may set, besides the slug and the baseline name.
STUDY_SETTINGS = (
    "name",
    "description",
    "instructions",
    "pairing",
    "scale",
    "allow_both_bad",
    "criteria",
    "flags",
    "rationale",
    "overlap",
    "lease_minutes",
    "is_open",
    "access",
    "quota",
    "completion_code",
    "completion_url",
    "min_seconds",
    "quality_thresholds",
    "gold_rate",
    "repeat_rate",
    "qualification",
    "qualification_pass",
    "qualification_retry",
    "screenout_code",
    "screenout_url",
    "gold_min_accuracy",
    "gold_min_n",
    "target_half_width",
    "stop_on_decision",
    "sampling",
)
# The settings collection with a target reads: changing one recomputes the status at once.
COLLECTION_FIELDS = frozenset({"target_half_width", "stop_on_decision", "sampling", "overlap"})


# The settings the pairing rule reads: changing either one makes the comparisons it calls for.
PAIRING_FIELDS = frozenset({"baseline", "pairing"})

# The one shorthand the flags settings take besides a list of Flag values.
FLAG_PRESETS = {"instructgpt": tuple(Flag.values)}


@dataclass(frozen=True)
class StudyResult:
    study: Study
    created: bool
    changed: list[str]
    # Comparisons made because the baseline or pairing changed (0 on creation: no prompts yet).
    comparisons_added: int = 0


def study_baseline_missing_message(*, study: Study) -> str | None:
    """What to tell someone loading into `study` while its pairing lacks a baseline, else None.

    Only `vs_baseline` needs one to pair: `all_pairs` pairs every two models without it.
    """
    if study.baseline_id is not None or study.pairing != Pairing.VS_BASELINE:
        return None
    return (
        f"study '{study.slug}' has no baseline yet: no comparisons were made; choose a baseline "
        "(admin or create_study --baseline) and they are made then"
    )


def study_comparisons_create(*, study: Study) -> int:
    """Create the comparisons the study's rule now calls for on all its prompts; return the count.

    Comparisons are only ever added: existing ones, and their judgments, stay.
    """
    prompt_ids = list(Prompt.objects.filter(study=study).values_list("pk", flat=True))
    if not prompt_ids:
        return 0
    wanted, existing = comparisons_create(study=study, prompt_ids=prompt_ids, now=timezone.now())
    return wanted - existing


def study_save(*, study: Study, changed: Iterable[str]) -> int:
    """Save a study edited field by field (the admin's form); return the comparisons it made.

    When `changed` names the baseline or the pairing of an existing study, the comparisons the
    rule now calls for are made in the same transaction.
    """
    rule_changed = study.pk is not None and bool(PAIRING_FIELDS & set(changed))
    with transaction.atomic():
        if rule_changed:
            # The pairing lock before the row's: a load holds the lock and then needs the row.
            study_pairing_lock(study_id=study.pk)
        study.save()
        return study_comparisons_create(study=study) if rule_changed else 0


def _check_choices(field: str, values: list[str], allowed: list[str]) -> None:
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValidationError(
            {
                field: f"unknown value(s) {', '.join(map(repr, unknown))}; "
                f"choose from {', '.join(allowed)}"
            }
        )


def _baseline_existing(*, study: Study, name: str) -> Generator:
    """The study's model called `name`, or a ValidationError on `baseline` listing its models."""
    generator = Generator.objects.filter(study=study, name=name).first()
    if generator is not None:
        return generator
    names = list(
        Generator.objects.filter(study=study).order_by("name").values_list("name", flat=True)[:11]
    )
    shown = ", ".join(map(repr, names[:10])) + (", ..." if len(names) > 10 else "")
    raise ValidationError(
        {
            "baseline": f"study {study.slug!r} has no model named {name!r}; the baseline must be "
            f"one of its models ({shown or 'none yet'})"
        }
    )


def _access_settings_check(settings: dict[str, Any]) -> None:
    """Check (and normalise, in place) access, quota and the completion settings."""
    if "access" in settings:
        _check_choices("access", [settings["access"]], Access.values)
    if "quota" in settings:
        quota = settings["quota"]
        if isinstance(quota, bool) or not isinstance(quota, int) or quota < 0:
            raise ValidationError({"quota": "must be a whole number (0 for no cap)"})
        # 0 lifts the cap: None would mean "leave unchanged" to this function.
        settings["quota"] = quota or None
    for field in ("completion_code", "completion_url", "screenout_code", "screenout_url"):
        if field in settings:
            settings[field] = settings[field].strip()
    for field in ("completion_url", "screenout_url"):
        url = settings.get(field)
        if url:
            try:
                URLValidator(schemes=["http", "https"])(url.replace("{code}", "CODE"))
            except ValidationError as exc:
                message = "must be an http(s) URL; {code} in it is replaced by the code"
                raise ValidationError({field: message}) from exc


def _share_check(settings: dict[str, Any], field: str) -> None:
    value = settings.get(field)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValidationError({field: f"must be a share from 0 to 1, not {value!r}"})
    settings[field] = float(value)


def _control_settings_check(settings: dict[str, Any], study: Study | None) -> None:
    """Check the control-item and screening settings (services/quality.py)."""
    for field in ("gold_rate", "repeat_rate", "qualification_pass", "gold_min_accuracy"):
        _share_check(settings, field)
    for field in ("qualification", "gold_min_n"):
        value = settings.get(field)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 32767
        ):
            raise ValidationError({field: f"must be a whole number from 0, not {value!r}"})
    if "qualification_retry" in settings and not isinstance(settings["qualification_retry"], bool):
        raise ValidationError({"qualification_retry": "must be true or false"})
    if "sampling" in settings:
        _check_choices("sampling", [settings["sampling"]], Sampling.values)
    target = settings.get("target_half_width")
    if target is not None:
        if isinstance(target, bool) or not isinstance(target, int | float):
            raise ValidationError({"target_half_width": f"must be a number, not {target!r}"})
        if target == 0:
            # 0 lifts the target: None would mean "leave unchanged" here.
            settings["target_half_width"] = None
        elif not 0 < target <= 0.5:
            raise ValidationError(
                {"target_half_width": f"must be a half-width above 0 and at most 0.5, not {target}"}
            )
        else:
            settings["target_half_width"] = float(target)
    gold = settings.get("gold_rate", study.gold_rate if study else None) or 0.0
    repeat = settings.get("repeat_rate", study.repeat_rate if study else 0.0)
    if gold + repeat > 1:
        raise ValidationError(
            {"repeat_rate": f"gold_rate + repeat_rate must be at most 1 (got {gold} + {repeat})"}
        )


def _quality_settings_check(settings: dict[str, Any]) -> None:
    """Check the rater-quality settings: the speed limit and the threshold overrides."""
    seconds = settings.get("min_seconds")
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds <= 32767
    ):
        raise ValidationError({"min_seconds": "must be a whole number of seconds (0 turns it off)"})
    if "quality_thresholds" in settings:
        # Imported here: the statistics stack loads only when something is computed or checked.
        from annotations.stats.rater_quality import quality_thresholds_build

        overrides = settings["quality_thresholds"]
        if not isinstance(overrides, dict):
            raise ValidationError({"quality_thresholds": "must be an object of threshold: number"})
        try:
            quality_thresholds_build(overrides=overrides)
        except ValueError as exc:
            raise ValidationError({"quality_thresholds": str(exc)}) from exc


def study_create_or_update(
    *, slug: str, baseline: str | None = None, baseline_must_exist: bool = False, **settings: Any
) -> StudyResult:
    """Create the study `slug` (or update it) with `baseline` as its baseline generator.

    A new study gets its baseline model made. On an existing study a new name makes a new,
    empty model the baseline (the command's way to set one up before loading its outputs),
    unless `baseline_must_exist`, as for the API, where a misspelt name must not do that; no
    name leaves the baseline as it is (a study made in the admin may have none yet).
    Changing the baseline or the pairing makes the comparisons the rule now calls for, in the
    same transaction; comparisons are only ever added.
    """
    unknown = set(settings) - set(STUDY_SETTINGS)
    if unknown:
        raise ValidationError(f"unknown study setting(s): {', '.join(sorted(unknown))}")
    baseline = (baseline or "").strip()
    settings = {k: v for k, v in settings.items() if v is not None}
    if "pairing" in settings:
        _check_choices("pairing", [settings["pairing"]], Pairing.values)
    if "scale" in settings:
        _check_choices("scale", [settings["scale"]], Scale.values)
    if "rationale" in settings:
        _check_choices("rationale", [settings["rationale"]], RationaleMode.values)
    if "criteria" in settings:
        settings["criteria"] = list(dict.fromkeys(settings["criteria"]))
        _check_choices("criteria", settings["criteria"], Criterion.values)
    if "flags" in settings:
        settings["flags"] = list(dict.fromkeys(settings["flags"]))
        _check_choices("flags", settings["flags"], Flag.values)
    for field in ("overlap", "lease_minutes"):
        if field in settings and (not isinstance(settings[field], int) or settings[field] < 1):
            raise ValidationError({field: "must be a whole number of at least 1"})
    _access_settings_check(settings)
    _quality_settings_check(settings)

    with transaction.atomic():
        existing = Study.objects.filter(slug=slug).values_list("pk", flat=True).first()
        if existing is None and not baseline:
            raise ValidationError({"baseline": "a baseline generator name is required"})
        if existing is not None:
            # The pairing lock before the row's, in the order a load takes them (it holds the
            # lock, then its inserts check the study row), so the two cannot deadlock.
            study_pairing_lock(study_id=existing)
        # FOR NO KEY UPDATE: it serialises updates without blocking the rows that refer to the
        # study (a rater's new assignment, a load's outputs) while the comparisons are made.
        study = Study.objects.select_for_update(no_key=True).filter(slug=slug).first()
        _control_settings_check(settings, study)
        created = study is None
        if study is None:
            study = Study(slug=slug, name=settings.get("name") or slug)
        changed: list[str] = []
        lifted = "target_half_width" in settings and settings["target_half_width"] is None
        for field, value in settings.items():
            if getattr(study, field) != value:
                setattr(study, field, value)
                changed.append(field)
        if COLLECTION_FIELDS & set(changed):
            study.collection_at = None
        study.full_clean(exclude=["baseline"])
        study.save()
        if baseline:
            if baseline_must_exist and not created:
                generator = _baseline_existing(study=study, name=baseline)
            else:
                generator = generator_get_or_create(study=study, name=baseline)
            if study.baseline_id != generator.pk:
                if not created:
                    changed.append("baseline")
                study.baseline = generator
                study.save(update_fields=["baseline", "updated_at"])
        added = 0
        if not created and PAIRING_FIELDS & set(changed):
            added = study_comparisons_create(study=study)
        if lifted and "target_half_width" in changed:
            collection_priorities_reset(study=study)
    return StudyResult(
        study=study, created=created, changed=[] if created else changed, comparisons_added=added
    )


# Children first, each in one set-based statement: the ORM's cascade would first load every
# judgment, comparison and output of the study into memory (millions of rows for a big one).
_STUDY_DELETE_SQL = (
    "DELETE FROM annotations_judgment j USING annotations_comparison c "
    "WHERE c.id = j.comparison_id AND c.study_id = %(study)s",
    "DELETE FROM annotations_assignment WHERE study_id = %(study)s",
    "DELETE FROM annotations_comparison WHERE study_id = %(study)s",
    "DELETE FROM annotations_membership WHERE study_id = %(study)s",
    "DELETE FROM annotations_invite WHERE study_id = %(study)s",
    "DELETE FROM annotations_output WHERE study_id = %(study)s",
    "DELETE FROM annotations_prompt WHERE study_id = %(study)s",
    "UPDATE annotations_study SET baseline_id = NULL WHERE id = %(study)s",
    "DELETE FROM annotations_generator WHERE study_id = %(study)s",
    "DELETE FROM annotations_study WHERE id = %(study)s",
)


def study_delete(*, study: Study) -> None:
    """Delete `study` with everything in it, in one transaction, at any size."""
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in _STUDY_DELETE_SQL:
            cursor.execute(sql, {"study": study.pk})
