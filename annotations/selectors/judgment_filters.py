"""Which judgments of a study an export covers: JudgmentFilter and judgment_filter_build.

Raters are named only by the pseudonymous ids that exports show (r-...), never by username:
a filter that took usernames would let anyone who can export map a pseudonym back to an
account, and probe which accounts exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Model
from django.utils.dateparse import parse_date, parse_datetime

from annotations.models import JUDGE_PREFIX, Generator, JudgmentSource, Prompt, Study, User
from annotations.selectors.pseudonyms import study_rater_pseudonyms


@dataclass(frozen=True)
class JudgmentFilter:
    """Which judgments of a study an export covers; build it with judgment_filter_build.

    Raters are resolved user ids. `since` is inclusive, `until` exclusive. `max_judgment_id`
    pins an export to the judgments that existed when its summary was computed.
    """

    generators: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    rater_ids: tuple[int, ...] = ()
    exclude_rater_ids: tuple[int, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    max_judgment_id: int | None = None
    # Excluded raters' judgments (services/quality.py) are left out unless asked for.
    include_excluded: bool = False
    # An automatic judge's verdicts instead of the human judgments (import_judgments --judge):
    # the judge's account id.
    judge_id: int | None = None
    # What the caller asked for, for summaries and file names.
    described: dict[str, object] = field(default_factory=dict, compare=False)


def _parse_moment(value: str | datetime | date, *, name: str, end_of_day: bool) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time.min)
        if end_of_day:
            moment += timedelta(days=1)
    else:
        text = value.strip()
        try:
            # A bare date first: parse_datetime would also read it, as midnight.
            day = parse_date(text)
            moment = None if day else parse_datetime(text)
        except ValueError as exc:
            raise ValidationError({name: f"{value!r} is not a valid date or time: {exc}"}) from exc
        if moment is None and day is None:
            raise ValidationError(
                {
                    name: f"{value!r} is not an ISO 8601 date (2024-05-31) or time "
                    "(2024-05-31T12:00:00Z)"
                }
            )
        if moment is None:
            moment = datetime.combine(day, time.min)
            if end_of_day:
                moment += timedelta(days=1)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _given(values: Sequence[str]) -> list[str]:
    """The values given, trimmed, without blanks."""
    return [v.strip() for v in values if v and v.strip()]


def _resolve_raters(*, study: Study, values: Sequence[str], name: str) -> tuple[int, ...]:
    # Only the study's own pseudonyms resolve, and every other value gets the same message,
    # so the answer says nothing about which usernames exist.
    by_pseudonym = {p: uid for uid, p in study_rater_pseudonyms(study=study).items()}
    wanted = _given(values)
    unknown = [v for v in wanted if v not in by_pseudonym]
    if unknown:
        raise ValidationError(
            {
                name: f"unknown rater id(s) {', '.join(map(repr, unknown))}: give a "
                "pseudonymous rater id (r-...) as an export of this study shows it"
            }
        )
    return tuple(dict.fromkeys(by_pseudonym[v] for v in wanted))


def _require_in_study(
    *, study: Study, model: type[Model], column: str, values: tuple[str, ...], name: str, what: str
) -> None:
    """Refuse, under the filter's `name`, any value that no `model` row of the study has."""
    known = set(
        model.objects.filter(study=study, **{f"{column}__in": values}).values_list(
            column, flat=True
        )
    )
    missing = [v for v in values if v not in known]
    if missing:
        raise ValidationError(
            {name: f"no {what} {', '.join(map(repr, missing))} in study {study.slug!r}"}
        )


def judgment_filter_build(
    *,
    study: Study,
    generators: Sequence[str] = (),
    categories: Sequence[str] = (),
    raters: Sequence[str] = (),
    exclude_raters: Sequence[str] = (),
    since: str | datetime | date | None = None,
    until: str | datetime | date | None = None,
    include_excluded: bool = False,
    judge: str = "",
) -> JudgmentFilter:
    """Validate export filters against the study and return them resolved.

    - generators: names; a judgment matches when either side of its comparison is one of them.
    - categories: prompt categories.
    - raters / exclude_raters: each a pseudonymous rater id as exports of this study show it
      (r-...); usernames are refused like any unknown id.
    - since (inclusive) / until (exclusive): ISO 8601 dates or times, UTC when no offset is
      given; a bare date for `until` means the end of that day, so since=2024-05-01
      until=2024-05-31 covers all of May.
    - include_excluded: also the judgments of raters excluded from the study (left out by
      default).
    - judge: an automatic judge's name: its verdicts instead of the human judgments (which
      never include a judge's).

    Raises ValidationError naming the filter that is wrong.
    """
    generators = tuple(dict.fromkeys(_given(generators)))
    categories = tuple(dict.fromkeys(_given(categories)))
    for model, column, values, name, what in (
        (Generator, "name", generators, "generator", "model named"),
        (Prompt, "category", categories, "category", "prompt category"),
    ):
        if values:
            _require_in_study(
                study=study, model=model, column=column, values=values, name=name, what=what
            )
    rater_ids = _resolve_raters(study=study, values=raters, name="rater") if raters else ()
    exclude_ids = (
        _resolve_raters(study=study, values=exclude_raters, name="exclude_rater")
        if exclude_raters
        else ()
    )
    since_at = _parse_moment(since, name="since", end_of_day=False) if since else None
    until_at = _parse_moment(until, name="until", end_of_day=True) if until else None
    if since_at and until_at and since_at >= until_at:
        raise ValidationError({"until": "must be later than since"})
    described: dict[str, object] = {}
    for key, value in (
        ("generator", list(generators)),
        ("category", list(categories)),
        ("rater", _given(raters)),
        ("exclude_rater", _given(exclude_raters)),
        ("since", since_at.isoformat() if since_at else None),
        ("until", until_at.isoformat() if until_at else None),
    ):
        if value:
            described[key] = value
    if include_excluded:
        described["include_excluded"] = True
    judge_id = judge_id_find(study=study, judge=judge) if judge else None
    if judge:
        described["judge"] = judge.strip()
    return JudgmentFilter(
        generators=generators,
        categories=categories,
        rater_ids=rater_ids,
        exclude_rater_ids=exclude_ids,
        since=since_at,
        until=until_at,
        include_excluded=include_excluded,
        judge_id=judge_id,
        described=described,
    )


def study_judges(*, study: Study) -> list[str]:
    """The automatic judges with verdicts in `study`, by name."""
    names = (
        User.objects.filter(
            username__startswith=JUDGE_PREFIX,
            judgments__comparison__study=study,
            judgments__source=JudgmentSource.JUDGE,
        )
        .values_list("username", flat=True)
        .distinct()
    )
    return sorted(name.removeprefix(JUDGE_PREFIX) for name in names)


def judge_id_find(*, study: Study, judge: str) -> int:
    """The account of automatic judge `judge` in `study`; ValidationError naming the judges
    there are when it has no verdicts in the study."""
    name = judge.strip()
    user_id = (
        User.objects.filter(
            username=JUDGE_PREFIX + name,
            judgments__comparison__study=study,
            judgments__source=JudgmentSource.JUDGE,
        )
        .values_list("pk", flat=True)
        .first()
    )
    if user_id is None:
        known = study_judges(study=study)
        raise ValidationError(
            {
                "judge": f"no automatic judge {name!r} in study {study.slug!r}; "
                + (f"judges: {', '.join(known)}" if known else "it has none")
            }
        )
    return user_id


def flag_parse(value: object) -> bool:
    """A yes/no query parameter: 1, true, yes or on (any case) are yes."""
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")
