"""manage.py load_prompts: load a prompt set with model outputs into a study."""

from __future__ import annotations

from annotations.management.loading import LoadCommand
from annotations.services.loading import prompt_set_load


class Command(LoadCommand):
    help = (
        "Load a prompt set with model outputs (JSONL, nested or flat, or CSV) into a study and "
        "create the comparisons its pairing calls for. Loading the same file again adds nothing."
    )
    load = staticmethod(prompt_set_load)
