"""The two heatmaps of the results: the win matrix (with game counts) and win rate by category.

Both colour a win rate on one diverging scale, red below 50% and blue above, white at 50%,
grey where there are no judgments; cells carry their numbers while the grid is small enough to
read them. Drawn with imshow, so a 400-model matrix is one embedded image, not 160,000 paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from annotations.analysis.figures import empty, plain, wrapped
from annotations.analysis.win_matrix import win_matrix_rate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Cells get their game counts up to this many models, and win rates too up to the second.
COUNTS_UP_TO = 30
RATES_UP_TO = 16
_CELL_IN = 0.26
_MAX_SIDE_IN = 30.0
WIDTH_MIN_IN = 4.0


def _colormap() -> Any:
    from matplotlib import colormaps

    return colormaps["RdBu"].with_extremes(bad="#e5e7eb")


def _cell_text_color(rate: float) -> str:
    return "white" if abs(rate - 0.5) > 0.3 else "#111827"


def win_matrix_figure(results: dict[str, Any]) -> tuple[Figure, str]:
    """The win matrix: row model's win rate against the column model, game counts in cells."""
    import numpy as np
    from matplotlib.figure import Figure

    matrix = results.get("win_matrix") or {"models": []}
    models = matrix["models"]
    size = len(models)
    title = "Win matrix"
    side = min(_MAX_SIDE_IN, max(WIDTH_MIN_IN, 2.6 + _CELL_IN * size))
    fig = Figure(figsize=(side + 1.2, side), layout="constrained")
    if size < 2:
        empty(fig, "No comparisons between two models yet")
        fig.suptitle(title, fontsize=12, fontweight="bold")
        return fig, title
    rates = np.full((size, size), np.nan)
    for i in range(size):
        for j in range(size):
            rate = win_matrix_rate(matrix, i, j) if i != j else None
            if rate is not None:
                rates[i, j] = rate
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(
        np.ma.masked_invalid(rates), cmap=_colormap(), vmin=0, vmax=1, interpolation="nearest"
    )
    font = 7.5 if size <= 30 else 5.5
    labels = [plain(m) for m in models]
    ax.set_xticks(range(size))
    ax.set_xticklabels(labels, rotation=90, fontsize=font)
    ax.set_yticks(range(size))
    ax.set_yticklabels(labels, fontsize=font)
    ax.set_xlabel("Opponent (column)")
    ax.set_ylabel("Model (row)")
    if size <= COUNTS_UP_TO:
        cell_font = 6.5 if size <= RATES_UP_TO else 4.2
        for i in range(size):
            for j in range(size):
                games = matrix["games"][i][j]
                if i == j or not games:
                    continue
                text = f"{rates[i, j]:.0%}\n{games}" if size <= RATES_UP_TO else str(games)
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=cell_font,
                    color=_cell_text_color(rates[i, j]),
                )
    colorbar = fig.colorbar(image, ax=ax, shrink=0.6, format="{x:.0%}")
    colorbar.set_label("Row model's win rate against the column model (ties count half)")
    counts = "win rate and games" if size <= RATES_UP_TO else "games"
    note = (
        f"Cells: {counts} between the two models"
        if size <= COUNTS_UP_TO
        else "Game counts are in the win-matrix-csv download"
    )
    n_games = int(np.triu(np.array(matrix["games"]), 1).sum())
    note += f"; {n_games:,} judgments in all, every pair of models. Grey: never compared."
    fig.supxlabel(wrapped(note), fontsize=7, color="0.3")
    fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig, title


def categories_figure(results: dict[str, Any]) -> tuple[Figure, str]:
    """Each model's win rate against the baseline in each prompt category, with n."""
    import numpy as np
    from matplotlib.figure import Figure

    categories = results.get("categories") or []
    baseline = results.get("baseline", "the baseline")
    title = f"Win rate against {baseline} by prompt category"
    names = [g["name"] for g in results.get("generators") or [] if g.get("win_rate") is not None]
    columns = [c["category"] for c in categories] + ["all"]
    height = max(3.0, 1.6 + 0.22 * len(names))
    width = min(_MAX_SIDE_IN, max(WIDTH_MIN_IN + 2.4, 3.2 + 0.85 * len(columns)))
    fig = Figure(figsize=(width, height), layout="constrained")
    if not categories or not names:
        empty(fig, "No prompt categories with judgments against the baseline")
        fig.suptitle(plain(title), fontsize=12, fontweight="bold")
        return fig, title
    row_of = {name: i for i, name in enumerate(names)}
    rates = np.full((len(names), len(columns)), np.nan)
    counts = np.zeros((len(names), len(columns)), dtype=np.int64)
    cells = [(k, c.get("generators") or []) for k, c in enumerate(categories)]
    cells.append((len(columns) - 1, results.get("generators") or []))
    for column, rows in cells:
        for g in rows:
            if g["name"] in row_of and g.get("win_rate") is not None:
                rates[row_of[g["name"]], column] = g["win_rate"]
                counts[row_of[g["name"]], column] = g["n"]
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(
        np.ma.masked_invalid(rates),
        cmap=_colormap(),
        vmin=0,
        vmax=1,
        aspect="auto",
        interpolation="nearest",
    )
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels([plain(c) for c in columns], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels([plain(n) for n in names], fontsize=7.5 if len(names) <= 40 else 6)
    ax.axvline(len(columns) - 1.5, color="0.2", linewidth=1)
    font = 6.5 if len(names) <= 40 else 5
    for i in range(len(names)):
        for j in range(len(columns)):
            if counts[i, j]:
                ax.text(
                    j,
                    i,
                    f"{rates[i, j]:.0%} (n={counts[i, j]})",
                    ha="center",
                    va="center",
                    fontsize=font,
                    color=_cell_text_color(rates[i, j]),
                )
    colorbar = fig.colorbar(image, ax=ax, shrink=0.6, format="{x:.0%}")
    colorbar.set_label(f"Win rate against {plain(baseline)}")
    note = "Ties count half. Grey: no judgments of that model in that category."
    fig.supxlabel(wrapped(note), fontsize=7, color="0.3")
    fig.suptitle(plain(title), fontsize=12, fontweight="bold")
    return fig, title
