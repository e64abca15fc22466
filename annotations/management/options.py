"""Command-line options that several management commands share: the study a command works on."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from annotations.models import Study


def study_option_add(*, parser: CommandParser) -> None:
    """Add the required --study SLUG option."""
    parser.add_argument("--study", required=True, help="slug of the study")


def study_option_get(*, options: dict[str, Any]) -> Study:
    """The study named by --study; CommandError when there is none."""
    study = Study.objects.filter(slug=options["study"]).first()
    if study is None:
        raise CommandError(f"no study with slug {options['study']!r}")
    return study
