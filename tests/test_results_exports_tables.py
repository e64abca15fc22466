"""The results tables as files: bt-csv, win-matrix-csv and results-latex, on hand counts, with
hostile model names; registered like the other formats, and offered by the page for its options."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client

from annotations.analysis.cache import study_results
from annotations.exports.latex import latex_escape, results_latex
from annotations.exports.registry import EXPORT_FORMATS
from annotations.exports.results import BT_COLUMNS, WIN_MATRIX_COLUMNS, bt_csv
from annotations.services.users import user_create_or_update
from tests.results_page_support import FORMULA, MARKUP, hostile_study, with_extras
from tests.results_support import hand_study

pytestmark = pytest.mark.django_db


def _client(role: str = "researcher") -> Client:
    client = Client()
    client.force_login(user_create_or_update(username=f"tables-{role}", role=role).user)
    return client


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


@pytest.fixture
def hand(tmp_path: Path):
    cache.clear()
    return hand_study(tmp_path)


def test_new_formats_are_registered_beside_the_old_ones_unchanged() -> None:
    for name in ("results-csv", "results-json", "figure-svg", "figure-png", "figure-pdf"):
        assert name in EXPORT_FORMATS
    expected = {
        "bt-csv": ("csv", "text/csv; charset=utf-8"),
        "win-matrix-csv": ("csv", "text/csv; charset=utf-8"),
        "results-latex": ("tex", "text/x-tex; charset=utf-8"),
    }
    for name, (extension, content_type) in expected.items():
        export_format = EXPORT_FORMATS[name]
        assert (export_format.extension, export_format.content_type) == (extension, content_type)
        assert not export_format.admin_only


def test_win_matrix_csv_holds_the_hand_counts_of_every_pair(hand) -> None:
    response = _client().get("/api/studies/hand/export", {"format": "win-matrix-csv"})
    assert response.status_code == 200
    assert 'filename="hand-win-matrix.csv"' in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    assert data.splitlines()[0].decode() == ",".join(WIN_MATRIX_COLUMNS)
    got = {
        (r["model"], r["opponent"]): (
            int(r["games"]),
            int(r["wins"]),
            int(r["ties"]),
            int(r["losses"]),
            float(r["win_rate"]),
        )
        for r in _rows(data)
    }
    # tests/results_support.py, counted by hand: Alpha 3-2-2 and Beta 1-1-2 against Base,
    # Alpha 2-0 over Beta; ties count half.
    assert got == {
        ("Alpha", "Base"): (7, 3, 2, 2, pytest.approx(4 / 7, abs=1e-5)),
        ("Base", "Alpha"): (7, 2, 2, 3, pytest.approx(3 / 7, abs=1e-5)),
        ("Beta", "Base"): (4, 1, 1, 2, pytest.approx(0.375)),
        ("Base", "Beta"): (4, 2, 1, 1, pytest.approx(0.625)),
        ("Alpha", "Beta"): (2, 2, 0, 0, 1.0),
        ("Beta", "Alpha"): (2, 0, 0, 2, 0.0),
    }


def test_bt_csv_carries_the_ratings_with_their_judgment_counts(hand) -> None:
    response = _client().get("/api/studies/hand/export", {"format": "bt-csv"})
    assert 'filename="hand-bradley-terry.csv"' in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    assert data.splitlines()[0].decode() == ",".join(BT_COLUMNS)
    rows = {r["generator"]: r for r in _rows(data)}
    results = study_results(study=hand)
    assert list(rows) == [r["name"] for r in results["bradley_terry"]]  # best first
    # Every judgment that involves the model: Alpha 7 + 2, Beta 4 + 2, Base 7 + 4.
    assert {name: int(r["n"]) for name, r in rows.items()} == {"Alpha": 9, "Beta": 6, "Base": 11}
    assert float(rows["Base"]["rating"]) == pytest.approx(1000)
    for fit in results["bradley_terry"]:
        row = rows[fit["name"]]
        assert float(row["rating"]) == pytest.approx(fit["rating"], rel=1e-5)
        assert float(row["ci_low"]) == pytest.approx(fit["ci_low"], rel=1e-5)
        assert row["baseline"] == "Base" and row["ci_method"] == results["bt_ci"]
        assert row["n_judgments"] == "13"
        styled = {r["name"]: r for r in results["bradley_terry_style_controlled"]}
        assert float(row["style_controlled_rating"]) == pytest.approx(
            styled[fit["name"]]["rating"], abs=0.01
        )


def test_bt_csv_puts_the_style_controlled_rating_beside_each_model(hand) -> None:
    results = with_extras(
        study_results(study=hand),
        bradley_terry_style_controlled=[
            {"name": "Alpha", "rating": 1042.5, "ci_low": 990.0, "ci_high": 1100.25}
        ],
    )
    rows = {r["generator"]: r for r in _rows(bt_csv(results=results).encode())}
    assert (
        rows["Alpha"]["style_controlled_rating"],
        rows["Alpha"]["style_controlled_ci_high"],
    ) == (
        "1042.5",
        "1100.25",
    )
    assert rows["Beta"]["style_controlled_rating"] == ""


def test_results_latex_is_a_booktabs_table_of_the_hand_counts(hand) -> None:
    response = _client().get("/api/studies/hand/export", {"format": "results-latex"})
    assert response.status_code == 200
    assert 'filename="hand-results.tex"' in response["Content-Disposition"]
    tex = b"".join(response.streaming_content).decode()
    results = study_results(study=hand)
    alpha = next(g for g in results["generators"] if g["name"] == "Alpha")
    low, high = 100 * alpha["ci_low"], 100 * alpha["ci_high"]
    # 4/7 = 57.1%; Alpha has 7 judgments, so it carries the few-data dagger.
    assert (
        f"Alpha\\textsuperscript{{\\dag}} & 7 & 3 / 2 / 2 & 57.1\\% & {low:.1f}--{high:.1f}\\% & "
        in tex
    )
    assert "Beta\\textsuperscript{\\dag} & 4 & 1 / 1 / 2 & 37.5\\% & " in tex
    # With the length-controlled columns beside the raw ones (the results carry them).
    for command in ("\\toprule", "\\midrule", "\\bottomrule", "\\begin{tabular}{lrrrrrrr}"):
        assert command in tex
    assert tex.count("\\begin{table}") == tex.count("\\end{table}") == 2
    assert "Base & 1000 & 1000--1000 & 11 & 1000 & 1000--1000 \\\\" in tex  # the BT anchor
    assert "\\label{tab:hand-win-rates}" in tex and "\\label{tab:hand-bradley-terry}" in tex
    # The page's download uses the page's options: Wilson intervals here.
    page = _client().get(
        "/studies/hand/results/", {"download": "results-latex", "method": "wilson"}
    )
    assert page.status_code == 200 and "Wilson score interval" in page.content.decode()


def test_results_latex_shows_length_controlled_columns_only_when_present(hand) -> None:
    results = study_results(study=hand)
    lc = ("lc_win_rate", "lc_ci_low", "lc_ci_high")
    plain = [{k: v for k, v in g.items() if k not in lc} for g in results["generators"]]
    assert "LC win rate" not in results_latex(results=with_extras(results, generators=plain))
    generators = [
        {**g, "lc_win_rate": 0.52, "lc_ci_low": 0.41, "lc_ci_high": 0.63}
        for g in results["generators"]
    ]
    tex = results_latex(results=with_extras(results, generators=generators))
    assert "\\begin{tabular}{lrrrrrrr}" in tex and "LC win rate" in tex
    assert " & 52.0\\% & 41.0--63.0\\% \\\\" in tex


def test_latex_escape_turns_every_special_character_literal() -> None:
    assert latex_escape("\\&%$#_{}~^<>|[]") == (
        "\\textbackslash{}\\&\\%\\$\\#\\_\\{\\}\\textasciitilde{}\\textasciicircum{}"
        "\\textless{}\\textgreater{}\\textbar{}{[}{]}"
    )
    assert latex_escape("a\nb\r\tc") == "a b  c"  # a newline would end the row
    assert latex_escape("Zoë 模型") == "Zoë 模型"


def test_hostile_names_stay_literal_in_latex_and_guarded_in_csv(tmp_path: Path) -> None:
    cache.clear()
    hostile_study(tmp_path)
    client = _client()
    tex = client.get("/studies/hostile/results/", {"download": "results-latex"}).content.decode()
    assert latex_escape(MARKUP) in tex
    # Take the escapes out again: what is left of the name has no character LaTeX acts on.
    row = next(line for line in tex.splitlines() if line.startswith("\\textless{}img"))
    name = row.split(" & ")[0]
    bare = re.sub(
        r"\\(textbackslash|textasciitilde|textasciicircum|textless|textgreater|textbar)\{\}"
        r"|\\[&%$#_{}]|\{\[\}|\{\]\}|\\textsuperscript\{\\dag\}",
        "",
        name,
    )
    assert not set(bare) & set("\\&%$#_{}~^[]")
    assert "\\input{" not in tex
    for name, stem in (
        ("bt-csv", "generator"),
        ("win-matrix-csv", "model"),
        ("results-csv", "generator"),
    ):
        rows = _rows(client.get("/studies/hostile/results/", {"download": name}).content)
        names = {r[stem] for r in rows}
        assert "'" + FORMULA in names and FORMULA not in names, name
        assert MARKUP in names, name  # not a formula: kept exactly
    matrix = _rows(client.get("/studies/hostile/results/", {"download": "win-matrix-csv"}).content)
    pair = next(r for r in matrix if r["model"] == "'" + FORMULA and r["opponent"] == MARKUP)
    assert (pair["games"], pair["wins"], pair["losses"]) == ("1", "1", "0")


def test_page_downloads_follow_the_baseline_picked(hand) -> None:
    client = _client()
    rows = _rows(
        client.get(
            "/studies/hand/results/", {"download": "results-csv", "baseline": "Beta"}
        ).content
    )
    assert {r["baseline"] for r in rows} == {"Beta"}
    # Against Beta, Base wins 2, ties 1 and loses 1 (Beta's 1-1-2 seen from the other side).
    base = next(r for r in rows if r["generator"] == "Base")
    assert (base["wins"], base["ties"], base["losses"]) == ("2", "1", "1")
    refused = client.get("/studies/hand/results/", {"download": "judgments-csv"})
    assert refused.status_code == 400 and "unknown download" in refused.content.decode()
