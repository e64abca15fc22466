"""manage.py plan: prompts and judgments a study needs for a target precision, fixed-n and under
the anytime-valid stopping rule, optionally from a pilot study's win rate and ICC."""

from __future__ import annotations

import json
import math
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.analysis.planning import study_plan
from annotations.errors import validation_message
from annotations.management.options import study_option_get


def _points(value: float) -> str:
    return f"+-{100 * value:.1f} points"


def _about(value: float) -> str:
    return f"{math.ceil(value - 1e-9):,}"


def plan_text(plan: dict[str, Any]) -> str:
    """The plan as text for a terminal."""
    sources, k = plan["sources"], plan["raters_per_comparison"]
    icc_note = {
        "given": "given",
        "pilot": "from the pilot",
        "assumed": "assumed: judgments on one prompt independent; give --icc or --from-study",
    }[sources["icc"]]
    out = [
        f"Plan: win rate {100 * plan['win_rate']:.1f}%"
        + (" (from the pilot)" if sources["win_rate"] == "pilot" else "")
        + f", {round(100 * plan['confidence'])}% interval within {_points(plan['half_width'])}, "
        + f"{k} judgment{'s' if k != 1 else ''} per comparison"
        + (" (the pilot's k)" if sources["raters_per_comparison"] == "study" else "")
        + ".",
        f"Intra-prompt correlation (ICC) {plan['icc']:.3f} ({icc_note}),",
        f"design effect 1 + (k - 1) ICC = {plan['design_effect']:.3f}.",
    ]
    pilot = plan["pilot"]
    if pilot is not None:
        out.append(
            f"Pilot {pilot['study']}: {pilot['judgments']:,} judgments against the baseline, "
            f"{pilot['comparisons']:,} comparisons ({pilot['comparisons_with_2_or_more']:,} "
            f"with 2+ judgments), {pilot['candidates']} candidate model(s)."
        )
    fixed = plan["fixed"]
    anytime, deciding = plan["anytime"], plan["anytime_stop_on_decision"]
    rows = [
        ("Fixed-n design, one look at the end", f"{fixed['prompts']:,}", f"{fixed['judgments']:,}"),
        (
            f"Anytime-valid, stop once within {_points(plan['half_width'])}",
            f"~{_about(anytime['prompts_mean'])}",
            f"~{_about(anytime['judgments_mean'])}",
        ),
        (
            "  or once the interval excludes 50%",
            f"~{_about(deciding['prompts_mean'])}",
            f"~{_about(deciding['judgments_mean'])}",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    out += [
        "",
        "Per candidate model (a prompt is one comparison with the baseline):",
        f"{'':<{width}}  {'prompts':>8}  {'judgments':>9}",
        *(f"{label:<{width}}  {prompts:>8}  {judgments:>9}" for label, prompts, judgments in rows),
        "",
        f"Fixed-n: {fixed['judgments_if_independent']:,} judgments if all were independent; "
        "the design effect prices k judgments per prompt.",
        "Anytime-valid: the betting confidence sequence, looked at after every completed",
        f"comparison; means of {anytime['runs']} simulated runs (seed {anytime['seed']}) at this "
        f"win rate and ICC, no ties (median {anytime['prompts_median']:,} prompts, 90% of runs "
        f"by {anytime['prompts_p90']:,}).",
    ]
    if anytime["reached"] < 1.0:
        out.append(
            f"{100 * (1 - anytime['reached']):.0f}% of runs had not stopped after "
            f"{anytime['horizon']:,} prompts and count at that number."
        )
    return "\n".join(out) + "\n"


class Command(BaseCommand):
    help = (
        "Plan a study: prompts and judgments needed for a win rate within +-H, for a fixed-n "
        "design (with the design effect of prompt clustering) and under the anytime-valid "
        "stopping rule (README: Planning a study and anytime-valid intervals)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--win-rate", help="expected win rate P, in (0, 1)")
        parser.add_argument(
            "--half-width", required=True, help="target half-width H of the 95%% interval"
        )
        parser.add_argument(
            "--raters-per-comparison",
            help="judgments per comparison k (default: the pilot study's, else 1)",
        )
        parser.add_argument(
            "--icc", help="intra-prompt correlation in [0, 1] (default: the pilot's, else 0)"
        )
        parser.add_argument(
            "--from-study", help="slug of a pilot study to estimate the ICC (and win rate) from"
        )
        parser.add_argument(
            "--format", default="table", choices=["table", "json"], help="table or json"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        pilot = None
        if options["from_study"] is not None:
            pilot = study_option_get(options={"study": options["from_study"]})
        try:
            plan = study_plan(
                win_rate=options["win_rate"],
                half_width=options["half_width"],
                raters_per_comparison=options["raters_per_comparison"],
                icc=options["icc"],
                pilot_study=pilot,
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        if options["format"] == "json":
            self.stdout.write(json.dumps(plan, indent=2) + "\n", ending="")
        else:
            self.stdout.write(plan_text(plan), ending="")
