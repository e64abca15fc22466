"""The rater-quality study settings: --min-seconds and threshold overrides, checked going in."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from annotations.models import Study
from annotations.services.studies import study_create_or_update
from tests.judging_support import user_token

pytestmark = pytest.mark.django_db


def test_create_study_sets_min_seconds_and_refuses_a_negative_one() -> None:
    call_command("create_study", "q1", "--baseline", "base", "--min-seconds", "0")
    assert Study.objects.get(slug="q1").min_seconds == 0
    with pytest.raises(CommandError, match="min_seconds"):
        call_command("create_study", "q1", "--baseline", "base", "--min-seconds", "-1")
    assert Study.objects.get(slug="q1").min_seconds == 0


def test_threshold_overrides_are_checked_by_name_and_value() -> None:
    study = study_create_or_update(slug="q2", baseline="base").study
    with pytest.raises(ValidationError, match="unknown quality threshold"):
        study_create_or_update(slug="q2", baseline="base", quality_thresholds={"nope": 1})
    with pytest.raises(ValidationError, match="must be an object"):
        study_create_or_update(slug="q2", baseline="base", quality_thresholds=[1])
    study.refresh_from_db()
    assert study.quality_thresholds == {}


def test_the_api_takes_the_quality_settings_and_names_a_bad_one() -> None:
    study_create_or_update(slug="q3", baseline="base")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {user_token('q-admin', 'admin')}")
    answer = client.patch("/api/studies/q3", {"min_seconds": 5}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["min_seconds"] == 5
    refused = client.patch("/api/studies/q3", {"quality_thresholds": {"nope": 2}}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "quality_thresholds"
