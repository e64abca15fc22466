"""manage.py add_user: create or update a user of a role and print their API token."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.errors import validation_message
from annotations.management.options import study_option_get
from annotations.models import Role
from annotations.services.access import membership_add
from annotations.services.users import user_create_or_update


class Command(BaseCommand):
    help = "Create a user (or update their role and password) and print their API token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--password", help="without it, a new user can only use the token")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--study",
            action="append",
            default=[],
            help="make the user a member of this study (repeatable)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        studies = [study_option_get(options={"study": slug}) for slug in options["study"]]
        try:
            result = user_create_or_update(
                username=options["username"],
                role=options["role"],
                password=options["password"],
                email=options["email"],
            )
            for study in studies:
                membership_add(study=study, user=result.user)
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        verb = "Created" if result.created else "Updated"
        self.stdout.write(
            f"{verb} {result.user.role} {result.user.username!r}; API token: {result.token}"
            + "".join(f"; member of {study.slug!r}" for study in studies)
        )
