"""The judging page's layout in Chromium: the answer bar in view, long and empty outputs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.judging_page_support import (
    SIZE_IDS,
    SIZES,
    in_viewport,
    open_judge_page,
    screenshot,
)
from tests.judging_support import BASELINE, CANDIDATE, judging_study, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _long(name: str, paragraphs: int = 60) -> str:
    body = "\n\n".join(
        f"{name} paragraph {i}: " + "a sentence that goes on and on " * 6 for i in range(paragraphs)
    )
    return f"{body}\n\nThe end of {name}."


def _scroll_to_end(page: Any) -> None:
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_timeout(100)


def _bar_choice(page: Any) -> str:
    return page.inner_text("#choice-state")


def _highlighted(page: Any) -> list[str]:
    """The verdict buttons drawn as chosen (by their computed colour, as a rater sees them)."""
    return page.eval_on_selector_all(
        "#verdict label.choice",
        """labels => { const plain = getComputedStyle(document.body).backgroundColor;
            return labels.filter(l => {
                const bg = getComputedStyle(l).backgroundColor;
                return bg !== 'rgb(255, 255, 255)' && bg !== plain && bg !== 'rgba(0, 0, 0, 0)';
            }).map(l => l.querySelector('kbd').textContent); }""",
    )


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_answer_bar_stays_in_view_and_every_key_shows_on_it(
    live_server: Any, browser: Any, size: tuple[int, int]
) -> None:
    judging_study(
        slug="bar",
        prompts=1,
        scale="ternary",
        criteria=["helpful"],
        outputs={CANDIDATE: [_long("candidate")], BASELINE: [_long("baseline")]},
    )
    make_user("bar-rater")
    page, watcher = open_judge_page(
        browser, live_server.url, username="bar-rater", slug="bar", size=size
    )
    assert in_viewport(page, "#answer-bar") and in_viewport(page, "#submit")
    assert "No verdict yet" in _bar_choice(page)
    assert "Criteria: 0 of 1 answered" in page.inner_text("#criteria-state")
    screenshot(page, "normal-pair", size)

    for key, label in (("1", "A better"), ("2", "Tie"), ("3", "B better")):
        page.keyboard.press(key)
        assert _bar_choice(page) == f"Your choice: {label}"
        assert _highlighted(page) == [key]
        assert label in page.inner_text("#status")
    # A key that does nothing says so.
    page.keyboard.press("q")
    assert "does nothing" in page.inner_text("#status")

    _scroll_to_end(page)
    assert page.evaluate("window.scrollY") > 1000  # the outputs are long
    assert in_viewport(page, "#answer-bar") and in_viewport(page, "#submit")
    page.keyboard.press("1")
    assert _bar_choice(page) == "Your choice: A better" and _highlighted(page) == ["1"]
    assert watcher.errors == [] and watcher.csp_violations() == []
    page.close()


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_long_outputs_flow_with_the_page_and_one_key_reaches_each(
    live_server: Any, browser: Any, size: tuple[int, int]
) -> None:
    judging_study(
        slug="long",
        prompts=1,
        outputs={CANDIDATE: [_long("candidate")], BASELINE: [_long("baseline", 25)]},
    )
    make_user("long-rater")
    page, watcher = open_judge_page(
        browser, live_server.url, username="long-rater", slug="long", size=size
    )
    # No scroll box inside the page: each output is as tall as its text.
    nested = page.eval_on_selector_all(
        ".output-body",
        "els => els.filter(e => e.scrollHeight > e.clientHeight + 1"
        " || ['auto', 'scroll'].includes(getComputedStyle(e).overflowY)).length",
    )
    assert nested == 0
    # Both continue below the window: each says so, just above the bar.
    assert page.is_visible("#continues-left > span")
    assert in_viewport(page, "#continues-left > span")
    marker_bottom = page.eval_on_selector(
        "#continues-left > span", "e => e.getBoundingClientRect().bottom"
    )
    bar_top = page.eval_on_selector("#answer-bar", "e => e.getBoundingClientRect().top")
    assert marker_bottom <= bar_top + 1

    # ] reaches response B in one key: focused, its start in view.
    page.keyboard.press("]")
    assert page.evaluate("document.activeElement.id") == "output-right"
    top = page.eval_on_selector("#card-right", "e => e.getBoundingClientRect().top")
    assert 0 <= top < 60
    assert "Response B" in page.inner_text("#status")
    # [ goes to A; pressing it again reads on, down to A's end, where its marker goes away.
    page.keyboard.press("[")
    assert page.evaluate("document.activeElement.id") == "output-left"
    assert page.eval_on_selector("#card-left", "e => e.getBoundingClientRect().top") < 60
    for _ in range(60):
        if not page.is_visible("#continues-left > span"):
            break
        before = page.evaluate("window.scrollY")
        page.keyboard.press("[")
        assert page.evaluate("window.scrollY") > before
    assert not page.is_visible("#continues-left > span")
    assert page.is_visible("text=The end of candidate.")
    screenshot(page, "long-output-scrolled", size)
    _scroll_to_end(page)
    assert not page.is_visible("#continues-left > span") and not page.is_visible(
        "#continues-right > span"
    )
    # The help lists the keys.
    assert "Go to response A" in page.text_content("#shortcuts")
    assert "Go to response B" in page.text_content("#shortcuts")
    assert watcher.errors == [] and watcher.csp_violations() == []
    page.close()


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_an_empty_output_shows_a_note_not_a_blank_box(
    live_server: Any, browser: Any, size: tuple[int, int]
) -> None:
    judging_study(
        slug="empty", prompts=1, outputs={CANDIDATE: ["  \n\t "], BASELINE: ["A real answer."]}
    )
    make_user("empty-rater")
    page, watcher = open_judge_page(
        browser, live_server.url, username="empty-rater", slug="empty", size=size
    )
    notes = page.eval_on_selector_all(
        ".output-body .empty-note",
        "els => els.map(e => [e.closest('.output-body').id, e.textContent])",
    )
    assert len(notes) == 1 and notes[0][1] == "(empty response)"
    empty_side = notes[0][0]
    other = "output-right" if empty_side == "output-left" else "output-left"
    assert page.inner_text(f"#{other}").strip() == "A real answer."
    # Styled as the page's note (italic, muted), not as the model's text.
    style = page.eval_on_selector(
        f"#{empty_side} .empty-note", "e => getComputedStyle(e).fontStyle"
    )
    assert style == "italic"
    assert not page.is_visible("#continues-left > span") and not page.is_visible(
        "#continues-right > span"
    )
    screenshot(page, "empty-output", size)
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.wait_for_selector("#done:not([hidden])")
    assert watcher.errors == []
    page.close()
