"""What exclude_rater, include_rater, pause_rater and resume_rater share: the rater argument,
its lookup (pseudonymous id or username), the reason, and the one-line answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.errors import validation_message
from annotations.management.options import study_option_add, study_option_get
from annotations.models import Study, User
from annotations.selectors.roster import roster_rater_find
from annotations.services.quality import COMMAND_LINE


def rater_of(*, study: Study, rater: str) -> User:
    """The rater a command names: a roster's pseudonymous id (r-...) or a username."""
    user_id = roster_rater_find(study=study, rater=rater)
    user = (
        User.objects.filter(pk=user_id).first()
        if user_id is not None
        else User.objects.filter(username=rater).first()
    )
    if user is None:
        raise CommandError(
            f"no rater {rater!r} in study {study.slug!r}; give the id the raters command shows "
            "(r-...) or a username"
        )
    return user


class RaterActionCommand(BaseCommand):
    """A command that runs one action of services/quality.py on RATER --study SLUG."""

    action: Callable[..., bool]
    done: str = "done"
    unchanged: str = "nothing to do"
    reason_required = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "rater", help="the rater's id as the raters command shows it, or a username"
        )
        study_option_add(parser=parser)
        parser.add_argument(
            "--reason",
            required=self.reason_required,
            default="",
            help="why (recorded with the action, who and when)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        study = study_option_get(options=options)
        user = rater_of(study=study, rater=options["rater"])
        try:
            changed = type(self).action(
                study=study, rater=user, reason=options["reason"], by=None, via=COMMAND_LINE
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        self.stdout.write(
            f"{options['rater']} in {study.slug}: {self.done if changed else self.unchanged}"
        )
