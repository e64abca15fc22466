"""manage.py invite: make an invite link to a study and print it on the last line."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.errors import validation_message
from annotations.management.options import study_option_add, study_option_get
from annotations.services.access import invite_base_url, invite_create, invite_url


class Command(BaseCommand):
    help = (
        "Make an invite link to a study: opening it signs a rater up (or, with a crowd "
        "platform's URL parameters, in) as a member. The link is printed on the last line; "
        "only its hash is stored, so it cannot be shown again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        study_option_add(parser=parser)
        parser.add_argument("--uses", type=int, help="how many people may join (default: any)")
        parser.add_argument("--days", type=float, help="days until it expires (default: never)")
        parser.add_argument(
            "--base-url",
            help=f"the site's address (default $DJANGO_BASE_URL, else {invite_base_url()})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        study = study_option_get(options=options)
        try:
            invite, token = invite_create(study=study, uses=options["uses"], days=options["days"])
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        uses = "any number of uses" if invite.uses_left is None else f"{invite.uses_left} uses"
        expiry = (
            "no expiry"
            if invite.expires_at is None
            else f"expires {invite.expires_at:%Y-%m-%d %H:%M} UTC"
        )
        self.stdout.write(
            f"Invite link to {study.slug!r} ({study.access} study; {uses}, {expiry}):"
        )
        self.stdout.write(invite_url(token=token, base_url=options["base_url"]))
