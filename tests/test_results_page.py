"""The results page on the server: the summary's claims, its sections and fragments, filters,
length- and style-controlled columns when the results carry them, one download area, and
hostile model names escaped everywhere."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from annotations.analysis.cache import study_results as real_study_results
from annotations.exports.registry import EXPORT_FORMATS
from annotations.models import Study
from annotations.pages import results as results_page
from annotations.pages.results_summary import (
    filters_in_force,
    generator_rows,
    kappa_view,
    results_summary,
)
from annotations.services.users import user_create_or_update
from tests.results_page_support import (
    FORMULA,
    MARKUP,
    hostile_study,
    many_raters_study,
    with_extras,
)
from tests.results_support import hand_study

pytestmark = pytest.mark.django_db


def _client(role: str = "researcher") -> Client:
    client = Client()
    client.force_login(user_create_or_update(username=f"page-{role}", role=role).user)
    return client


def _row(name: str, rate: float, low: float, high: float, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "n": 100,
        "win_rate": rate,
        "ci_low": low,
        "ci_high": high,
        "p_value_holm": extra.pop("p_holm", 0.5),
        "reliable": extra.pop("reliable", True),
        **extra,
    }


def test_summary_sorts_models_by_what_their_intervals_say() -> None:
    results = {
        "confidence": 0.95,
        "generators": [
            _row("Sure", 0.8, 0.7, 0.9, p_holm=0.001),
            _row("Barely", 0.6, 0.51, 0.69, p_holm=0.2),
            _row("Even", 0.5, 0.4, 0.6),
            _row("Worse", 0.3, 0.2, 0.4),
            # 0/0/3: an interval of no width below 50%, but too few data to claim anything.
            _row("Tiny", 0.0, 0.0, 0.0, reliable=False),
            _row("Unjudged", None, None, None),
        ],
    }
    rows = generator_rows(results=results)
    assert [r["verdict"] for r in rows] == [
        "better",
        "better",
        "unclear",
        "worse",
        "few data",
        "none",
    ]
    s = results_summary(results=results, rows=rows)
    assert [r["name"] for r in s["better"]] == ["Sure", "Barely"]
    assert [r["name"] for r in s["holm"]] == ["Sure"]  # p_Holm 0.2 is not below 0.05
    assert [r["name"] for r in s["worse"]] == ["Worse"] and len(s["few"]) == 1
    assert s["n_models"] == 5 and s["min_p_holm"] == 0.001 and not s["has_lc"]


def test_summary_says_which_wins_survive_length_control() -> None:
    lc = {"lc_win_rate": 0.55, "lc_ci_low": 0.45, "lc_ci_high": 0.65}
    results = {
        "confidence": 0.95,
        "generators": [
            _row("Long", 0.7, 0.6, 0.8, **lc),  # wins only through length
            _row("Good", 0.7, 0.6, 0.8, lc_win_rate=0.68, lc_ci_low=0.58, lc_ci_high=0.78),
            _row("Unknown", 0.7, 0.6, 0.8, lc_win_rate=None, lc_ci_low=None, lc_ci_high=None),
        ],
    }
    rows = generator_rows(results=results)
    assert [r["lc_verdict"] for r in rows] == ["unclear", "better", "none"]
    s = results_summary(results=results, rows=rows)
    assert s["has_lc"] and [r["name"] for r in s["lc_holds"]] == ["Good"]
    assert s["lc_missing"] == 1


def test_nothing_better_lists_the_closest_models() -> None:
    results = {"generators": [_row(f"M{i}", 0.4 + i / 100, 0.3, 0.6) for i in range(7)]}
    s = results_summary(results=results, rows=generator_rows(results=results))
    assert not s["listed_better"] and [r["name"] for r in s["listed"]][:2] == ["M6", "M5"]
    assert len(s["listed"]) == 5


def test_filters_in_force_only_when_the_results_state_them() -> None:
    assert filters_in_force(results={}) is None
    none_set = {"category": None, "since": None, "until": None, "source": None, "criterion": None}
    assert filters_in_force(results={"filters": none_set}) == []
    stated = {**none_set, "category": "math", "source": "import", "since": "2024-05-01"}
    assert filters_in_force(results={"filters": stated}) == [
        ("category", "math"),
        ("since", "2024-05-01"),
        ("source", "import"),
    ]


def test_kappas_are_a_matrix_for_few_raters_and_a_list_for_many() -> None:
    pairs = [
        {"rater_a": "r-a", "rater_b": "r-b", "n": 10, "kappa": 0.85},
        {"rater_a": "r-a", "rater_b": "r-c", "n": 9, "kappa": 0.88},
    ]
    view = kappa_view(agreement={"cohen_kappa_by_pair": pairs})
    assert view["mode"] == "matrix" and view["raters"] == ["r-a", "r-b", "r-c"]
    cells = {row["rater"]: row["cells"] for row in view["rows"]}
    assert cells["r-b"][0] == {"kappa": 0.85, "n": 10}  # symmetric
    assert cells["r-a"][1] == {"kappa": 0.85, "n": 10} and cells["r-b"][2] is None
    many = [{"rater_a": f"r-{i}", "rater_b": f"r-{i + 1}", "n": 3, "kappa": 0.1} for i in range(13)]
    assert kappa_view(agreement={"cohen_kappa_by_pair": many})["mode"] == "list"


@pytest.fixture
def hand(tmp_path: Path):
    cache.clear()
    return hand_study(tmp_path)


def test_page_has_sections_a_contents_and_fragments_with_the_options(hand) -> None:
    page = _client().get("/studies/hand/results/", {"baseline": "Beta", "method": "wilson"})
    text = page.content.decode()
    for section in ("summary", "win-rates", "bt", "matrix", "categories", "agreement", "raters"):
        assert f'href="#sec-{section}"' in text and f'id="sec-{section}"' in text
    fragments = re.findall(r'data-fragment-url="\?([^"]+)"', text)
    assert {html.unescape(f) for f in fragments} == {
        f"baseline=Beta&method=wilson&fragment={name}"
        for name in ("win-matrix", "agreement", "raters")
    }
    # Against Beta: Base 2-1-1 (Beta's 1-1-2 from the other side), Alpha 0-0-2.
    assert "Which models beat Beta?" in text
    assert 'id="computed-at"' in text and "<time datetime=" in text
    assert '<select name="baseline" id="baseline-picker">' in text
    assert '<option value="Beta" selected>Beta</option>' in text


def test_fragments_render_their_section_and_full_renders_all(hand) -> None:
    client = _client()
    raters = client.get("/studies/hand/results/", {"fragment": "raters"}).content.decode()
    assert 'id="raters"' in raters and 'data-page-size="25"' in raters
    assert "<html" not in raters and raters.count("<tr>") == 3  # head + r1 + r2
    agreement = client.get("/studies/hand/results/", {"fragment": "agreement"}).content.decode()
    assert 'id="kappa-matrix"' in agreement  # two raters: a matrix
    matrix = client.get("/studies/hand/results/", {"fragment": "win-matrix"}).content.decode()
    # Alpha over Base: 7 games, 3 won / 2 tied / 2 lost (tests/results_support.py).
    assert 'data-wtl="3-2-2">7</td>' in matrix and 'data-wtl="2-0-0">2</td>' in matrix
    assert client.get("/studies/hand/results/", {"fragment": "nope"}).status_code == 404
    full = client.get("/studies/hand/results/", {"full": "1"}).content.decode()
    assert "data-fragment-url" not in full
    assert 'id="raters"' in full and 'id="kappa-matrix"' in full and 'id="win-matrix"' in full
    rater = _client("rater")
    assert rater.get("/studies/hand/results/", {"fragment": "raters"}).status_code == 403


def test_many_raters_get_a_paginated_list_of_kappas(tmp_path: Path) -> None:
    cache.clear()
    many_raters_study(tmp_path, raters=14)
    text = _client().get("/studies/crowd/results/", {"fragment": "agreement"}).content.decode()
    assert 'id="kappa-pairs"' in text and 'data-page-size="25"' in text
    assert 'id="kappa-matrix"' not in text


def test_filter_bar_states_the_filters_in_force(hand, monkeypatch) -> None:
    client = _client()
    text = client.get("/studies/hand/results/").content.decode()
    for field in ("category", "since", "until", "source"):
        assert f'name="{field}"' in text
    assert '<option value="math">math</option>' in text
    assert "Every judgment counts (no filters)." in text
    # Asked for: the results filter and say so.
    asked = client.get("/studies/hand/results/", {"category": "math"}).content.decode()
    assert "category: math" in asked and '<option value="math" selected>' in asked
    assert "Not filtered:" not in asked
    stated = {"category": "math", "since": "2024-05-01", "until": None, "source": "import"}

    def filtered(**options: Any) -> dict[str, Any]:
        return with_extras(real_study_results(**options), filters={**stated, "criterion": None})

    monkeypatch.setattr(results_page, "study_results", filtered)
    text = client.get("/studies/hand/results/", {"category": "math", "source": "import"}).content
    text = text.decode()
    chips = re.findall(r'<span class="chip">([^<]+)<a href="\?([^"]*)"', text)
    assert [c.strip() for c, _ in chips] == [
        "category: math",
        "since: 2024-05-01",
        "source: import",
    ]
    assert html.unescape(chips[0][1]) == "source=import"  # its link drops only that filter
    assert "Not filtered" not in text
    assert "The filters above apply." in text  # the win matrix counts what the results count


def test_length_and_style_control_show_only_when_the_results_carry_them(hand, monkeypatch) -> None:
    client = _client()

    def without(**options: Any) -> dict[str, Any]:
        results = real_study_results(**options)
        lc = ("lc_win_rate", "lc_ci_low", "lc_ci_high")
        generators = [{k: v for k, v in g.items() if k not in lc} for g in results["generators"]]
        plain = {k: v for k, v in results.items() if k != "bradley_terry_style_controlled"}
        return with_extras(plain, generators=generators)

    monkeypatch.setattr(results_page, "study_results", without)
    plain = client.get("/studies/hand/results/").content.decode()
    assert "LC win rate" not in plain and "Style-controlled" not in plain
    assert "Survives length control" not in plain

    def controlled(**options: Any) -> dict[str, Any]:
        results = real_study_results(**options)
        generators = [
            {**g, "lc_win_rate": 0.51, "lc_ci_low": 0.31, "lc_ci_high": 0.71}
            for g in results["generators"]
        ]
        style = [{"name": "Alpha", "rating": 1017.0, "ci_low": 950.0, "ci_high": 1080.0}]
        return with_extras(results, generators=generators, bradley_terry_style_controlled=style)

    monkeypatch.setattr(results_page, "study_results", controlled)
    text = client.get("/studies/hand/results/").content.decode()
    assert "LC win rate" in text and "Survives length control" in text
    assert "51.0% (31.0% \u2013 71.0%)" in text  # the summary's length-controlled column
    assert "Style-controlled" in text and "1,017" in text and "950 \u2013 1,080" in text


def test_small_samples_keep_their_marks(tmp_path: Path) -> None:
    cache.clear()
    rows = [(f"p{i}", "Alpha", "Base", "right", f"r{i}") for i in (1, 2, 3)]
    hand_study(tmp_path, rows=rows)
    text = _client().get("/studies/hand/results/").content.decode()
    table = text[text.index('id="win-rates"') :]
    row = table[table.index("<td>Alpha") : table.index("</tr>", table.index("<td>Alpha"))]
    assert "0.0% \u2013 0.0%" in row and "degenerate" in row and "few data" in row
    # The summary claims nothing from it: too few data, not "worse".
    assert "and 1 has too few data to say" in text


def test_one_download_area_offers_every_format_once(hand) -> None:
    text = _client().get("/studies/hand/results/").content.decode()
    area = text[text.index('id="sec-downloads"') :]
    links = [html.unescape(h) for h in re.findall(r'href="([^"]+)"[^>]*download', area)]
    assert len(links) == len(set(links))
    tables = {h.split("download=")[1] for h in links if h.startswith("?download=")}
    assert tables == {"results-csv", "results-json", "bt-csv", "win-matrix-csv", "results-latex"}
    figures = [h for h in links if "/results/figure." in h]
    assert len(figures) == 4 * 3  # four figures, three formats
    exported = {h.split("format=")[1] for h in links if "/export?format=" in h}
    for name, export_format in EXPORT_FORMATS.items():
        if export_format.admin_only:
            assert name not in exported
        elif name.startswith("figure-"):
            # The win-rate figure in that format, from the page's figure row.
            fmt = name.removeprefix("figure-")
            assert f"/studies/hand/results/figure.{fmt}?figure=win-rates&download=1" in links
            assert name not in exported
        elif name in tables:
            assert name not in exported
        else:
            assert name in exported
    # Nothing else on the page offers a download.
    before = text[: text.index('id="sec-downloads"')]
    assert not re.search(r"<a [^>]*\bdownload\b|download=", before)


def test_hostile_model_names_stay_escaped_on_the_page_and_in_fragments(tmp_path: Path) -> None:
    cache.clear()
    hostile_study(tmp_path)
    client = _client()
    pages = [
        client.get("/studies/hostile/results/").content.decode(),
        *(
            client.get("/studies/hostile/results/", {"fragment": name}).content.decode()
            for name in ("win-matrix", "raters", "agreement")
        ),
        client.get("/studies/hostile/results/", {"full": "1"}).content.decode(),
    ]
    for text in pages:
        assert "<img src=x" not in text and "onerror=alert(1)>" not in text
    assert html.escape(MARKUP, quote=False) in pages[0]
    assert html.escape(FORMULA) in pages[0]  # also inside attribute values (option value)
    assert html.escape(MARKUP, quote=False) in pages[1]  # the win matrix's headings


def test_a_study_without_judgments_or_baseline_gets_a_page_not_an_error(tmp_path: Path) -> None:
    cache.clear()
    hand_study(tmp_path, slug="quiet", rows=[])
    client = _client()
    text = client.get("/studies/quiet/results/").content.decode()
    assert "No judgments against Base yet." in text and "This study has no judgments yet." in text
    Study.objects.create(slug="bare", name="Made in the admin")
    response = client.get("/studies/bare/results/")
    assert response.status_code == 200
    assert "has no baseline model" in response.content.decode()
    assert client.get("/studies/bare/results/", {"fragment": "raters"}).status_code == 400
    # A study with models but no baseline yet: pick one here.
    hand_study(tmp_path, slug="unset", rows=[])
    Study.objects.filter(slug="unset").update(baseline=None)
    text = client.get("/studies/unset/results/").content.decode()
    assert '<option value="Alpha">Alpha</option>' in text
    picked = client.get("/studies/unset/results/", {"baseline": "Alpha"}).content.decode()
    assert "Which models beat Alpha?" in picked
