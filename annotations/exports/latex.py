"""The results as LaTeX booktabs tables (`results-latex`): win rates, then Bradley-Terry.

Model names are anyone's text: latex_escape() turns every character LaTeX gives a meaning to
into its literal form, so a name can neither break the table nor run a command (\\input,
\\write18). The file needs only `\\usepackage{booktabs}`.
"""

from __future__ import annotations

from typing import Any

# Characters with a meaning in LaTeX text, as their literal forms. Brackets are braced so a
# name at the start of a row is never read as the optional argument of the \\ before it.
_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "[": "{[}",
    "]": "{]}",
}
MISSING = "--"
FEW_DATA = r"\textsuperscript{\dag}"
DEGENERATE = r"\textsuperscript{\ddag}"


def latex_escape(text: object) -> str:
    """`text` as literal LaTeX text: specials escaped, control characters (newlines
    included, which would end a table row or a paragraph) as spaces."""
    out = []
    for char in str(text):
        if char in _LATEX:
            out.append(_LATEX[char])
        elif ord(char) < 32 or ord(char) == 127:
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def _pct(value: float | None) -> str:
    return MISSING if value is None else f"{100 * value:.1f}\\%"


def _interval(low: float | None, high: float | None, *, percent: bool) -> str:
    if low is None or high is None:
        return MISSING
    if percent:
        return f"{100 * low:.1f}--{100 * high:.1f}\\%"
    return f"{low:.0f}--{high:.0f}"


def _p(value: float | None) -> str:
    if value is None:
        return MISSING
    return "$<$0.001" if value < 0.001 else f"{value:.3f}"


def _label(results: dict[str, Any], what: str) -> str:
    slug = "".join(c if c.isalnum() or c == "-" else "-" for c in str(results.get("study", "")))
    return f"tab:{slug}-{what}"


def _win_rate_table(results: dict[str, Any]) -> list[str]:
    rows = [g for g in results.get("generators") or [] if g.get("win_rate") is not None]
    has_lc = any("lc_win_rate" in g for g in rows)
    level = round(100 * float(results.get("confidence", 0.95)))
    method = latex_escape(results.get("method_description") or results.get("method", ""))
    resamples = results.get("resamples")
    extra = f", {resamples:,} resamples, seed {results.get('seed', 0)}" if resamples else ""
    caption = (
        f"Win rate against {latex_escape(results.get('baseline', ''))} (ties count half), "
        f"with {level}\\% confidence intervals ({method}{extra}). $n$: judgments against the "
        r"baseline; $p_{\mathrm{Holm}}$: Holm-adjusted p-value of a 50\% win rate."
    )
    if any(g.get("reliable") is False for g in rows):
        caption += f" {FEW_DATA}Few data: the interval is not reliable."
    if any(g.get("ci_low") is not None and g["ci_low"] == g.get("ci_high") for g in rows):
        caption += f" {DEGENERATE}Degenerate interval (no width), not certainty."
    head = ["Model", "$n$", "W / T / L", "Win rate", f"{level}\\% CI", r"$p_{\mathrm{Holm}}$"]
    if has_lc:
        head += ["LC win rate", f"LC {level}\\% CI"]
        caption += " LC: length-controlled win rate."
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        f"\\caption{{{caption}}}",
        f"\\label{{{_label(results, 'win-rates')}}}",
        r"\begin{tabular}{l" + "r" * (len(head) - 1) + "}",
        r"\toprule",
        " & ".join(head) + r" \\",
        r"\midrule",
    ]
    for g in rows:
        name = latex_escape(g["name"])
        if g.get("reliable") is False:
            name += FEW_DATA
        interval = _interval(g.get("ci_low"), g.get("ci_high"), percent=True)
        if g.get("ci_low") is not None and g["ci_low"] == g.get("ci_high"):
            interval += DEGENERATE
        cells = [
            name,
            str(g["n"]),
            f"{g['wins']} / {g['ties']} / {g['losses']}",
            _pct(g["win_rate"]),
            interval,
            _p(g.get("p_value_holm")),
        ]
        if has_lc:
            cells += [
                _pct(g.get("lc_win_rate")),
                _interval(g.get("lc_ci_low"), g.get("lc_ci_high"), percent=True),
            ]
        lines.append(" & ".join(cells) + r" \\")
    if not rows:
        lines.append(
            f"\\multicolumn{{{len(head)}}}{{l}}{{No judgments against the baseline.}} \\\\"
        )
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return lines


def _bt_table(results: dict[str, Any]) -> list[str]:
    rows = [r for r in results.get("bradley_terry") or [] if r.get("rating") is not None]
    if not rows:
        return []
    styled = {r["name"]: r for r in results.get("bradley_terry_style_controlled") or []}
    method = results.get("bradley_terry_method") or {}
    level = round(100 * float(method.get("confidence", results.get("confidence", 0.95))))
    caption = (
        f"Bradley-Terry ratings on the Elo scale, "
        f"{latex_escape(results.get('baseline', ''))} at 1000, from all "
        f"{method.get('n_judgments', 0):,} judgments (ties count half a win each way), with "
        f"{level}\\% confidence intervals ({latex_escape(method.get('method', ''))}). "
        "Rank: 1 + the number of models whose interval lies wholly above."
    )
    head = ["Rank", "Model", "Rating", f"{level}\\% CI", "$n$"]
    if styled:
        head += ["Style-controlled", f"{level}\\% CI"]
    lines = [
        "",
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        f"\\caption{{{caption}}}",
        f"\\label{{{_label(results, 'bradley-terry')}}}",
        r"\begin{tabular}{rl" + "r" * (len(head) - 2) + "}",
        r"\toprule",
        " & ".join(head) + r" \\",
        r"\midrule",
    ]
    for r in rows:
        cells = [
            str(r.get("rank", "")),
            latex_escape(r["name"]),
            f"{r['rating']:.0f}",
            _interval(r.get("ci_low"), r.get("ci_high"), percent=False),
            str(r.get("n", "")),
        ]
        if styled:
            s = styled.get(r["name"], {})
            rating = s.get("rating")
            cells += [
                MISSING if rating is None else f"{rating:.0f}",
                _interval(s.get("ci_low"), s.get("ci_high"), percent=False),
            ]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return lines


def results_latex(*, results: dict[str, Any]) -> str:
    """The win-rate and Bradley-Terry tables of a results dict as a LaTeX file."""
    computed = latex_escape(results.get("computed_at", ""))
    header = [
        f"% Results of study {latex_escape(results.get('study', ''))}, computed {computed} "
        f"from {results.get('n_judgments', 0):,} judgments.",
        r"% Needs \usepackage{booktabs}.",
    ]
    return "\n".join(header + _win_rate_table(results) + _bt_table(results)) + "\n"
