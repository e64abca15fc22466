"""manage.py import_judgments: import judgments made elsewhere into a study."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from annotations.management.loading import run
from annotations.services.loading import judgments_import


class Command(BaseCommand):
    help = (
        "Import judgments (CSV or JSONL: key, left, right, winner, rater, optional created_at, "
        "rationale, strength) into a study whose prompts and outputs are loaded. Importing the "
        "same file again adds nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="a .csv or .jsonl file")
        parser.add_argument("--study", required=True, help="slug of the study")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(run(judgments_import, path=options["file"], slug=options["study"]))
