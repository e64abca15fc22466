"""manage.py results: a study's win rates against the baseline, ratings and diagnostics."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.analysis.cache import study_results
from annotations.analysis.options import (
    BT_CI_METHODS,
    DEFAULT_BT_CI,
    FILTERS,
    MAX_RESAMPLES,
    METHODS,
    MIN_RESAMPLES,
)
from annotations.errors import validation_message
from annotations.exports.results import results_csv, results_json
from annotations.management.options import study_option_add, study_option_get
from annotations.models import JudgmentSource
from annotations.stats import DEFAULT_RESAMPLES


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def results_table(results: dict[str, Any]) -> str:
    """The results as text for a terminal."""
    level = round(100 * results["confidence"])
    out = [
        f"Study {results['study']}: win rate against {results['baseline']}",
        f"{results['n_judgments']:,} judgments, {results['n_judgments_vs_baseline']:,} against "
        f"the baseline. Ties and both-bad count half.",
        f"{level}% CI: {results['method_description']}"
        + (
            f", {results['resamples']:,} resamples, seed {results['seed']}"
            if results["resamples"]
            else ""
        )
        + ".",
        "",
    ]
    stated = [f"{k} {v}" for k, v in results.get("filters", {}).items() if v is not None]
    if stated:
        out += [f"Filters: {'; '.join(stated)}.", ""]
    if results["note"]:
        out += [results["note"], ""]
    rows = [
        [
            g["name"],
            str(g["n"]),
            f"{g['wins']}/{g['ties']}/{g['losses']}",
            _pct(g["win_rate"]),
            f"{_pct(g['ci_low'])} - {_pct(g['ci_high'])}",
            _p(g["p_value"]),
            _pct(g["win_rate_no_ties"]),
            _pct(g.get("lc_win_rate")),
            f"{_pct(g.get('lc_ci_low'))} - {_pct(g.get('lc_ci_high'))}",
        ]
        for g in results["generators"]
    ]
    headers = ["Model", "n", "W/T/L", "Win rate", f"{level}% CI", "p (vs 50%)", "W/(W+L)"]
    out += _table([*headers, "LC", f"LC {level}% CI"], rows, {1, 2, 3, 4, 5, 6, 7, 8})
    if results["generators"] and "length_controlled_method" in results:
        out += [
            "LC: length-controlled win rate, predicted at equal length in words "
            "(AlpacaEval 2.0's model, one length coefficient for all models)."
        ]
    if results["bradley_terry"]:
        info = results["bradley_terry_method"]
        out += [
            "",
            f"Bradley-Terry ratings (Elo scale, {results['baseline']} = 1000), from all "
            f"{info['n_judgments']:,} judgments; {level}% CI by {info['ci_description']}"
            + (f", {info['n_resamples']:,} resamples." if info["n_resamples"] else "."),
            "",
        ]
        bt_rows = [
            [
                str(i + 1),
                r["name"],
                "-" if r["rating"] is None else f"{r['rating']:.0f}",
                "-" if r["ci_low"] is None else f"{r['ci_low']:.0f} - {r['ci_high']:.0f}",
                str(r["n"]),
            ]
            for i, r in enumerate(results["bradley_terry"])
        ]
        out += _table(["#", "Model", "Rating", f"{level}% CI", "n"], bt_rows, {0, 2, 3, 4})
    agreement = results["agreement"]
    bias = results["position_bias"]
    out += [
        "",
        f"Agreement over {agreement['n_comparisons']:,} comparisons with 2+ judgments: "
        f"{_pct(agreement['pairwise_agreement'])} of {agreement['n_pairs']:,} rating pairs agree "
        f"(without ties {_pct(agreement['pairwise_agreement_without_ties'])} of "
        f"{agreement['n_pairs_without_ties']:,}); Krippendorff's alpha (ordinal) "
        + (
            "-"
            if agreement["krippendorff_alpha_ordinal"] is None
            else f"{agreement['krippendorff_alpha_ordinal']:.3f}"
        )
        + ".",
        f"Position bias: {_pct(bias['share_left'])} of {bias['n']:,} non-tie judgments chose the "
        f"left output (exact binomial test against 50%: p = {_p(bias['p_value'])}).",
    ]
    length = results.get("length_bias") or {}
    if length.get("n"):
        out.append(
            f"Length bias: the longer output won {_pct(length['share_longer_won'])} of "
            f"{length['n']:,} non-tie judgments (exact binomial test against 50%: "
            f"p = {_p(length['p_value'])})."
        )
    coefficients = results.get("style_coefficients") or {}
    if any(v is not None for v in coefficients.values()):
        out.append(
            "Style coefficients (logit per sd of the normalised difference): "
            + ", ".join(f"{k} {v:+.2f}" for k, v in coefficients.items() if v is not None)
            + "."
        )
    return "\n".join(out) + "\n"


class Command(BaseCommand):
    help = (
        "Print a study's results: win rate of every model against the baseline with confidence "
        "intervals, Bradley-Terry ratings, agreement and position bias."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        study_option_add(parser=parser)
        parser.add_argument("--baseline", help="model to compare against (default: the study's)")
        parser.add_argument(
            "--method", default="bootstrap", help=f"CI method: {', '.join(METHODS)}"
        )
        parser.add_argument(
            "--resamples",
            default=str(DEFAULT_RESAMPLES),
            help=f"bootstrap resamples ({MIN_RESAMPLES}-{MAX_RESAMPLES})",
        )
        parser.add_argument("--seed", default="0", help="bootstrap seed")
        parser.add_argument(
            "--bt-ci",
            default=DEFAULT_BT_CI,
            help=f"Bradley-Terry CI: {', '.join(BT_CI_METHODS)} (default {DEFAULT_BT_CI})",
        )
        parser.add_argument("--category", help='only prompts of this category ("(none)": none)')
        parser.add_argument(
            "--since", help="only judgments made at or after: YYYY-MM-DD or an ISO 8601 time"
        )
        parser.add_argument(
            "--until", help="only judgments made at or before: YYYY-MM-DD (through that day)"
        )
        parser.add_argument(
            "--source", help=f"only judgments from: {', '.join(JudgmentSource.values)}"
        )
        parser.add_argument(
            "--criterion", help="this criterion's verdict instead (judgments without it left out)"
        )
        parser.add_argument(
            "--format",
            default="table",
            choices=["table", "json", "csv"],
            help="table (default), json (the whole results object) or csv (win-rate table)",
        )

        parser.add_argument(
            "--include-excluded",
            action="store_true",
            default=None,
            help="also the judgments of raters excluded from the study (left out by default)",
        )
        parser.add_argument(
            "--judge",
            metavar="NAME",
            help="automatic judge NAME's verdicts instead of the human judgments",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        study = study_option_get(options=options)
        try:
            results = study_results(
                study=study,
                baseline=options["baseline"],
                method=options["method"],
                resamples=options["resamples"],
                seed=options["seed"],
                bt_ci=options["bt_ci"],
                **{name: options[name] for name in FILTERS},
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        if options["format"] == "json":
            self.stdout.write(results_json(results=results).decode(), ending="")
        elif options["format"] == "csv":
            self.stdout.write(results_csv(results=results), ending="")
        else:
            self.stdout.write(results_table(results), ending="")
        if results["note"] and options["format"] != "table":
            self.stderr.write(results["note"])
