"""The results page in headless Chromium: a researcher sees the table and figure; raters 403."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from annotations.services.users import user_create_or_update
from tests.results_support import hand_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-results-2026"


def _login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{base}/")


def test_researcher_sees_table_and_figure_rater_gets_403(
    live_server: Any, browser: Any, tmp_path: Path
) -> None:
    cache.clear()
    hand_study(tmp_path)
    user_create_or_update(username="res-r", role="researcher", password=PASSWORD)
    user_create_or_update(username="res-x", role="rater", password=PASSWORD)
    base = live_server.url

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, base, "res-r")
    page.click("text=Results")
    page.wait_for_url(f"{base}/studies/hand/results/")
    rows = page.locator("#win-rates tbody tr")
    assert rows.count() == 2
    alpha = rows.nth(0).locator("td").all_inner_texts()
    assert alpha[:5] == ["1", "Alpha few data", "7", "3 / 2 / 2", "57.1%"]
    image = page.locator(".results-figure img")
    image.wait_for()
    page.wait_for_function(
        "() => { const i = document.querySelector('.results-figure img');"
        " return i.complete && i.naturalWidth > 300; }"
    )
    assert "Bradley-Terry" in page.inner_text("#h-bt")
    # The method selector recomputes with Wilson intervals.
    page.select_option("select[name=method]", "wilson")
    page.click("button:has-text('Update')")
    page.wait_for_url("**method=wilson**")
    assert "Wilson score interval" in page.inner_text("#win-rates + .hint")
    assert errors == []
    page.close()

    page = browser.new_page()
    _login(page, base, "res-x")
    response = page.goto(f"{base}/studies/hand/results/")
    assert response.status == 403
    assert "Researchers only" in page.inner_text("h1")
    assert page.locator("#win-rates").count() == 0
    page.close()
