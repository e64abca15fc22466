"""Small samples do not look precise: a 0/0/3 record is marked, on the page and in the JSON."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client

from annotations.analysis.cache import study_results
from tests.judging_support import make_user
from tests.results_support import BASELINE, hand_study

pytestmark = pytest.mark.django_db


def test_a_zero_zero_three_record_is_degenerate_unreliable_and_says_so(tmp_path: Path) -> None:
    cache.clear()
    # Alpha loses all three of its judgments against the baseline.
    rows = [(f"p{i}", "Alpha", BASELINE, "right", f"r{i}") for i in (1, 2, 3)]
    study = hand_study(tmp_path, rows=rows)
    alpha = next(g for g in study_results(study=study)["generators"] if g["name"] == "Alpha")
    assert (alpha["wins"], alpha["ties"], alpha["losses"]) == (0, 0, 3)
    assert alpha["ci_low"] == alpha["ci_high"] == 0.0
    assert alpha["reliable"] is False
    client = Client()
    client.force_login(make_user("small-researcher", "researcher"))
    page = client.get(f"/studies/{study.slug}/results/").content.decode()
    row = page[page.index("<td>Alpha") : page.index("</tr>", page.index("<td>Alpha"))]
    assert "0.0% \u2013 0.0%" in row and "degenerate" in row and "few data" in row
