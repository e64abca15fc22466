"""The judging page's letter shortcuts come from the server's scale choices, help included."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from annotations.selectors.judging import scale_choices
from tests.judging_support import TEST_PASSWORD, judging_study, make_user


@pytest.mark.parametrize(
    ("scale", "letters"),
    [
        ("binary", {"A": "A better", "B": "B better"}),
        ("ternary", {"A": "A better", "T": "Tie", "B": "B better"}),
        ("likert5", {"A": "A better", "T": "Tie", "B": "B better"}),
        ("likert7", {"A": "A better", "T": "Tie", "B": "B better"}),
    ],
)
def test_each_letter_shortcut_is_on_exactly_one_choice(scale: str, letters: dict) -> None:
    choices = scale_choices(scale=scale)
    shortcuts = {c["shortcut"]: c["label"] for c in choices if c["shortcut"]}
    assert shortcuts == letters
    assert sum(1 for c in choices if c["shortcut"]) == len(letters)


def test_likert7_letters_pick_the_middle_strength_not_slightly_better() -> None:
    choices = scale_choices(scale="likert7")
    picked = {c["shortcut"]: (c["winner"], c["strength"]) for c in choices if c["shortcut"]}
    assert picked == {"A": ("left", 2), "T": ("tie", None), "B": ("right", 2)}


@pytest.mark.django_db
def test_judge_page_help_and_buttons_carry_the_same_shortcuts() -> None:
    judging_study(slug="keys", prompts=1, scale="likert7")
    make_user("r1")
    client = Client()
    assert client.login(username="r1", password=TEST_PASSWORD)
    page = client.get("/studies/keys/judge/").content.decode()
    help_section = page[
        page.index('id="shortcuts"') : page.index("</section>", page.index('id="shortcuts"'))
    ]
    helped = dict(re.findall(r"<li><kbd>([ATB])</kbd> ([^<]+)</li>", help_section))
    assert helped == {"A": "A better", "T": "Tie", "B": "B better"}
    buttons = dict(re.findall(r'data-shortcut="([ATBX])"><kbd>\d</kbd> ([^<]+)</label>', page))
    assert buttons == helped
    assert 'data-shortcut="X"' in page
