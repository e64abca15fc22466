"""manage.py create_study: create or update a study and its baseline."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.errors import validation_message
from annotations.models import Access, Criterion, Flag, Pairing, RationaleMode, Sampling, Scale
from annotations.services.studies import study_create_or_update


def _csv_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class Command(BaseCommand):
    help = "Create a study (or update its settings)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="URL name of the study, e.g. llmfao")
        parser.add_argument("--baseline", required=True, help="name of the baseline model")
        parser.add_argument("--name", help="human-readable title")
        parser.add_argument("--description")
        parser.add_argument("--instructions-file", help="Markdown file of rater instructions")
        parser.add_argument("--pairing", choices=Pairing.values)
        parser.add_argument("--scale", choices=Scale.values)
        parser.add_argument("--overlap", type=int, help="distinct raters per comparison (k)")
        parser.add_argument("--lease-minutes", type=int, help="how long a rater holds a pair")
        parser.add_argument(
            "--both-bad",
            dest="allow_both_bad",
            action="store_true",
            default=None,
            help="offer a 'both are bad' answer (default on)",
        )
        parser.add_argument(
            "--no-both-bad", dest="allow_both_bad", action="store_false", default=None
        )
        parser.add_argument(
            "--criteria",
            type=_csv_list,
            help=f"comma-separated, from {','.join(Criterion.values)}; '' for none",
        )
        parser.add_argument(
            "--flags",
            help="'instructgpt' for InstructGPT's per-output metadata list, a comma-separated "
            f"subset of {','.join(Flag.values)}, or '' for none",
        )
        parser.add_argument("--rationale", choices=RationaleMode.values)
        parser.add_argument(
            "--closed",
            dest="is_open",
            action="store_false",
            default=None,
            help="close the study to raters",
        )
        parser.add_argument("--open", dest="is_open", action="store_true", default=None)
        parser.add_argument(
            "--access",
            choices=Access.values,
            help="who may judge: every rater (open, the default) or only members (invite)",
        )
        parser.add_argument(
            "--quota", type=int, help="most judgments one rater makes (default no cap; 0 lifts it)"
        )
        parser.add_argument("--completion-code", help="code shown to a rater who completes")
        parser.add_argument(
            "--min-seconds",
            type=int,
            help="a judgment faster than this is too fast (rater quality; default 3, 0 off)",
        )
        parser.add_argument(
            "--completion-url", help="where a rater who completes goes; {code} is filled in"
        )
        collection = parser.add_argument_group("collection with a target precision")
        collection.add_argument(
            "--target-half-width",
            type=float,
            metavar="H",
            help="stop collecting for a candidate once its anytime-valid 95%% interval has "
            "half-width H or less, e.g. 0.05 (0 lifts the target)",
        )
        collection.add_argument(
            "--stop-on-decision",
            dest="stop_on_decision",
            action="store_true",
            default=None,
            help="also stop once a candidate's interval excludes 50%%",
        )
        collection.add_argument(
            "--no-stop-on-decision", dest="stop_on_decision", action="store_false", default=None
        )
        collection.add_argument(
            "--sampling",
            choices=Sampling.values,
            help="with a target: uniform (default: every candidate evenly until all have "
            "stopped) or adaptive (each candidate until it stops, the furthest from its "
            "rule first)",
        )
        control = parser.add_argument_group("rater quality control")
        control.add_argument(
            "--gold-rate",
            type=float,
            help="share of served items that are gold pairs (default 0.1 once gold is loaded)",
        )
        control.add_argument(
            "--repeat-rate",
            type=float,
            help="share of served items that repeat an earlier pair, swapped (default 0)",
        )
        control.add_argument(
            "--qualification",
            type=int,
            metavar="N",
            help="gold items a new rater answers before the regular ones (default 0: none)",
        )
        control.add_argument(
            "--qualification-pass",
            type=float,
            metavar="P",
            help="share of the qualification items to answer right (default 0.8)",
        )
        control.add_argument(
            "--qualification-retry",
            dest="qualification_retry",
            action="store_true",
            default=None,
            help="a rater who fails the qualification may try once more",
        )
        control.add_argument(
            "--no-qualification-retry",
            dest="qualification_retry",
            action="store_false",
            default=None,
        )
        control.add_argument("--screenout-code", help="code shown to a screened-out rater")
        control.add_argument(
            "--screenout-url", help="where a screened-out rater goes; {code} is filled in"
        )
        control.add_argument(
            "--gold-min-accuracy",
            type=float,
            help="pause a rater whose gold accuracy falls below this (default 0.5; 0 never)",
        )
        control.add_argument(
            "--gold-min-n",
            type=int,
            help="gold answers before a rater can be paused or flagged (default 8)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        flags = options["flags"]
        if flags is not None:
            flags = list(Flag.values) if flags.strip() == "instructgpt" else _csv_list(flags)
        instructions = None
        if options["instructions_file"]:
            try:
                with open(options["instructions_file"], encoding="utf-8") as handle:
                    instructions = handle.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"cannot read instructions file: {exc}") from exc
        try:
            result = study_create_or_update(
                slug=options["slug"],
                baseline=options["baseline"],
                name=options["name"],
                description=options["description"],
                instructions=instructions,
                pairing=options["pairing"],
                scale=options["scale"],
                overlap=options["overlap"],
                lease_minutes=options["lease_minutes"],
                allow_both_bad=options["allow_both_bad"],
                criteria=options["criteria"],
                flags=flags,
                rationale=options["rationale"],
                is_open=options["is_open"],
                access=options["access"],
                quota=options["quota"],
                completion_code=options["completion_code"],
                completion_url=options["completion_url"],
                min_seconds=options["min_seconds"],
                gold_rate=options["gold_rate"],
                repeat_rate=options["repeat_rate"],
                qualification=options["qualification"],
                qualification_pass=options["qualification_pass"],
                qualification_retry=options["qualification_retry"],
                screenout_code=options["screenout_code"],
                screenout_url=options["screenout_url"],
                gold_min_accuracy=options["gold_min_accuracy"],
                gold_min_n=options["gold_min_n"],
                target_half_width=options["target_half_width"],
                stop_on_decision=options["stop_on_decision"],
                sampling=options["sampling"],
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        study = result.study
        if result.created:
            summary = (
                f"Created study {study.slug!r} (baseline {study.baseline.name!r}, "
                f"{study.pairing}, {study.scale}, overlap {study.overlap})."
            )
        elif result.changed:
            summary = f"Updated study {study.slug!r}: {', '.join(result.changed)}."
        else:
            summary = f"Study {study.slug!r} already up to date."
        self.stdout.write(summary)
