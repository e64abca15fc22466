"""manage.py import_judgments: import judgments made elsewhere into a study."""

from __future__ import annotations

from annotations.management.loading import LoadCommand
from annotations.services.loading import judgments_import


class Command(LoadCommand):
    help = (
        "Import judgments (CSV or JSONL: key, left, right, winner, rater, optional created_at, "
        "rationale, strength) into a study whose prompts and outputs are loaded. Importing the "
        "same file again adds nothing."
    )
    file_help = "a .csv or .jsonl file"
    load = staticmethod(judgments_import)
