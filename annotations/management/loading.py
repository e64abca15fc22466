"""What load_prompts and import_judgments share: arguments, the study, the progress bar, errors."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.management.options import study_option_add
from annotations.models import Study
from annotations.services.loading import LoadError
from annotations.services.loading.reading import Progress


def study_or_error(slug: str) -> Study:
    study = Study.objects.filter(slug=slug).first()
    if study is None:
        raise CommandError(
            f"no study '{slug}'; create it first with: "
            f"manage.py create_study {slug} --baseline NAME"
        )
    return study


def readable_file(path: str) -> str:
    if not os.path.isfile(path):
        raise CommandError(f"no such file: {path}")
    if not os.access(path, os.R_OK):
        raise CommandError(f"cannot read {path}: permission denied")
    return path


@contextmanager
def terminal_progress(stream: Any = None) -> Iterator[Progress | None]:
    """A tqdm bar per phase on stderr when stderr is a terminal; None (no bar) otherwise."""
    stream = stream or sys.stderr
    if not (hasattr(stream, "isatty") and stream.isatty()):
        yield None
        return
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def progress(phase: str, done: int, total: int) -> None:
        bar = bars.get(phase)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[phase] = tqdm(
                total=total, desc=phase, unit="B", unit_scale=True, file=stream, leave=False
            )
        bar.update(done - bar.n)

    try:
        yield progress
    finally:
        for bar in bars.values():
            bar.close()


def run(load: Callable[..., Any], *, path: str, slug: str, **extra: Any) -> str:
    """Run a loading service on a file (with the service's `extra` options); return its
    one-line summary or raise CommandError."""
    study = study_or_error(slug)
    readable_file(path)
    with terminal_progress() as progress:
        try:
            summary = load(
                study=study, file=path, filename=os.path.basename(path), progress=progress, **extra
            )
        except LoadError as exc:
            raise CommandError(exc.render()) from exc
        except ValueError as exc:  # a bad option of the service
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return str(summary)


class LoadCommand(BaseCommand):
    """A command that runs one loading service on FILE --study SLUG and prints its summary."""

    file_help = "a .jsonl or .csv file"

    @staticmethod
    def load(**kwargs: Any) -> Any:
        raise NotImplementedError

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help=self.file_help)
        study_option_add(parser=parser)

    def service_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """The service's own options from the command line (none by default)."""
        return {}

    def handle(self, *args: Any, **options: Any) -> None:
        summary = run(
            type(self).load,
            path=options["file"],
            slug=options["study"],
            **self.service_options(options),
        )
        self.stdout.write(summary)
