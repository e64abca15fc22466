"""The judging page's flow in Chromium: progress and completion, keys while loading, the
instructions dialog, errors that clear, and the skip reason from the keyboard."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from annotations.api.judging import answers, fastlane, views
from annotations.models import Assignment, AssignmentStatus, Judgment
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


def _judged_text(page: Any, n: int) -> None:
    page.wait_for_function(
        "n => document.getElementById('judged').textContent === String(n)", arg=n, polling=50
    )


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_progress_is_right_after_every_submit_including_the_last(
    live_server: Any, browser: Any, size: tuple[int, int]
) -> None:
    judging_study(slug="prog", prompts=2)
    make_user("prog-rater")
    page, watcher = open_judge_page(
        browser, live_server.url, username="prog-rater", slug="prog", size=size
    )
    assert page.inner_text("#progress") == "You have judged 0; 2 remain for you."
    assert not page.is_visible("#quota-part")
    left = page.inner_text("#output-left")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    wait_for_assignment(page, previous_left=left)
    assert page.inner_text("#progress") == "You have judged 1; 1 remain for you."
    assert page.inner_text("#bar-progress") == "1 judged"
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    page.wait_for_selector("#done:not([hidden])")
    # After the last one, nothing is stale.
    assert page.inner_text("#progress") == "You have judged 2; 0 remain for you."
    assert watcher.errors == []
    page.close()


def _with_progress(route: Any, extra: dict[str, Any]) -> None:
    """Let the request through and add `extra` to the progress in its answer."""
    response = route.fetch()
    body = response.json()
    body["progress"].update(extra)
    route.fulfill(response=response, body=json.dumps(body))


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_quota_and_completion_panel_with_code_and_countdown(
    live_server: Any, browser: Any, size: tuple[int, int]
) -> None:
    judging_study(slug="crowd", prompts=3)
    make_user("crowd-rater")
    base = live_server.url
    page, watcher = open_judge_page(browser, base, username="crowd-rater", slug="crowd", size=size)
    # The fields the access work adds to progress: quota, complete, completion code and URL.
    pending = {"quota": 1, "complete": False, "completion_code": None, "completion_url": None}
    page.route("**/assignments/next*", lambda route: _with_progress(route, pending))
    done_url = f"{base}/?completed=CODE-42"
    complete = {"quota": 1, "complete": True, "completion_code": "CODE-42"}
    page.route(
        "**/api/assignments/*/judgment*",
        lambda route: _with_progress(route, {**complete, "completion_url": done_url}),
    )
    page.reload()
    wait_for_assignment(page)
    assert page.inner_text("#progress") == "You have judged 0 of 1; 3 remain for you."
    assert page.inner_text("#bar-progress") == "0 of 1 judged"
    assert "CODE-42" not in page.content()

    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_selector("#complete:not([hidden])")
    started = time.monotonic()
    assert page.inner_text("#completion-code") == "CODE-42"
    assert page.get_attribute("#completion-link", "href") == done_url
    assert page.inner_text("#progress").startswith("You have judged 1 of 1;")
    assert "Taking you there in" in page.inner_text("#countdown")
    assert in_viewport(page, "#completion-code") and not page.is_visible("#judge-form")
    screenshot(page, "completion-panel", size)
    page.wait_for_url(done_url, timeout=10_000)
    assert 4 <= time.monotonic() - started < 9
    assert Judgment.objects.count() == 1
    assert watcher.errors == [] and watcher.csp_violations() == []
    page.close()


def test_completion_without_a_url_shows_the_code_and_stays(live_server: Any, browser: Any) -> None:
    judging_study(slug="crowd2", prompts=2)
    make_user("crowd2-rater")
    page, _ = open_judge_page(
        browser, live_server.url, username="crowd2-rater", slug="crowd2", size=(1440, 900)
    )
    finished = {"quota": 1, "complete": True, "completion_code": "XYZ", "completion_url": None}
    page.route("**/api/assignments/*/judgment*", lambda route: _with_progress(route, finished))
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.wait_for_selector("#complete:not([hidden])")
    assert page.inner_text("#completion-code") == "XYZ"
    assert not page.is_visible("#completion-link") and not page.is_visible("#countdown")
    page.close()


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_keys_pressed_while_the_next_pair_loads_are_visibly_refused(
    live_server: Any, browser: Any, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    judging_study(slug="slow", prompts=3)
    make_user("slow-rater")
    page, watcher = open_judge_page(
        browser, live_server.url, username="slow-rater", slug="slow", size=size
    )

    # A slow server from here on: the next pair takes a while (the live server shares this
    # process; a delay inside a Playwright route handler would block the test's own thread).
    def slow(**kwargs: Any) -> Any:
        time.sleep(1.5)
        return answers.next_answer(**kwargs)

    monkeypatch.setattr(fastlane, "next_answer", slow)
    monkeypatch.setattr(views, "next_answer", slow)
    left = page.inner_text("#output-left")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_selector("#judge-form.loading")
    page.keyboard.press("3")
    status = page.inner_text("#status")
    assert "Loading the next pair" in status and "key 3 ignored" in status
    assert page.is_visible("#status")
    page.keyboard.press("Enter")
    assert "Enter ignored" in page.inner_text("#status")
    wait_for_assignment(page, previous_left=left)
    # Nothing was applied to the new pair unseen; the keys work on it now.
    assert page.eval_on_selector_all("input[name=verdict]:checked", "els => els.length") == 0
    assert Judgment.objects.count() == 1
    page.keyboard.press("3")
    assert page.inner_text("#choice-state") == "Your choice: B better"
    assert watcher.errors == []
    page.close()


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_instructions_open_in_view_as_a_modal_dialog_and_esc_closes(
    live_server: Any, browser: Any, size: tuple[int, int]
) -> None:
    long_rules = "\n\n".join(f"Rule {i}: read **both** answers in full." for i in range(12))
    judging_study(slug="instr", prompts=1, instructions=long_rules)
    make_user("instr-rater")
    page, watcher = open_judge_page(
        browser, live_server.url, username="instr-rater", slug="instr", size=size
    )
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    page.keyboard.press("i")
    page.wait_for_selector("#instructions[open]")
    assert page.evaluate("document.getElementById('instructions').matches(':modal')")
    assert in_viewport(page, "#instructions")
    assert "Rule 0: read both answers" in page.inner_text("#instructions")
    screenshot(page, "instructions-dialog", size)
    # Verdict keys do nothing under the dialog.
    page.keyboard.press("1")
    assert page.eval_on_selector_all("input[name=verdict]:checked", "els => els.length") == 0
    page.keyboard.press("Escape")
    page.wait_for_selector("#instructions:not([open])", state="attached")
    assert not page.is_visible("#instructions")
    page.click("#instructions-toggle")
    assert page.is_visible("#instructions")
    page.click("#instructions .dialog-close")
    assert not page.is_visible("#instructions")
    page.keyboard.press("?")
    assert page.is_visible("#shortcuts") and in_viewport(page, "#shortcuts-dialog")
    page.keyboard.press("Escape")
    assert not page.is_visible("#shortcuts")
    assert watcher.errors == []
    page.close()


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_an_error_clears_once_it_is_answered(
    live_server: Any, browser: Any, size: tuple[int, int]
) -> None:
    judging_study(slug="errs", prompts=3)
    make_user("errs-rater")
    page, watcher = open_judge_page(
        browser, live_server.url, username="errs-rater", slug="errs", size=size
    )
    # Submitting without a verdict: an error, answered by choosing one.
    page.keyboard.press("Enter")
    assert page.is_visible("#bar-error") and "choose a verdict" in page.inner_text("#bar-error")
    assert in_viewport(page, "#bar-error")
    page.keyboard.press("2")
    assert not page.is_visible("#bar-error")

    # A failed submit: an error, answered by the next submit that works.
    # Offline emulation fails the request inside the browser. An aborting route, which needs
    # the test process to answer each request, timed out now and then in full runs.
    page.context.set_offline(True)
    page.keyboard.press("Enter")
    page.wait_for_selector("#bar-error:not([hidden])")
    assert "Network error" in page.inner_text("#bar-error")
    assert Judgment.objects.count() == 0
    page.context.set_offline(False)
    left = page.inner_text("#output-left")
    page.keyboard.press("Enter")
    wait_for_assignment(page, previous_left=left)
    assert not page.is_visible("#bar-error")
    assert Judgment.objects.count() == 1
    assert watcher.errors == []
    page.close()


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_r_moves_to_the_skip_reason_and_enter_there_skips(
    live_server: Any, browser: Any, size: tuple[int, int]
) -> None:
    judging_study(slug="skipr", prompts=2)
    rater = make_user("skipr-rater")
    page, watcher = open_judge_page(
        browser, live_server.url, username="skipr-rater", slug="skipr", size=size
    )
    left = page.inner_text("#output-left")
    page.keyboard.press("r")
    assert page.evaluate("document.activeElement.id") == "skip-reason"
    assert in_viewport(page, "#skip-reason")
    assert page.input_value("#skip-reason") == ""  # the R itself is not typed
    page.keyboard.type("not my field")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Skipped.")
    wait_for_assignment(page, previous_left=left)
    skipped = Assignment.objects.get(rater=rater, status=AssignmentStatus.SKIPPED)
    assert skipped.skip_reason == "not my field"
    assert page.input_value("#skip-reason") == ""
    # Esc leaves the box and the keys work again.
    page.keyboard.press("r")
    page.keyboard.press("Escape")
    page.keyboard.press("1")
    assert page.inner_text("#choice-state") == "Your choice: A better"
    for body in [page.content(), *watcher.json_bodies]:
        assert BASELINE not in body and CANDIDATE not in body
    assert watcher.errors == []
    page.close()
