"""manage.py raters: a study's roster with each rater's quality signals and flags."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.exports.roster import roster_csv, roster_json, roster_table
from annotations.management.options import study_option_add, study_option_get


class Command(BaseCommand):
    help = (
        "Print a study's raters: judged, agreement, position bias, speed, streaks, the outlier "
        "e-value and who is flagged and why (README: Rater quality)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        study_option_add(parser=parser)
        parser.add_argument(
            "--format",
            default="table",
            choices=["table", "json", "csv"],
            help="table (default), json (every field of every row) or csv (as raters-csv)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        study = study_option_get(options=options)
        try:
            if options["format"] == "json":
                self.stdout.write(roster_json(study=study), ending="")
            elif options["format"] == "csv":
                for line in roster_csv(study=study):
                    self.stdout.write(line, ending="")
            else:
                self.stdout.write(roster_table(study=study), ending="")
        except ValueError as exc:  # a bad quality_thresholds override on the study
            raise CommandError(str(exc)) from exc
