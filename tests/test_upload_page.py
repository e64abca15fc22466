"""The admin upload page: staff only, summaries, line-numbered problems, size limit, browser."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotations.models import Judgment, Output
from annotations.services.users import user_create_or_update
from tests.loading_support import BASELINE, NESTED, jsonl, make_study

URL = "/admin/annotations/study/upload/"
PASSWORD = "upload-test-Passw0rd"


def _admin(username: str = "boss") -> Any:
    return user_create_or_update(username=username, role="admin", password=PASSWORD).user


def _post(client: Any, study: Any, kind: str, name: str, content: str) -> Any:
    upload = SimpleUploadedFile(name, content.encode(), content_type="application/octet-stream")
    return client.post(URL, {"study": study.pk, "kind": kind, "file": upload})


@pytest.mark.django_db
def test_the_url_is_the_admins_upload_page():
    assert reverse("admin:annotations_study_upload") == URL


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["rater", "researcher"])
def test_only_staff_reach_the_page(client, role):
    client.force_login(user_create_or_update(username=f"u-{role}", role=role).user)
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_study_change_page_links_to_the_upload_page(client):
    study = make_study(slug="linked")
    client.force_login(_admin())
    page = client.get(f"/admin/annotations/study/{study.pk}/change/").content.decode()
    assert f"{URL}?study={study.pk}" in page
    form = client.get(f"{URL}?study={study.pk}").content.decode()
    assert f'<option value="{study.pk}" selected>' in form


@pytest.mark.django_db
def test_a_prompt_set_then_judgments_show_the_commands_summaries(client):
    study = make_study(slug="web")
    client.force_login(_admin())
    response = _post(client, study, "prompts", "set.jsonl", jsonl(*NESTED))
    assert response.status_code == 200
    assert (
        "Loaded set.jsonl into &#x27;web&#x27;: 2 prompts (0 already there)"
        in response.content.decode()
    )
    assert Output.objects.filter(study=study).count() == 6
    judgments = f"key,left,right,winner,rater\nhaiku,GPT 4,{BASELINE},left,w1\n"
    response = _post(client, study, "judgments", "j.csv", judgments)
    assert "Imported j.csv into" in response.content.decode()
    assert Judgment.objects.filter(comparison__study=study).count() == 1


@pytest.mark.django_db
def test_a_bad_file_shows_every_problem_with_its_line_and_field(client):
    study = make_study(slug="bad")
    client.force_login(_admin())
    content = jsonl(NESTED[0], {"key": "x", "prompt": {"no": 1}}, "not json")
    page = _post(client, study, "prompts", "bad.jsonl", content).content.decode()
    assert "bad.jsonl: 2 problems; nothing was loaded." in page
    assert (
        "<td>2</td><td>prompt</td><td>must be a string or a list of messages, not an object</td>"
        in page
    )
    assert "<td>3</td><td></td><td>not JSON: Expecting value at column 1</td>" in page
    assert Output.objects.filter(study=study).count() == 0


@pytest.mark.django_db
def test_more_than_fifty_problems_end_with_a_count(client):
    study = make_study(slug="many")
    client.force_login(_admin())
    page = _post(client, study, "prompts", "bad.jsonl", "x\n" * 55).content.decode()
    assert page.count("not JSON") == 50
    assert "... and 5 more problems" in page


@pytest.mark.django_db
def test_files_over_the_upload_limit_are_refused_with_a_clear_message(client, settings):
    settings.MAX_UPLOAD_BYTES = 100
    study = make_study(slug="big")
    client.force_login(_admin())
    page = _post(client, study, "prompts", "set.jsonl", jsonl(*NESTED)).content.decode()
    assert "uploads are limited to 0.0 MB" in page
    assert "manage.py load_prompts" in page
    assert Output.objects.filter(study=study).count() == 0


@pytest.mark.django_db
def test_other_file_types_are_refused(client):
    study = make_study(slug="types")
    client.force_login(_admin())
    page = _post(client, study, "prompts", "set.xlsx", "x").content.decode()
    assert "Choose a .jsonl or .csv file." in page


# Browser tests: a real Chromium (the `browser` fixture of conftest.py) against the live server.


def _upload_in_browser(browser: Any, live_server: Any, study: Any, kind: str, path: Any) -> Any:
    page = browser.new_page()
    page.goto(f"{live_server.url}/admin/login/?next={URL}")
    page.fill("#id_username", "boss")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{URL}")
    page.select_option("#id_study", str(study.pk))
    page.check(f"input[name=kind][value={kind}]")
    page.set_input_files("#id_file", str(path))
    page.click("#upload-form input[type=submit]")
    page.wait_for_load_state()
    return page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_an_admin_loads_a_prompt_set(browser, live_server, tmp_path):
    study = make_study(slug="browser-ok")
    _admin()
    path = tmp_path / "set.jsonl"
    path.write_text(jsonl(*NESTED))
    page = _upload_in_browser(browser, live_server, study, "prompts", path)
    summary = page.text_content("#load-summary")
    assert summary.startswith("Loaded set.jsonl into 'browser-ok': 2 prompts")
    assert Output.objects.filter(study=study).count() == 6
    page.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_a_bad_judgment_file_lists_its_problems(browser, live_server, tmp_path):
    study = make_study(slug="browser-bad")
    _admin()
    path = tmp_path / "j.csv"
    path.write_text("key,left,right,winner,rater\nnope,A,B,maybe,w1\n")
    page = _upload_in_browser(browser, live_server, study, "judgments", path)
    rows = page.locator("#load-errors tbody tr").all_text_contents()
    assert len(rows) == 4
    assert "unknown prompt key 'nope'" in rows[0]
    assert "j.csv: 4 problems; nothing was loaded." in page.text_content("#load-errors")
    page.close()


@pytest.mark.django_db
def test_gold_pairs_load_from_the_upload_page(client):
    study = make_study(slug="gold-web")
    client.force_login(_admin())
    _post(client, study, "prompts", "set.jsonl", jsonl(*NESTED))
    gold = "key,prompt,better_output,worse_output\natt-1,Say hi,Hi!,Go away.\n"
    response = _post(client, study, "gold", "gold.csv", gold)
    assert "gold.csv: 1 gold items for study &#x27;gold-web&#x27; (1 added" in (
        response.content.decode()
    )
    bad = "key,better,worse\nnope,GPT 4,Nobody\n"
    response = _post(client, study, "gold", "bad.csv", bad)
    page = response.content.decode()
    assert "<td>2</td><td>key</td><td>no prompt with key &#x27;nope&#x27;" in page
    assert study.gold_items.count() == 1
