"""manage.py export: stream a study's judgments or training pairs to stdout or a file."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.errors import validation_message
from annotations.exports.registry import EXPORT_FORMATS, Export, export_open
from annotations.management.options import study_option_add, study_option_get
from annotations.selectors.judgment_filters import judgment_filter_build


def _write_atomically(path: Path, chunks: Any) -> int:
    """Write chunks to a temporary file beside `path`, then rename it into place, so a failed
    export never leaves a partial file. Returns the number of bytes written."""
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, renamed on success
        dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False
    )
    written = 0
    try:
        with handle:
            for chunk in chunks:
                handle.write(chunk)
                written += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return written


class Command(BaseCommand):
    # The system checks import every URL's view, and with them the statistics stack: ~80 MB
    # and ~1 s before the first byte, for nothing an export uses.
    requires_system_checks: list[str] = []
    help = (
        "Export a study: judgments (CSV or JSONL, one row per judgment) or majority-vote "
        "training pairs (dpo, hh-rlhf). Writes to stdout unless --output is given; training-pair "
        "exports print how many comparisons were kept and dropped to stderr."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        study_option_add(parser=parser)
        parser.add_argument("--format", required=True, help=f"one of: {', '.join(EXPORT_FORMATS)}")
        parser.add_argument(
            "--output",
            help="file to write (atomically); with training pairs also FILE.summary.json",
        )
        for flag, help_text in (
            ("--generator", "only comparisons involving this model (repeatable)"),
            ("--category", "only this prompt category (repeatable)"),
            (
                "--rater",
                "only this rater: the pseudonymous id exports show, r-... (repeatable)",
            ),
            ("--exclude-rater", "leave this rater out, by pseudonymous id (r-...) (repeatable)"),
        ):
            parser.add_argument(flag, action="append", default=[], help=help_text)
        parser.add_argument("--since", help="judgments at or after this ISO 8601 date/time (UTC)")
        parser.add_argument(
            "--until", help="judgments before this date/time; a bare date includes that day"
        )
        parser.add_argument(
            "--judge",
            metavar="NAME",
            default="",
            help="automatic judge NAME's verdicts instead of the human judgments",
        )
        parser.add_argument(
            "--include-excluded",
            action="store_true",
            help="also the judgments of raters excluded from the study (left out by default)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        study = study_option_get(options=options)
        try:
            filters = judgment_filter_build(
                study=study,
                generators=options["generator"],
                categories=options["category"],
                raters=options["rater"],
                exclude_raters=options["exclude_rater"],
                since=options["since"],
                until=options["until"],
                include_excluded=options["include_excluded"],
                judge=options["judge"],
            )
            export = export_open(study=study, format_name=options["format"], filters=filters)
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc

        if options["output"]:
            self._to_file(export, Path(options["output"]))
        else:
            self._to_stdout(export)
        if export.summary is not None:
            self._report(export.summary)

    def _to_file(self, export: Export, path: Path) -> None:
        if not path.parent.is_dir():
            raise CommandError(f"cannot write {path}: folder {path.parent} does not exist")
        try:
            written = _write_atomically(path, export.chunks)
            if export.summary is not None:
                summary = json.dumps(export.summary, indent=2).encode() + b"\n"
                _write_atomically(Path(f"{path}.summary.json"), [summary])
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc}") from exc
        self.stderr.write(f"Wrote {written} bytes to {path}.")

    def _to_stdout(self, export: Export) -> None:
        stream = self.stdout._out
        binary: BinaryIO | None = getattr(stream, "buffer", None)
        if binary is None and stream is sys.stdout:
            binary = sys.stdout.buffer
        if binary is not None:
            stream.flush()
            for chunk in export.chunks:
                binary.write(chunk)
            binary.flush()
        else:
            # A text stream (call_command with stdout=StringIO).
            for chunk in export.chunks:
                stream.write(chunk.decode())

    def _report(self, summary: dict[str, Any]) -> None:
        dropped = summary["dropped"]
        self.stderr.write(
            f"{summary['format']}: kept {summary['kept']} of {summary['comparisons']} "
            f"comparisons; dropped {dropped['tie']} tie, {dropped['split']} split, "
            f"{dropped['both_bad']} both bad."
        )
