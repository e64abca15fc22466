"""Server-rendered rater pages: study list with progress, judging page shell, roles, CSP."""

from __future__ import annotations

import pytest
from django.test import Client

from annotations.models import User
from annotations.services.assignment import assignment_next
from annotations.services.judging import judgment_submit
from tests.judging_support import BASELINE, CANDIDATE, TEST_PASSWORD, judging_study, make_user

pytestmark = pytest.mark.django_db


def _login(username: str, role: str = "rater") -> Client:
    make_user(username, role)
    client = Client()
    assert client.login(username=username, password=TEST_PASSWORD)
    return client


def test_home_lists_open_studies_with_the_raters_progress() -> None:
    study = judging_study(slug="open-one", name="Open one", prompts=3)
    judging_study(slug="closed-one", name="Closed one", prompts=1, is_open=False)
    client = _login("r1")
    user = User.objects.get(username="r1")
    judgment_submit(assignment=assignment_next(study=study, rater=user), rater=user, winner="left")
    page = client.get("/").content.decode()
    assert "Open one" in page and "Closed one" not in page
    assert '<td class="num">1</td>' in page  # judged
    assert '<td class="num">2</td>' in page  # remaining
    assert "/studies/open-one/judge/" in page


def test_judge_page_has_form_shortcuts_csp_and_no_model_names() -> None:
    judging_study(
        slug="s1",
        prompts=1,
        scale="likert7",
        criteria=["helpful", "harmless"],
        flags=["hallucination"],
        rationale="required",
        instructions="Read **both** answers. <script>bad()</script>",
    )
    response = _login("r1").get("/studies/s1/judge/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "object-src 'none'" in csp
    page = response.content.decode()
    assert page.count('name="verdict"') == 8  # 7 points + both bad
    assert 'name="criterion-helpful"' in page and 'name="criterion-harmless"' in page
    assert page.count('name="flag-left"') == 1 and page.count('name="flag-right"') == 1
    assert "<strong>both</strong>" in page and "&lt;script&gt;bad()" in page
    assert 'id="rationale"' in page and "aria-required" in page
    assert 'aria-live="polite"' in page
    for secret in (BASELINE, CANDIDATE):
        assert secret not in page


def test_judge_page_forbids_other_roles_and_hides_closed_studies() -> None:
    judging_study(slug="s1", prompts=1)
    judging_study(slug="s2", prompts=1, is_open=False)
    for role in ("researcher", "admin"):
        response = _login(f"u-{role}", role).get("/studies/s1/judge/")
        assert response.status_code == 403
        assert "Raters only" in response.content.decode()
    assert _login("r1").get("/studies/s2/judge/").status_code == 404
    anonymous = Client().get("/studies/s1/judge/")
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
