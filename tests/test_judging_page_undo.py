"""One level of undo on the judging page, in Chromium: U brings the last pair back to change."""

from __future__ import annotations

from typing import Any

import pytest

from annotations.models import Comparison, Judgment
from annotations.services.assignment import assignment_next
from tests.judging_page_support import (
    SIZE_IDS,
    SIZES,
    in_viewport,
    open_judge_page,
    screenshot,
    wait_for_assignment,
)
from tests.judging_support import BASELINE, CANDIDATE, judging_study, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _checked(page: Any) -> list[str]:
    return page.eval_on_selector_all("input[name=verdict]:checked", "els => els.map(e => e.value)")


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_u_brings_the_last_pair_back_and_enter_replaces_its_judgment(
    live_server: Any, browser: Any, size: tuple[int, int]
) -> None:
    study = judging_study(slug="undo", prompts=3, scale="ternary")
    rater = make_user("undo-rater")
    page, watcher = open_judge_page(
        browser, live_server.url, username="undo-rater", slug="undo", size=size
    )
    assert page.is_disabled("#undo")
    page.keyboard.press("u")
    assert "Nothing to undo" in page.inner_text("#status")
    first_left = page.inner_text("#output-left")
    page.keyboard.press("1")  # A better
    page.keyboard.press("Enter")
    second_left = wait_for_assignment(page, previous_left=first_left)
    original = Judgment.objects.get(rater=rater)
    page.keyboard.press("2")  # a choice on the current pair, kept while undoing

    page.keyboard.press("u")
    page.wait_for_selector("#revising:not([hidden])")
    assert page.inner_text("#output-left") == first_left
    assert _checked(page) == ["1"] and page.inner_text("#choice-state") == "Your choice: A better"
    assert page.inner_text("#submit").startswith("Save change")
    assert in_viewport(page, "#answer-bar")
    screenshot(page, "undo-revising", size)
    page.keyboard.press("3")  # B better
    page.keyboard.press("Enter")
    page.wait_for_selector("#revising", state="hidden")
    assert "Changed your last judgment to: B better" in page.inner_text("#status")
    assert page.inner_text("#output-left").strip() == second_left
    assert _checked(page) == ["2"]  # the current pair as it was left

    revised = Judgment.objects.get(rater=rater)
    assert revised.pk == original.pk and Judgment.objects.count() == 1
    assert revised.preference == -(1 if revised.left_is_a else -1)  # B better, canonical
    assert revised.created_at == original.created_at and revised.revised_at is not None
    assert Comparison.objects.get(pk=revised.comparison_id).judgment_count == 1
    assert sum(c.judgment_count for c in Comparison.objects.filter(study=study)) == 1
    assert page.inner_text("#judged") == "1"

    # Esc (or U again) goes back without a change.
    page.keyboard.press("u")
    page.wait_for_selector("#revising:not([hidden])")
    page.keyboard.press("1")
    page.keyboard.press("Escape")
    page.wait_for_selector("#revising", state="hidden")
    assert Judgment.objects.get(rater=rater).preference == revised.preference
    # The current pair is judged as usual afterwards.
    page.keyboard.press("Enter")
    wait_for_assignment(page, previous_left=second_left)
    assert Judgment.objects.filter(rater=rater).count() == 2
    for body in [page.content(), *watcher.json_bodies]:
        assert BASELINE not in body and CANDIDATE not in body
    assert watcher.errors == [] and watcher.csp_violations() == []
    page.close()


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_undo_is_refused_once_the_pair_went_to_another_rater(
    live_server: Any, browser: Any, size: tuple[int, int]
) -> None:
    study = judging_study(slug="undo-late", prompts=1, overlap=2)
    rater = make_user("late-rater")
    page, watcher = open_judge_page(
        browser, live_server.url, username="late-rater", slug="undo-late", size=size
    )
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_selector("#done:not([hidden])")
    assert "Press U" in page.inner_text("#notice")
    kept = Judgment.objects.get(rater=rater)
    # Another rater is given the pair meanwhile.
    assert assignment_next(study=study, rater=make_user("second-rater")) is not None

    page.keyboard.press("u")
    page.wait_for_selector("#revising:not([hidden])")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    page.wait_for_selector("#done:not([hidden])")
    assert "another rater" in page.inner_text("#notice")
    assert page.is_disabled("#undo")
    assert Judgment.objects.get(rater=rater).preference == kept.preference
    assert Judgment.objects.get(rater=rater).revised_at is None
    assert watcher.errors == []
    page.close()
