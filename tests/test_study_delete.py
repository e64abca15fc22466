"""Deleting a study takes everything of it along; its baseline alone cannot be deleted."""

from __future__ import annotations

import pytest
from django.db.models import RestrictedError

from annotations.models import Generator, Study
from annotations.services.studies import study_delete
from annotations.services.users import user_create_or_update
from tests.loading_support import BASELINE, NESTED, counts, import_, jsonl, load, make_study

pytestmark = pytest.mark.django_db

JUDGMENTS = (
    f"key,left,right,winner,rater\nhaiku,GPT 4,{BASELINE},left,w1\nsum,{BASELINE},GPT 4,tie,w2\n"
)


def _loaded_study(tmp_path, slug: str = "gone") -> Study:
    study = make_study(slug)
    load(study, tmp_path, jsonl(*NESTED))
    import_(study, tmp_path, JUDGMENTS)
    assert counts(study) == (2, 6, 4, 2)
    return study


def test_deleting_a_study_deletes_its_prompts_outputs_comparisons_and_judgments(tmp_path):
    study = _loaded_study(tmp_path)
    other = _loaded_study(tmp_path, slug="kept")
    study.delete()
    assert not Study.objects.filter(slug="gone").exists()
    assert not Generator.objects.filter(study_id=study.pk).exists()
    # The other study, which shares the imported rater accounts, is untouched.
    assert counts(other) == (2, 6, 4, 2)


def test_the_baseline_cannot_be_deleted_on_its_own(tmp_path):
    study = _loaded_study(tmp_path)
    with pytest.raises(RestrictedError):
        study.baseline.delete()
    assert Generator.objects.filter(pk=study.baseline_id).exists()


def test_an_admin_deletes_a_study_from_the_admin_pages(client, tmp_path):
    study = _loaded_study(tmp_path)
    admin = user_create_or_update(username="boss", role="admin", password="pw-12345678").user
    client.force_login(admin)
    url = f"/admin/annotations/study/{study.pk}/delete/"
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert b"Are you sure" in confirm.content
    response = client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Study.objects.filter(pk=study.pk).exists()


def test_the_bulk_delete_service_removes_one_study_and_nothing_else(tmp_path):
    study = _loaded_study(tmp_path)
    other = _loaded_study(tmp_path, slug="kept")
    study_delete(study=study)
    assert not Study.objects.filter(pk=study.pk).exists()
    assert counts(study) == (0, 0, 0, 0)
    assert not Generator.objects.filter(study_id=study.pk).exists()
    assert counts(other) == (2, 6, 4, 2)
