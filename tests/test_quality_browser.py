"""Screening in a real browser: a rater who fails the qualification gets a kind end page with
the study's screen-out code and link, and gold items look like any pair on the way."""

from __future__ import annotations

import pytest

from annotations.models import ControlCheck, RaterStanding
from tests.judging_page_support import open_judge_page, wait_for_assignment
from tests.judging_support import judging_study, make_user
from tests.quality_support import attention_checks

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_screened_out_rater_sees_the_screen_out_code_and_link(browser, live_server) -> None:
    study = judging_study(
        slug="screened",
        prompts=3,
        qualification=2,
        qualification_pass=1.0,
        screenout_code="NOPE-42",
        screenout_url="https://app.prolific.com/submissions/complete?cc={code}",
    )
    attention_checks(study, 4)
    rater = make_user("screen-me")
    page, watcher = open_judge_page(
        browser, live_server.url, username=rater.username, slug=study.slug, size=(1440, 900)
    )
    for number in (1, 2):
        wait_for_assignment(page)
        check = ControlCheck.objects.get(rater=rater, status="open")
        # The worse output on screen (ternary keys: 1 left, 2 tie, 3 right): a wrong answer.
        page.keyboard.press("3" if check.left_is_a else "1")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "n => document.getElementById('judged').textContent === String(n)",
            arg=number,
            polling=100,
        )
    page.wait_for_selector("#stopped:not([hidden])", timeout=10_000)
    assert page.is_visible("#stopped-screened") and not page.is_visible("#stopped-paused")
    assert page.inner_text("#screenout-code") == "NOPE-42"
    assert page.get_attribute("#screenout-link", "href").endswith("cc=NOPE-42")
    assert not page.is_visible("#complete")
    assert RaterStanding.objects.get(rater=rater).qualification == "failed"
    assert watcher.errors == [] and watcher.csp_violations() == []
    page.close()
