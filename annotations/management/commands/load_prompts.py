"""manage.py load_prompts: load a prompt set with model outputs into a study."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from annotations.management.loading import run
from annotations.services.loading import prompt_set_load


class Command(BaseCommand):
    help = (
        "Load a prompt set with model outputs (JSONL, nested or flat, or CSV) into a study and "
        "create the comparisons its pairing calls for. Loading the same file again adds nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="a .jsonl or .csv file")
        parser.add_argument("--study", required=True, help="slug of the study")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(run(prompt_set_load, path=options["file"], slug=options["study"]))
