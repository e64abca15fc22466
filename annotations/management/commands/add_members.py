"""manage.py add_members: add the raters of a CSV file to a study and print set-password links."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.errors import validation_message
from annotations.management.options import study_option_add, study_option_get
from annotations.services.access import members_import


class Command(BaseCommand):
    help = (
        "Add raters to a study's members from a CSV of username[,email] rows (a header row "
        "'username,email' is allowed). Missing accounts are made; each rater without a password "
        "gets a one-time link to set one, printed here."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV file of username[,email] rows")
        study_option_add(parser=parser)
        parser.add_argument("--base-url", help="the site's address (default $DJANGO_BASE_URL)")

    def handle(self, *args: Any, **options: Any) -> None:
        study = study_option_get(options=options)
        try:
            data = Path(options["file"]).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc}") from exc
        try:
            rows = members_import(study=study, data=data, base_url=options["base_url"])
        except (ValidationError, UnicodeDecodeError) as exc:
            message = validation_message(exc) if isinstance(exc, ValidationError) else str(exc)
            raise CommandError(message) from exc
        for row in rows:
            if row.link:
                self.stdout.write(f"{row.username}\t{row.link}")
        made = sum(row.created for row in rows)
        self.stdout.write(
            f"Added {len(rows)} members to {study.slug!r} ({made} new accounts); "
            f"{sum(bool(row.link) for row in rows)} set-password links above."
        )
