"""The results page in headless Chromium at 1440x900: the table, summary and figures; sorting
by mouse and keyboard, the paginated raters table, the sticky contents, the baseline picker,
the downloads, the sections filled in after first paint; raters get 403."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from annotations.services.users import user_create_or_update
from tests.results_page_support import hostile_study, many_raters_study
from tests.results_support import hand_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-results-2026"
VIEWPORT = {"width": 1440, "height": 900}


def _login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{base}/")


def _researcher_page(browser: Any, base: str) -> tuple[Any, list[str]]:
    user_create_or_update(username="res-r", role="researcher", password=PASSWORD)
    page = browser.new_page(viewport=VIEWPORT, accept_downloads=True)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if msg.type == "error" and "favicon" not in (msg.location.get("url") or "")
            else None
        ),
    )
    page.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))
    _login(page, base, "res-r")
    return page, problems


def _column(page: Any, table: str, index: int) -> list[str]:
    return page.locator(f"{table} tbody tr:visible td:nth-child({index})").all_inner_texts()


def _wait_filled(page: Any) -> None:
    page.wait_for_function(
        "() => document.querySelectorAll('.fragment[aria-busy]').length === 0"
        " && document.querySelectorAll('.fragment.filled').length > 0"
    )


def test_researcher_sees_table_and_figure_rater_gets_403(
    live_server: Any, browser: Any, tmp_path: Path
) -> None:
    cache.clear()
    hand_study(tmp_path)
    user_create_or_update(username="res-x", role="rater", password=PASSWORD)
    base = live_server.url
    page, problems = _researcher_page(browser, base)
    page.click("text=Results")
    page.wait_for_url(f"{base}/studies/hand/results/")
    rows = page.locator("#win-rates tbody tr")
    assert rows.count() == 2
    alpha = rows.nth(0).locator("td").all_inner_texts()
    assert alpha[:5] == ["1", "Alpha few data", "7", "3 / 2 / 2", "57.1%"]
    page.locator("#sec-win-rates .results-figure img").scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const i = document.querySelector('#sec-win-rates .results-figure img');"
        " return i.complete && i.naturalWidth > 300; }"
    )
    assert "Bradley-Terry" in page.inner_text("#h-bt")
    # The method selector, folded under "Statistics", recomputes with Wilson intervals.
    page.click(".options-stats summary")
    page.select_option("select[name=method]", "wilson")
    page.click("button:has-text('Update')")
    page.wait_for_url("**method=wilson**")
    assert "Wilson score interval" in page.inner_text("#sec-win-rates > .hint")
    _wait_filled(page)
    assert problems == []
    page.close()

    page = browser.new_page()
    _login(page, base, "res-x")
    response = page.goto(f"{base}/studies/hand/results/")
    assert response.status == 403
    assert "Researchers only" in page.inner_text("h1")
    assert page.locator("#win-rates").count() == 0
    page.close()


def test_tables_sort_by_mouse_and_keyboard_with_aria_sort(
    live_server: Any, browser: Any, tmp_path: Path
) -> None:
    cache.clear()
    hand_study(tmp_path)
    page, problems = _researcher_page(browser, live_server.url)
    page.goto(f"{live_server.url}/studies/hand/results/")
    heads = page.locator("#win-rates thead th")
    assert heads.nth(4).get_attribute("aria-sort") == "descending"  # the server's order
    model = page.locator("#win-rates thead button", has_text="Model")
    model.click()
    assert model.locator("xpath=..").get_attribute("aria-sort") == "ascending"
    assert heads.nth(4).get_attribute("aria-sort") is None
    assert [t.split(" ")[0] for t in _column(page, "#win-rates", 2)] == ["Alpha", "Beta"]
    model.click()
    assert model.locator("xpath=..").get_attribute("aria-sort") == "descending"
    assert [t.split(" ")[0] for t in _column(page, "#win-rates", 2)] == ["Beta", "Alpha"]
    # From the keyboard: Tab reaches the heading button, Enter and Space press it. Numbers
    # sort high to low first.
    n_button = page.locator("#win-rates thead button", has_text="n").first
    n_button.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "n"
    page.keyboard.press("Enter")
    assert n_button.locator("xpath=..").get_attribute("aria-sort") == "descending"
    assert _column(page, "#win-rates", 3) == ["7", "4"]
    page.keyboard.press("Space")
    assert n_button.locator("xpath=..").get_attribute("aria-sort") == "ascending"
    assert _column(page, "#win-rates", 3) == ["4", "7"]
    assert "Sorted by n, ascending." in page.inner_text("#sec-win-rates .sort-status")
    # The Bradley-Terry table sorts too: ratings low to high after two presses.
    rating = page.locator("#bradley-terry thead button", has_text="Rating")
    rating.click()
    values = [float(v.replace(",", "")) for v in _column(page, "#bradley-terry", 3)]
    assert values == sorted(values)
    assert problems == []
    page.close()


def test_raters_table_is_paginated_and_sorting_returns_to_page_one(
    live_server: Any, browser: Any, tmp_path: Path
) -> None:
    cache.clear()
    many_raters_study(tmp_path, raters=30)
    page, problems = _researcher_page(browser, live_server.url)
    page.goto(f"{live_server.url}/studies/crowd/results/")
    _wait_filled(page)
    raters = page.locator("#raters tbody tr")
    assert raters.count() == 30
    assert page.locator("#raters tbody tr:visible").count() == 25
    pager = page.locator("#sec-raters .pager")
    assert "Rows 1\u201325 of 30 (page 1 of 2)" in pager.inner_text()
    assert pager.locator(".pager-previous").is_disabled()
    pager.locator(".pager-next").click()
    assert page.locator("#raters tbody tr:visible").count() == 5
    assert "Rows 26\u201330 of 30 (page 2 of 2)" in pager.inner_text()
    assert pager.locator(".pager-next").is_disabled()
    # Rater i judged i % 4 + 1 comparisons: sorted low to high, page one starts at 1.
    judged = page.locator("#raters thead button", has_text="Judgments")
    judged.click()  # the server sorted high to low: this press goes low to high
    assert judged.locator("xpath=..").get_attribute("aria-sort") == "ascending"
    assert "page 1 of 2" in pager.inner_text()
    counts = [int(c) for c in _column(page, "#raters", 2)]
    assert len(counts) == 25 and counts == sorted(counts) and counts[0] == 1
    assert problems == []
    page.close()


def test_contents_stay_in_view_and_follow_the_reader(
    live_server: Any, browser: Any, tmp_path: Path
) -> None:
    cache.clear()
    many_raters_study(tmp_path, raters=30)
    page, problems = _researcher_page(browser, live_server.url)
    page.goto(f"{live_server.url}/studies/crowd/results/")
    _wait_filled(page)
    toc = page.locator(".results-toc")
    page.click(".results-toc a[href='#sec-raters']")
    page.wait_for_function("() => window.scrollY > 300")
    assert page.url.endswith("#sec-raters")
    # Sticky: the contents are still on screen after the jump, near the top.
    box = toc.bounding_box()
    assert box is not None and 0 <= box["y"] <= 40
    heading = page.locator("#h-raters").bounding_box()
    assert heading is not None and 0 <= heading["y"] <= 200
    page.wait_for_selector(".results-toc a[href='#sec-raters'][aria-current='true']")
    assert page.locator(".results-toc a[aria-current='true']").count() == 1
    page.click(".results-toc a[href='#sec-summary']")
    page.wait_for_selector(".results-toc a[href='#sec-summary'][aria-current='true']")
    assert problems == []
    page.close()


def test_baseline_picker_recomputes_and_keeps_the_other_options(
    live_server: Any, browser: Any, tmp_path: Path
) -> None:
    cache.clear()
    hand_study(tmp_path)
    page, problems = _researcher_page(browser, live_server.url)
    page.goto(f"{live_server.url}/studies/hand/results/?method=wilson")
    assert page.locator("#baseline-picker option:checked").inner_text() == "Base (study baseline)"
    page.select_option("#baseline-picker", "Beta")
    page.click("button:has-text('Update')")
    page.wait_for_url("**baseline=Beta**")
    assert "method=wilson" in page.url
    assert page.inner_text("#h-summary") == "Which models beat Beta?"
    base = page.locator("#win-rates tbody tr", has_text="Base").locator("td").all_inner_texts()
    # Beta's 1-1-2 against Base, seen from Base's side.
    assert base[3] == "2 / 1 / 1" and base[4] == "62.5%"
    assert "Wilson score interval" in page.inner_text("#sec-win-rates > .hint")
    _wait_filled(page)
    assert problems == []
    page.close()


def test_downloads_give_files_for_the_options_shown(
    live_server: Any, browser: Any, tmp_path: Path
) -> None:
    cache.clear()
    hand_study(tmp_path)
    page, problems = _researcher_page(browser, live_server.url)
    page.goto(f"{live_server.url}/studies/hand/results/?baseline=Beta")
    with page.expect_download() as info:
        page.click("#table-downloads a:text-is('results-csv')")
    download = info.value
    assert download.suggested_filename == "hand-results.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    assert {r["baseline"] for r in rows} == {"Beta"}
    with page.expect_download() as info:
        page.click("#table-downloads a:text-is('win-matrix-csv')")
    matrix = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert len(matrix) == 6  # three pairs of models, each from both sides
    with page.expect_download() as info:
        page.click("#figure-downloads tr:has-text('Win matrix') a:text-is('SVG')")
    assert info.value.suggested_filename == "hand-win-matrix.svg"
    assert Path(info.value.path()).read_bytes().startswith(b"<?xml")
    with page.expect_download() as info:
        page.click("#data-downloads a:text-is('judgments-csv')")
    assert info.value.suggested_filename == "hand-judgments.csv"
    assert problems == []
    page.close()


def test_hostile_names_are_text_in_the_sections_filled_in(
    live_server: Any, browser: Any, tmp_path: Path
) -> None:
    cache.clear()
    hostile_study(tmp_path)
    page, problems = _researcher_page(browser, live_server.url)
    page.goto(f"{live_server.url}/studies/hostile/results/")
    _wait_filled(page)
    # The name <img src=x onerror=...> is text everywhere, fragments (innerHTML) included.
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#win-matrix th", has_text="<img src=x").count() == 2
    assert problems == []
    page.close()
