"""What the results page shows on top of the results contract: verdicts, the summary, the
kappa matrix, the filters in force. Pure functions of the results dict (no queries), so the
page's claims are tested on hand-made results.

A verdict is what a model's interval says about it against the baseline: "better" when the
whole interval lies above 50%, "worse" when wholly below, "unclear" otherwise, and "few data"
when the row is `reliable: false` (its interval cannot be trusted, so it claims nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Up to this many raters the per-pair kappas show as a matrix; more would not fit the page.
KAPPA_MATRIX_MAX_RATERS = 12
# The summary lists at most this many models that beat the baseline (the full table has all).
SUMMARY_ROWS = 8
# The filters the page offers and the results state under "filters" (issue 12, item 6).
FILTER_FIELDS: tuple[str, ...] = (
    "category",
    "since",
    "until",
    "source",
    "criterion",
    "include_excluded",
    "judge",
)
SOURCES: dict[str, str] = {"web": "judged in the app", "import": "imported"}


def _verdict(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "none"
    if low > 0.5:
        return "better"
    if high < 0.5:
        return "worse"
    return "unclear"


def generator_rows(*, results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The results' generator rows with `verdict`, and `lc_verdict` where the results carry
    length-controlled win rates (the key `lc_win_rate`), as copies."""
    rows = []
    for g in results.get("generators") or []:
        row = dict(g)
        if g.get("win_rate") is None:
            row["verdict"] = "none"
        elif g.get("reliable") is False:
            row["verdict"] = "few data"
        else:
            row["verdict"] = _verdict(g.get("ci_low"), g.get("ci_high"))
        if "lc_win_rate" in g:
            row["lc_verdict"] = (
                "none"
                if g.get("lc_win_rate") is None
                else _verdict(g.get("lc_ci_low"), g.get("lc_ci_high"))
            )
        rows.append(row)
    return rows


def results_summary(*, results: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> dict:
    """Which models beat the baseline, how sure that is, and whether it survives length
    control: counts and the rows the summary lists (`rows` from generator_rows)."""
    alpha = 1.0 - float(results.get("confidence") or 0.95)
    by_verdict: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_verdict.setdefault(row["verdict"], []).append(row)
    better = sorted(by_verdict.get("better", []), key=lambda r: -r["win_rate"])
    worse = sorted(by_verdict.get("worse", []), key=lambda r: r["win_rate"])
    holm = [r for r in better if r.get("p_value_holm") is not None and r["p_value_holm"] < alpha]
    has_lc = any("lc_verdict" in r for r in rows)
    listed = better[:SUMMARY_ROWS]
    if not listed:
        # Nothing beats the baseline: list the closest models, so the top still answers.
        ranked = [r for r in rows if r.get("win_rate") is not None]
        listed = sorted(ranked, key=lambda r: -r["win_rate"])[:5]
    p_holm = [r["p_value_holm"] for r in rows if r.get("p_value_holm") is not None]
    return {
        "n_models": sum(1 for r in rows if r["verdict"] != "none"),
        "better": better,
        "worse": worse,
        "unclear": by_verdict.get("unclear", []),
        "few": by_verdict.get("few data", []),
        "holm": holm,
        "min_p_holm": min(p_holm) if p_holm else None,
        "alpha": alpha,
        "has_lc": has_lc,
        "lc_holds": [r for r in better if r.get("lc_verdict") == "better"],
        "lc_missing": sum(1 for r in better if r.get("lc_verdict") in (None, "none")),
        "listed": listed,
        "listed_better": bool(better),
        "more_better": max(0, len(better) - len(listed)),
    }


def filters_in_force(*, results: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    """(field, value) of every filter the results were computed with, or None when the results
    do not state their filters (a server without them)."""
    filters = results.get("filters")
    if not isinstance(filters, Mapping):
        return None
    shown = []
    for field in (*FILTER_FIELDS, *(k for k in filters if k not in FILTER_FIELDS)):
        value = filters.get(field)
        if value in (None, "", [], ()):
            continue
        if isinstance(value, list | tuple):
            value = ", ".join(map(str, value))
        shown.append((field, str(value)))
    return shown


def filters_asked(*, query: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, value) of the filters a page's query asks for."""
    return [
        (f, str(query.get(f)).strip()) for f in FILTER_FIELDS if str(query.get(f) or "").strip()
    ]


def kappa_view(*, agreement: Mapping[str, Any]) -> dict[str, Any]:
    """Cohen's kappa per rater pair as a matrix (few raters) or a list (many).

    Matrix: {"mode": "matrix", "raters": [...], "cells": rows of {"kappa", "n"} or None (the
    diagonal and pairs that share no comparison)}. List: {"mode": "list", "pairs": [...]}.
    """
    pairs = list(agreement.get("cohen_kappa_by_pair") or [])
    raters = sorted({p["rater_a"] for p in pairs} | {p["rater_b"] for p in pairs})
    if not pairs:
        return {"mode": "none", "pairs": [], "raters": []}
    if len(raters) > KAPPA_MATRIX_MAX_RATERS:
        return {"mode": "list", "pairs": pairs, "raters": raters}
    at = {r: i for i, r in enumerate(raters)}
    cells: list[list[dict[str, Any] | None]] = [[None] * len(raters) for _ in raters]
    for p in pairs:
        i, j = at[p["rater_a"]], at[p["rater_b"]]
        cells[i][j] = cells[j][i] = {"kappa": p["kappa"], "n": p["n"]}
    return {
        "mode": "matrix",
        "raters": raters,
        "rows": [{"rater": r, "cells": cells[i]} for i, r in enumerate(raters)],
        "pairs": pairs,
    }


def win_matrix_view(*, matrix: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The win matrix as table rows for the page's heatmap: per row model, its cells with
    games, wins, ties, losses and win rate (None on the diagonal and for pairs never compared)."""
    models = matrix["models"]
    out = []
    for i, model in enumerate(models):
        cells = []
        for j, opponent in enumerate(models):
            games = matrix["games"][i][j]
            if i == j or not games:
                cells.append({"opponent": opponent, "games": 0, "self": i == j})
                continue
            wins, ties = matrix["wins"][i][j], matrix["ties"][i][j]
            cells.append(
                {
                    "opponent": opponent,
                    "games": games,
                    "wins": wins,
                    "ties": ties,
                    "losses": matrix["wins"][j][i],
                    "rate": (wins + 0.5 * ties) / games,
                }
            )
        out.append({"model": model, "cells": cells})
    return out
