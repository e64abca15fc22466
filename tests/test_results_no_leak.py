"""Raters cannot tell from the results and raters pages which study slugs exist."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.judging_support import judging_study, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["results/", "results/figure.svg", "results/version", "raters/"])
def test_a_rater_gets_the_same_answer_for_a_real_and_a_made_up_study(path: str) -> None:
    judging_study(slug="secret", prompts=1, access="invite")
    client = Client()
    client.force_login(make_user("nosy"))
    real = client.get(f"/studies/secret/{path}")
    made_up = client.get(f"/studies/no-such-study/{path}")
    assert real.status_code == made_up.status_code == 403
