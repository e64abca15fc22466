"""The judging page in headless Chromium: keyboard judging, blinding, hostile outputs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from annotations.models import Assignment, AssignmentStatus, Judgment
from tests.judging_page_support import Watcher, login, wait_for_assignment
from tests.judging_support import BASELINE, CANDIDATE, judging_study, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rater_judges_with_the_keyboard_and_orientation_is_stored(
    live_server: Any, browser: Any
) -> None:
    study = judging_study(slug="kbd", prompts=5, scale="ternary", overlap=2)
    rater = make_user("kbd-rater")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watcher = Watcher(page)
    login(page, live_server.url, "kbd-rater")
    assert "Start judging" in page.content()
    page.goto(f"{live_server.url}/studies/kbd/judge/")

    shown: list[tuple[str, str]] = []  # (left text, verdict key)
    keys = ["1", "3", "2"]  # A better, B better, tie
    left = wait_for_assignment(page)
    assert page.inner_text("#judged") == "0" and page.inner_text("#remaining") == "5"
    for number, key in enumerate(keys, start=1):
        page.keyboard.press(key)
        page.keyboard.press("Enter")
        shown.append((left, key))
        page.wait_for_function(
            "n => document.getElementById('judged').textContent === String(n)",
            arg=number,
            polling=100,
        )
        left = wait_for_assignment(page, previous_left=left)
        assert page.inner_text("#remaining") == str(5 - number)
    # Skip the fourth with S; it is not judged and not served again.
    page.keyboard.press("s")
    page.wait_for_selector("text=Skipped.")
    wait_for_assignment(page, previous_left=left)
    assert page.inner_text("#remaining") == "1"

    judgments = list(Judgment.objects.filter(rater=rater).select_related("comparison__output_a"))
    assert len(judgments) == 3
    by_left_text = {}
    for judgment in judgments:
        a_text = judgment.comparison.output_a.text
        by_left_text[a_text if judgment.left_is_a else a_text.replace("candidate", "baseline")] = (
            judgment
        )
    expected_left_pref = {"1": 1, "3": -1, "2": 0}
    for left_text, key in shown:
        judgment = by_left_text[left_text]
        left_is_a = left_text.startswith("candidate")
        assert judgment.left_is_a == left_is_a
        sign = 1 if left_is_a else -1
        assert judgment.preference == sign * expected_left_pref[key]
        assert judgment.duration_ms is not None
    skipped = Assignment.objects.get(rater=rater, status=AssignmentStatus.SKIPPED)
    assert skipped.comparison_id not in {j.comparison_id for j in judgments}
    assert study.comparisons.count() == 5

    assert watcher.errors == [] and watcher.dialogs == []
    assert len(watcher.json_bodies) >= 8
    for body in [page.content(), *watcher.json_bodies]:
        assert BASELINE not in body and CANDIDATE not in body
    for body in watcher.json_bodies:
        json.loads(body)
    page.close()


def _nested_list(levels: int) -> str:
    return "".join("  " * i + f"- level {i}\n" for i in range(levels))


HOSTILE = "\n\n".join(
    [
        "<script>window.__pwned = 'script'; alert('script')</script>",
        "<img src=x onerror=\"window.__pwned='img'; alert('img')\">",
        "[click me](javascript:window.__pwned='link') and [also](JAVASCRIPT:alert(1))",
        "<a href=\"javascript:window.__pwned='a'\">raw anchor</a>",
        "\u202eright-to-left override: \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
        _nested_list(50),
        "`" * 3 + "html\n<script>window.__pwned='code'</script>\n" + "`" * 3,
        "| a | b |\n|---|---|\n| " + "x" * 3000 + " | y |",
    ]
)
HUGE = ("A long line without spaces " + "z" * 5000 + "\n\n") * 40  # about 200 KB


@pytest.mark.parametrize("width", [1280, 420])
def test_hostile_outputs_render_as_text_and_keep_the_layout(
    live_server: Any, browser: Any, width: int
) -> None:
    judging_study(
        slug="hostile",
        prompts=1,
        prompt_texts=["<script>window.__pwned='prompt'</script> Evaluate these."],
        outputs={CANDIDATE: [HOSTILE], BASELINE: [HUGE]},
    )
    make_user("victim")
    page = browser.new_page(viewport={"width": width, "height": 900})
    watcher = Watcher(page)
    login(page, live_server.url, "victim")
    page.goto(f"{live_server.url}/studies/hostile/judge/")
    wait_for_assignment(page)
    page.wait_for_timeout(300)

    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert watcher.dialogs == [] and watcher.errors == []
    assert page.evaluate("document.querySelectorAll('.md script, .md img, .md iframe').length") == 0
    hrefs = page.eval_on_selector_all(".md a", "els => els.map(e => e.getAttribute('href'))")
    assert all(h.startswith(("http:", "https:", "mailto:")) for h in hrefs)
    text = page.inner_text("#judge-form")
    assert "<script>window.__pwned = 'script'" in text
    assert "javascript:window.__pwned='link'" in text
    # Clicking the would-be links runs nothing either.
    for link in page.query_selector_all(".md a"):
        link.click(modifiers=["Control"])
    assert page.evaluate("typeof window.__pwned") == "undefined"
    # Layout: nothing wider than the viewport, outputs within their boxes.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    too_wide = page.evaluate(
        """() => [...document.querySelectorAll('.output, .prompt, .verdict, .actions')]
                 .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).length"""
    )
    assert too_wide == 0
    boxes = page.evaluate(
        """() => [...document.querySelectorAll('.output')]
                 .map(e => e.getBoundingClientRect()).map(r => [r.left, r.top, r.width])"""
    )
    if width >= 800:
        assert boxes[0][1] == boxes[1][1] and boxes[0][0] < boxes[1][0]  # side by side
    else:
        assert boxes[0][1] < boxes[1][1]  # stacked
    # The verdict controls stay usable with the hostile content on the page.
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_selector("#done:not([hidden])")
    assert Judgment.objects.count() == 1
    page.close()


def _shortcut_help(page: Any) -> dict[str, str]:
    """What the page's shortcut help says each letter picks: {"A": "A better", ...}."""
    items = page.eval_on_selector_all(
        "#shortcuts li",
        "els => els.map(e => [e.querySelector('kbd')?.textContent, e.textContent.trim()])",
    )
    return {
        key: text[len(key) :].strip()
        for key, text in items
        if key in ("A", "T", "B") and text.startswith(key + " ")
    }


def _checked_verdict(page: Any) -> str:
    """The label of the verdict button that is checked, without its number key."""
    return page.eval_on_selector(
        "#verdict",
        """set => {
            const input = set.querySelector('input[name=verdict]:checked');
            if (!input) return '';
            const label = input.closest('label');
            return label.textContent.replace(label.querySelector('kbd').textContent, '').trim();
        }""",
    )


@pytest.mark.parametrize(
    ("scale", "expected"),
    [
        ("likert7", {"A": "A better", "T": "Tie", "B": "B better"}),
        ("likert5", {"A": "A better", "T": "Tie", "B": "B better"}),
        ("ternary", {"A": "A better", "T": "Tie", "B": "B better"}),
    ],
)
def test_letter_shortcuts_pick_what_the_help_lists(
    live_server: Any, browser: Any, scale: str, expected: dict[str, str]
) -> None:
    judging_study(slug=f"keys-{scale}", prompts=1, scale=scale)
    make_user(f"keys-{scale}")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watcher = Watcher(page)
    login(page, live_server.url, f"keys-{scale}")
    page.goto(f"{live_server.url}/studies/keys-{scale}/judge/")
    wait_for_assignment(page)

    help_text = _shortcut_help(page)
    assert help_text == expected
    for letter, label in help_text.items():
        page.keyboard.press(letter.lower())
        assert _checked_verdict(page) == label
    # X picks "both are bad", as the help says (the studies allow it by default).
    assert "Both are bad" in page.text_content("#shortcuts")
    page.keyboard.press("x")
    assert _checked_verdict(page) == "Both are bad"
    assert watcher.errors == []
    page.close()
