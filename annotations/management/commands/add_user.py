"""manage.py add_user: create or update a user of a role and print their API token."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.errors import validation_message
from annotations.models import Role
from annotations.services.users import user_create_or_update


class Command(BaseCommand):
    help = "Create a user (or update their role and password) and print their API token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--password", help="without it, a new user can only use the token")
        parser.add_argument("--email", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = user_create_or_update(
                username=options["username"],
                role=options["role"],
                password=options["password"],
                email=options["email"],
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        verb = "Created" if result.created else "Updated"
        self.stdout.write(
            f"{verb} {result.user.role} {result.user.username!r}; API token: {result.token}"
        )
