"""The InstructGPT-style figure: win rate against the baseline per model, with CI error bars.

Rendered on the server with matplotlib's Agg backend from the results contract (see
annotations.analysis.cache). Models with a parameter count (`size`) go on a log-scale size
axis, one line per `family` (InstructGPT, Ouyang et al. 2022, Figure 1); the others form a
dot plot ranked by win rate. The 50% line is where a model is as good as the baseline.
"""

from __future__ import annotations

import io
import textwrap
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
PNG_DPI = 200
# Column width of a two-column paper is about 3.3 in and a full width about 7 in.
_WIDTH_IN = 6.4


def _size_label(value: float, _pos: int = 0) -> str:
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            number = value / scale
            return f"{number:.3g}{unit}"
    return f"{value:.3g}"


def _method_note(results: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    level = round(100 * float(results.get("confidence", 0.95)))
    method = results.get("method_description") or results.get("method", "")
    n_total = sum(r["n"] for r in rows)
    extra = f", {results['resamples']:,} resamples" if results.get("resamples") else ""
    note = (
        f"Error bars: {level}% CI, {method}{extra}. Ties count half. "
        f"n = {n_total:,} judgments against the baseline."
    )
    return "\n".join(textwrap.wrap(note, 100))


def _with_rate(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [g for g in results.get("generators", []) if g.get("win_rate") is not None]


def _errors(rows: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    low, high = [], []
    for r in rows:
        rate = r["win_rate"]
        lo = r["ci_low"] if r.get("ci_low") is not None else rate
        hi = r["ci_high"] if r.get("ci_high") is not None else rate
        low.append(max(0.0, rate - lo))
        high.append(max(0.0, hi - rate))
    return low, high


def _size_axis(fig: Figure, rows: list[dict[str, Any]], baseline: str) -> None:
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    ax = fig.add_subplot(1, 1, 1)
    families: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        families.setdefault(row.get("family") or row["name"], []).append(row)
    for family, members in sorted(families.items()):
        members.sort(key=lambda r: r["size"])
        low, high = _errors(members)
        ax.errorbar(
            [r["size"] for r in members],
            [r["win_rate"] for r in members],
            yerr=[low, high],
            marker="o",
            markersize=5,
            capsize=3,
            linewidth=1.6,
            label=family,
        )
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(_size_label))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, p: ""))
    sizes = [r["size"] for r in rows]
    ax.set_xlim(min(sizes) / 1.6, max(sizes) * 1.6)
    ax.set_xlabel("Model size (parameters)")
    ax.set_ylabel(f"Win rate against {baseline}")
    ax.axhline(0.5, color="0.35", linestyle="--", linewidth=1, zorder=0)
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(axis="y", color="0.9", linewidth=0.8)
    ax.legend(title="Family", fontsize=8, title_fontsize=9, frameon=False, loc="best")


def _ranked(fig: Figure, rows: list[dict[str, Any]], baseline: str) -> None:
    from matplotlib.ticker import PercentFormatter

    ax = fig.add_subplot(1, 1, 1)
    ordered = sorted(rows, key=lambda r: (r["win_rate"], r["name"]))
    low, high = _errors(ordered)
    ys = list(range(len(ordered)))
    ax.errorbar(
        [r["win_rate"] for r in ordered],
        ys,
        xerr=[low, high],
        fmt="o",
        markersize=4.5,
        capsize=2.5,
        color="#1f4e9c",
        ecolor="#6b88bd",
        linewidth=1.2,
    )
    ax.set_yticks(ys)
    ax.set_yticklabels([f"{r['name']} (n={r['n']})" for r in ordered], fontsize=7.5)
    ax.set_ylim(-0.7, len(ordered) - 0.3)
    ax.axvline(0.5, color="0.35", linestyle="--", linewidth=1, zorder=0)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel(f"Win rate against {baseline}")
    ax.set_ylabel("Model")
    ax.grid(axis="x", color="0.9", linewidth=0.8)


def results_figure_render(*, results: dict[str, Any], fmt: str) -> bytes:
    """The win-rate figure of a results dict as SVG, PNG (200 dpi) or PDF bytes."""
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"unknown figure format {fmt!r}; choose from {', '.join(FIGURE_FORMATS)}")
    baseline = results.get("baseline", "the baseline")
    rows = _with_rate(results)
    sized = [r for r in rows if r.get("size")]
    use_sizes = bool(rows) and len(sized) == len(rows)
    height = 4.2 if use_sizes or not rows else max(3.0, 1.1 + 0.2 * len(rows))
    from matplotlib.figure import Figure  # Agg/SVG/PDF canvases: no pyplot, no GUI backend

    fig = Figure(figsize=(_WIDTH_IN, height), layout="constrained")
    if not rows:
        ax = fig.add_subplot(1, 1, 1)
        ax.axis("off")
        ax.text(0.5, 0.5, "No judgments against the baseline yet", ha="center", va="center")
    elif use_sizes:
        _size_axis(fig, rows, baseline)
    else:
        _ranked(fig, rows, baseline)
    fig.suptitle(f"Win rate against {baseline}", fontsize=12, fontweight="bold")
    if rows:
        fig.supxlabel(_method_note(results, rows), fontsize=7, color="0.3")
    out = io.BytesIO()
    title = f"Win rate against {baseline}"
    # No creation dates: the same results give byte-identical files (cacheable, diffable).
    metadata: dict[str, Any] = {
        "svg": {"Title": title, "Date": None},
        "png": {"Title": title},
        "pdf": {"Title": title, "CreationDate": None},
    }[fmt]
    fig.savefig(out, format=fmt, dpi=PNG_DPI if fmt == "png" else None, metadata=metadata)
    return out.getvalue()
