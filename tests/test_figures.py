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
