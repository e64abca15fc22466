"""The win-rate figure: valid SVG, PNG and PDF, the ranked dot plot and the size axis."""

from __future__ import annotations

import struct
from pathlib import Path
from xml.etree import ElementTree

import pytest
from django.core.cache import cache
from django.test import Client

from annotations.analysis.figures import results_figure_render
from annotations.services.users import user_create_or_update
from tests.results_support import hand_study

SVG = "{http://www.w3.org/2000/svg}"


def results(sizes: bool) -> dict:
    rows = []
    for i, (family, size) in enumerate(
        [("GPT", 1.3e9), ("GPT", 6e9), ("GPT", 1.75e11), ("SFT", 1.3e9), ("SFT", 1.75e11)]
    ):
        rate = 0.3 + 0.1 * i
        rows.append(
            {
                "name": f"{family} {size:.0e}",
                "family": family,
                "size": size if sizes else None,
                "n": 100,
                "win_rate": rate,
                "ci_low": rate - 0.08,
                "ci_high": rate + 0.07,
            }
        )
    return {
        "baseline": "SFT 175B",
        "confidence": 0.95,
        "method": "bootstrap",
        "method_description": "prompt-clustered percentile bootstrap",
        "resamples": 2000,
        "generators": rows,
    }


def svg_texts(data: bytes) -> str:
    root = ElementTree.fromstring(data)  # noqa: S314 - our own renderer's output
    assert root.tag == f"{SVG}svg"
    return data.decode()


@pytest.mark.parametrize("sizes", [False, True])
def test_three_formats_are_valid_files(sizes: bool) -> None:
    data = results(sizes)
    svg = results_figure_render(results=data, fmt="svg")
    text = svg_texts(svg)
    assert "Win rate against SFT 175B" in text
    assert "95% CI, prompt-clustered percentile bootstrap" in text
    png = results_figure_render(results=data, fmt="png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width >= 1200 and height >= 600  # 6.4 in at 200 dpi: paper resolution
    pdf = results_figure_render(results=data, fmt="pdf")
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")


def test_size_axis_is_logarithmic_with_a_line_per_family() -> None:
    svg = results_figure_render(results=results(True), fmt="svg").decode()
    assert "Model size (parameters)" in svg
    # Tick labels of a log axis in parameters, and a legend entry per family.
    assert "1B" in svg and "100B" in svg
    assert "GPT" in svg and "SFT" in svg and "Family" in svg


def test_ranked_plot_lists_every_model_with_n() -> None:
    svg = results_figure_render(results=results(False), fmt="svg").decode()
    assert "Model size" not in svg
    for row in results(False)["generators"]:
        assert f"{row['name']} (n=100)" in svg


def test_no_judgments_still_renders_a_titled_figure() -> None:
    svg = results_figure_render(
        results={"baseline": "B", "generators": [], "confidence": 0.95}, fmt="svg"
    ).decode()
    assert "No judgments against the baseline yet" in svg
    with pytest.raises(ValueError, match="unknown figure format"):
        results_figure_render(results=results(False), fmt="gif")


@pytest.mark.django_db
def test_figure_urls_serve_each_format_to_researchers_only(tmp_path: Path) -> None:
    cache.clear()
    hand_study(tmp_path, sizes={"Alpha": ("Tiny", 7e9), "Beta": ("Tiny", 7e10)})
    researcher = user_create_or_update(
        username="fig-r", role="researcher", password="pw-1234567"
    ).user
    client = Client()
    client.force_login(researcher)
    for fmt, content_type, magic in (
        ("svg", "image/svg+xml", b"<?xml"),
        ("png", "image/png", b"\x89PNG"),
        ("pdf", "application/pdf", b"%PDF"),
    ):
        response = client.get(f"/studies/hand/results/figure.{fmt}", {"download": "1"})
        assert response.status_code == 200
        assert response["Content-Type"] == content_type
        assert response.content.startswith(magic)
        assert f'filename="hand-win-rates.{fmt}"' in response["Content-Disposition"]
    svg = client.get("/studies/hand/results/figure.svg").content.decode()
    assert "Model size (parameters)" in svg and "Win rate against Base" in svg
    assert client.get("/studies/hand/results/figure.gif").status_code == 404
    rater = user_create_or_update(username="fig-x", role="rater", password="pw-1234567").user
    client.force_login(rater)
    assert client.get("/studies/hand/results/figure.svg").status_code == 403


HOSTILE = "<x> $x^2$ & --> ]]>"
# As the SVG's text comments hold it: matplotlib breaks "--", which may not occur in a comment.
SHOWN = HOSTILE.replace("--", "- -")


def more_results() -> dict:
    """Hand-made results for the other figures: one hostile name, the baseline, two
    categories, and a win matrix of 3-2-2 (7 games) between the two."""
    data = results(False)
    data["bradley_terry"] = [
        {"name": HOSTILE, "rating": 1100.0, "ci_low": 1010.0, "ci_high": 1190.0, "n": 7},
        {"name": "SFT 175B", "rating": 1000.0, "ci_low": 1000.0, "ci_high": 1000.0, "n": 7},
    ]
    data["bradley_terry_method"] = {"method": "Bradley-Terry MAP", "n_judgments": 7}
    data["win_matrix"] = {
        "models": [HOSTILE, "SFT 175B"],
        "games": [[0, 7], [7, 0]],
        "wins": [[0, 3], [2, 0]],
        "ties": [[0, 2], [2, 0]],
    }
    data["generators"] = [
        {"name": HOSTILE, "n": 7, "win_rate": 4 / 7, "ci_low": 0.3, "ci_high": 0.8},
        *data["generators"],
    ]
    data["categories"] = [
        {"category": "m$th", "generators": [{"name": HOSTILE, "n": 4, "win_rate": 0.75}]},
        {"category": "poetry", "generators": [{"name": HOSTILE, "n": 3, "win_rate": 1 / 3}]},
    ]
    return data


def svg_comments(data: bytes) -> list[str]:
    """The texts of a matplotlib SVG (drawn as paths, each after a comment with its text)."""
    import html
    import re

    return [html.unescape(t) for t in re.findall(r"<!-- (.*?) -->", svg_texts(data), re.S)]


@pytest.mark.parametrize("kind", ["bradley-terry", "win-matrix", "categories"])
def test_every_figure_kind_renders_in_every_format(kind: str) -> None:
    data = more_results()
    texts = svg_comments(results_figure_render(results=data, fmt="svg", kind=kind))
    # A name with "$" is drawn as it is written, not parsed as mathtext.
    assert any(SHOWN in t for t in texts), texts
    png = results_figure_render(results=data, fmt="png", kind=kind)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = results_figure_render(results=data, fmt="pdf", kind=kind)
    assert pdf.startswith(b"%PDF-")


def test_win_matrix_cells_show_win_rate_and_games() -> None:
    texts = svg_comments(
        results_figure_render(results=more_results(), fmt="svg", kind="win-matrix")
    )
    # Row HOSTILE against SFT: (3 + 2 / 2) / 7 = 57%; the other way (2 + 1) / 7 = 43%; 7 games.
    assert texts.count("57%") == 1 and texts.count("43%") == 1 and texts.count("7") == 2
    assert "Win matrix" in texts


def test_bradley_terry_figure_names_ratings_and_n() -> None:
    texts = svg_comments(
        results_figure_render(results=more_results(), fmt="svg", kind="bradley-terry")
    )
    assert f"{SHOWN} (n=7)" in texts and "SFT 175B (n=7)" in texts
    assert "Rating (Elo scale, SFT 175B = 1000)" in texts


def test_categories_figure_has_a_cell_per_model_and_category() -> None:
    texts = svg_comments(
        results_figure_render(results=more_results(), fmt="svg", kind="categories")
    )
    assert "m$th" in texts and "poetry" in texts and "all" in texts
    assert "75% (n=4)" in texts and "33% (n=3)" in texts and "57% (n=7)" in texts


def test_empty_results_give_titled_figures_of_every_kind() -> None:
    empty = {"baseline": "B", "generators": [], "confidence": 0.95}
    for kind, message in (
        ("bradley-terry", "No judgments yet"),
        ("win-matrix", "No comparisons between two models yet"),
        ("categories", "No prompt categories with judgments against the baseline"),
    ):
        assert message in svg_comments(results_figure_render(results=empty, fmt="svg", kind=kind))
    with pytest.raises(ValueError, match="unknown figure"):
        results_figure_render(results=empty, fmt="svg", kind="pie")


@pytest.mark.django_db
def test_figure_url_serves_each_kind_for_the_page_options(tmp_path: Path) -> None:
    cache.clear()
    hand_study(tmp_path)
    client = Client()
    client.force_login(user_create_or_update(username="fig-k", role="researcher").user)
    for kind in ("bradley-terry", "win-matrix", "categories"):
        response = client.get("/studies/hand/results/figure.svg", {"figure": kind, "download": "1"})
        assert response.status_code == 200 and response.content.startswith(b"<?xml")
        assert f'filename="hand-{kind}.svg"' in response["Content-Disposition"]
    matrix = svg_comments(
        client.get("/studies/hand/results/figure.svg", {"figure": "win-matrix"}).content
    )
    # The hand study (tests/results_support.py): Alpha 2-0 over Beta, 57% over 7 games vs Base.
    assert "100%" in matrix and "57%" in matrix
    against_beta = svg_comments(
        client.get("/studies/hand/results/figure.svg", {"baseline": "Beta"}).content
    )
    assert "Win rate against Beta" in against_beta
    assert client.get("/studies/hand/results/figure.svg", {"figure": "pie"}).status_code == 404
