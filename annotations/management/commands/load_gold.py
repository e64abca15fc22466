"""manage.py load_gold: load gold pairs (control items with a known answer) into a study."""

from __future__ import annotations

from annotations.management.loading import LoadCommand
from annotations.services.loading.gold import gold_load


class Command(LoadCommand):
    help = (
        "Load gold pairs (JSONL or CSV) into a study, one per row: key, better, worse (a "
        "loaded prompt and two of its models' outputs, the better first) or key, prompt, "
        "better_output, worse_output (an attention check with texts of its own). Loading the "
        "same file again adds nothing."
    )
    file_help = "a .jsonl or .csv file"
    load = staticmethod(gold_load)
