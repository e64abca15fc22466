"""manage.py import_judgments: import judgments made elsewhere into a study."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from annotations.management.loading import LoadCommand
from annotations.services.loading import judgments_import


class Command(LoadCommand):
    help = (
        "Import judgments (CSV or JSONL: key, left, right, winner, rater, optional created_at, "
        "rationale, strength) into a study whose prompts and outputs are loaded. Importing the "
        "same file again adds nothing. With --judge NAME the verdicts are an automatic judge's "
        "(no rater column needed): kept out of the human results and exports and never counted "
        "toward k, and compared with the human raters in the results."
    )
    file_help = "a .csv or .jsonl file"
    load = staticmethod(judgments_import)

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--judge",
            metavar="NAME",
            default="",
            help="the verdicts are automatic judge NAME's (an LLM), e.g. gpt-4o-2024-08-06",
        )

    def service_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"judge": options["judge"]} if options["judge"] else {}
