"""The results figures: win rates against the baseline, Bradley-Terry ratings, the win matrix
and win rates by category, each as SVG, PNG or PDF.

Rendered on the server with matplotlib's Agg backend from the results contract (see
annotations.analysis.cache). The win-rate figure is InstructGPT's (Ouyang et al. 2022,
Figure 1): models with a parameter count (`size`) go on a log-scale size axis, one line per
`family`; the others form a dot plot ranked by win rate. The 50% line is where a model is as
good as the baseline. The heatmaps are in annotations.analysis.figures_heatmaps.

Model names are hostile input: every text drawn from the data goes through plain(), so a `$`
in a name is a dollar sign, never matplotlib mathtext (which could also fail to parse).
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

# matplotlib is imported where a figure is drawn, not here: this module is reachable from the
# app's start-up (the export registry), and every management command would pay its import.
if TYPE_CHECKING:
    from matplotlib.figure import Figure

FIGURE_FORMATS: dict[str, str] = {
    "svg": "image/svg+xml",
    "png": "image/png",
    "pdf": "application/pdf",
}
# Each figure's name (its `figure=` on the page, its file-name stem) and title.
FIGURE_KINDS: dict[str, str] = {
    "win-rates": "Win rate against the baseline",
    "bradley-terry": "Bradley-Terry ratings",
    "win-matrix": "Win matrix",
    "categories": "Win rate by prompt category",
}
DEFAULT_FIGURE = "win-rates"
PNG_DPI = 200
# Column width of a two-column paper is about 3.3 in and a full width about 7 in.
WIDTH_IN = 6.4
FEW_DATA_NOTE = "Hollow markers: few data (too few judgments or prompts for a reliable interval)."


def plain(text: object) -> str:
    """Text from the data as matplotlib must draw it: literally, with no mathtext."""
    return str(text).replace("$", r"\$")


def _size_label(value: float, _pos: int = 0) -> str:
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            number = value / scale
            return f"{number:.3g}{unit}"
    return f"{value:.3g}"


def wrapped(note: str) -> str:
    return "\n".join(textwrap.wrap(note, 100))


def _method_note(results: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    level = round(100 * float(results.get("confidence", 0.95)))
    method = results.get("method_description") or results.get("method", "")
    n_total = sum(r["n"] for r in rows)
    extra = f", {results['resamples']:,} resamples" if results.get("resamples") else ""
    note = (
        f"Error bars: {level}% CI, {method}{extra}. Ties count half. "
        f"n = {n_total:,} judgments against the baseline."
    )
    if any(r.get("reliable") is False for r in rows):
        note += " " + FEW_DATA_NOTE
    return wrapped(note)


def _with_rate(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [g for g in results.get("generators", []) if g.get("win_rate") is not None]


def errors(rows: list[dict[str, Any]], value: str) -> tuple[list[float], list[float]]:
    """Error-bar lengths below and above each row's `value` (none where a bound is missing)."""
    low, high = [], []
    for r in rows:
        center = r[value]
        lo = r["ci_low"] if r.get("ci_low") is not None else center
        hi = r["ci_high"] if r.get("ci_high") is not None else center
        low.append(max(0.0, center - lo))
        high.append(max(0.0, hi - center))
    return low, high


def _size_axis(fig: Figure, rows: list[dict[str, Any]], baseline: str) -> None:
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    ax = fig.add_subplot(1, 1, 1)
    families: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        families.setdefault(row.get("family") or row["name"], []).append(row)
    for family, members in sorted(families.items()):
        members.sort(key=lambda r: r["size"])
        low, high = errors(members, "win_rate")
        ax.errorbar(
            [r["size"] for r in members],
            [r["win_rate"] for r in members],
            yerr=[low, high],
            marker="o",
            markersize=5,
            capsize=3,
            linewidth=1.6,
            label=plain(family),
        )
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(_size_label))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, p: ""))
    sizes = [r["size"] for r in rows]
    ax.set_xlim(min(sizes) / 1.6, max(sizes) * 1.6)
    ax.set_xlabel("Model size (parameters)")
    ax.set_ylabel(f"Win rate against {plain(baseline)}")
    ax.axhline(0.5, color="0.35", linestyle="--", linewidth=1, zorder=0)
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(axis="y", color="0.9", linewidth=0.8)
    ax.legend(title="Family", fontsize=8, title_fontsize=9, frameon=False, loc="best")


def ranked_dots(
    ax: Any, rows: list[dict[str, Any]], value: str, *, color: str, label: str | None = None
) -> None:
    """Rows (already in plot order, bottom first) as dots with CI bars on ax's x axis; rows
    marked `reliable: false` get hollow markers."""
    low, high = errors(rows, value)
    ys = list(range(len(rows)))
    ax.errorbar(
        [r[value] for r in rows],
        ys,
        xerr=[low, high],
        fmt="none",
        capsize=2.5,
        ecolor=color,
        alpha=0.75,
        linewidth=1.2,
    )
    filled = [color if r.get("reliable", True) is not False else "white" for r in rows]
    ax.scatter(
        [r[value] for r in rows],
        ys,
        s=22,
        c=filled,
        edgecolors=color,
        linewidths=1.2,
        zorder=3,
        label=label,
    )
    ax.set_yticks(ys)
    ax.set_yticklabels([f"{plain(r['name'])} (n={r['n']})" for r in rows], fontsize=7.5)
    ax.set_ylim(-0.7, len(rows) - 0.3)


def _ranked(fig: Figure, rows: list[dict[str, Any]], baseline: str) -> None:
    from matplotlib.ticker import PercentFormatter

    ax = fig.add_subplot(1, 1, 1)
    ordered = sorted(rows, key=lambda r: (r["win_rate"], r["name"]))
    ranked_dots(ax, ordered, "win_rate", color="#1f4e9c")
    ax.axvline(0.5, color="0.35", linestyle="--", linewidth=1, zorder=0)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel(f"Win rate against {plain(baseline)}")
    ax.set_ylabel("Model")
    ax.grid(axis="x", color="0.9", linewidth=0.8)


def ranked_height(count: int) -> float:
    return max(3.0, 1.1 + 0.2 * count)


def _win_rates(results: dict[str, Any]) -> tuple[Figure, str]:
    from matplotlib.figure import Figure  # Agg/SVG/PDF canvases: no pyplot, no GUI backend

    baseline = results.get("baseline", "the baseline")
    rows = _with_rate(results)
    sized = [r for r in rows if r.get("size")]
    use_sizes = bool(rows) and len(sized) == len(rows)
    height = 4.2 if use_sizes or not rows else ranked_height(len(rows))
    fig = Figure(figsize=(WIDTH_IN, height), layout="constrained")
    if not rows:
        empty(fig, "No judgments against the baseline yet")
    elif use_sizes:
        _size_axis(fig, rows, baseline)
    else:
        _ranked(fig, rows, baseline)
    title = f"Win rate against {baseline}"
    fig.suptitle(plain(title), fontsize=12, fontweight="bold")
    if rows:
        fig.supxlabel(_method_note(results, rows), fontsize=7, color="0.3")
    return fig, title


def _bradley_terry(results: dict[str, Any]) -> tuple[Figure, str]:
    from matplotlib.figure import Figure

    rows = [r for r in results.get("bradley_terry") or [] if r.get("rating") is not None]
    fig = Figure(figsize=(WIDTH_IN, ranked_height(len(rows))), layout="constrained")
    title = "Bradley-Terry ratings"
    if not rows:
        empty(fig, "No judgments yet")
    else:
        ax = fig.add_subplot(1, 1, 1)
        ordered = sorted(rows, key=lambda r: (r["rating"], r["name"]))
        ranked_dots(ax, ordered, "rating", color="#1f4e9c", label="Bradley-Terry")
        styled = {
            r["name"]: r
            for r in results.get("bradley_terry_style_controlled") or []
            if r.get("rating") is not None
        }
        if styled:
            # The style-controlled rating of each model, on the same rows, a little below.
            matched = [(y, styled[r["name"]]) for y, r in enumerate(ordered) if r["name"] in styled]
            low, high = errors([s for _, s in matched], "rating")
            ax.errorbar(
                [s["rating"] for _, s in matched],
                [y - 0.3 for y, _ in matched],
                xerr=[low, high],
                fmt="D",
                markersize=3,
                capsize=2,
                color="#b45309",
                linewidth=1,
                label="style-controlled",
            )
            ax.legend(fontsize=7.5, frameon=False, loc="lower right")
        baseline = results.get("baseline")
        if any(r["name"] == baseline for r in rows):
            ax.axvline(1000, color="0.35", linestyle="--", linewidth=1, zorder=0)
        ax.set_xlabel(f"Rating (Elo scale, {plain(baseline)} = 1000)")
        ax.set_ylabel("Model")
        ax.grid(axis="x", color="0.9", linewidth=0.8)
        method = results.get("bradley_terry_method") or {}
        level = round(100 * float(method.get("confidence", results.get("confidence", 0.95))))
        n_judgments = method.get("n_judgments")
        note = f"Error bars: {level}% CI, {method.get('method', 'Bradley-Terry')}."
        if n_judgments is not None:
            note += f" From all {n_judgments:,} judgments, any pair; ties count half a win."
        fig.supxlabel(wrapped(note), fontsize=7, color="0.3")
    fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig, title


def empty(fig: Figure, message: str) -> None:
    ax = fig.add_subplot(1, 1, 1)
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")


def _renderers() -> dict[str, Callable[[dict[str, Any]], tuple[Figure, str]]]:
    from annotations.analysis.figures_heatmaps import categories_figure, win_matrix_figure

    return {
        "win-rates": _win_rates,
        "bradley-terry": _bradley_terry,
        "win-matrix": win_matrix_figure,
        "categories": categories_figure,
    }


def results_figure_render(
    *, results: dict[str, Any], fmt: str, kind: str = DEFAULT_FIGURE
) -> bytes:
    """One figure of a results dict as SVG, PNG (200 dpi) or PDF bytes.

    `kind` is a FIGURE_KINDS name; "win-matrix" draws results["win_matrix"] (see
    annotations.analysis.win_matrix), which the caller adds to the results.
    """
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"unknown figure format {fmt!r}; choose from {', '.join(FIGURE_FORMATS)}")
    if kind not in FIGURE_KINDS:
        raise ValueError(f"unknown figure {kind!r}; choose from {', '.join(FIGURE_KINDS)}")
    fig, title = _renderers()[kind](results)
    out = io.BytesIO()
    # No creation dates: the same results give byte-identical files (cacheable, diffable).
    metadata: dict[str, Any] = {
        "svg": {"Title": title, "Date": None},
        "png": {"Title": title},
        "pdf": {"Title": title, "CreationDate": None},
    }[fmt]
    fig.savefig(out, format=fmt, dpi=PNG_DPI if fmt == "png" else None, metadata=metadata)
    return out.getvalue()
