"""Upload API: prompt sets and judgments as multipart files, summaries, line errors, 413."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from annotations.models import Comparison, Judgment, Prompt
from annotations.services.studies import study_create_or_update
from tests.api_support import assert_error_shape, token_client

pytestmark = pytest.mark.django_db

BASE = "base-model"
GOOD = "".join(
    json.dumps({"key": f"k{i}", "prompt": f"Question {i}?", "outputs": {BASE: "b", "cand": "c"}})
    + "\n"
    for i in range(3)
)


def _file(content: str | bytes, name: str = "set.jsonl") -> SimpleUploadedFile:
    data = content.encode() if isinstance(content, str) else content
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


@pytest.fixture
def study():
    return study_create_or_update(slug="up", baseline=BASE).study


def test_admin_loads_a_prompt_set_and_gets_the_summary(study) -> None:
    client = token_client("adm", "admin")
    response = client.post("/api/studies/up/prompts", {"file": _file(GOOD)}, format="multipart")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["prompts"] == 3 and body["prompts_added"] == 3
    assert body["outputs"] == 6 and body["comparisons"] == 3 and body["comparisons_added"] == 3
    assert body["filename"] == "set.jsonl" and body["study"] == "up"
    assert body["message"].startswith("Loaded set.jsonl into 'up': 3 prompts")
    assert Comparison.objects.filter(study=study).count() == 3
    again = client.post("/api/studies/up/prompts", {"file": _file(GOOD)}, format="multipart")
    assert again.json()["prompts_existing"] == 3 and again.json()["comparisons_added"] == 0


def test_a_bad_file_gets_line_numbered_problems_and_nothing_is_stored(study) -> None:
    bad = (
        GOOD
        + '{"key": "", "prompt": "x", "outputs": {"base-model": "b", "cand": "c"}}\n'
        + "not json\n"
    )
    response = token_client("adm", "admin").post(
        "/api/studies/up/prompts", {"file": _file(bad)}, format="multipart"
    )
    assert response.status_code == 400
    body = response.json()
    assert_error_shape(body, line=True)
    assert body["total"] == 2
    assert [e["line"] for e in body["errors"]] == [4, 5]
    assert body["errors"][0]["field"] == "key"
    assert "nothing was loaded" in body["detail"]
    assert Prompt.objects.filter(study=study).count() == 0


def test_judgments_import_over_the_api(study) -> None:
    client = token_client("adm", "admin")
    client.post("/api/studies/up/prompts", {"file": _file(GOOD)}, format="multipart")
    csv_text = "key,left,right,winner,rater\nk0,cand,base-model,left,ext-1\n"
    response = client.post(
        "/api/studies/up/judgments", {"file": _file(csv_text, "j.csv")}, format="multipart"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["judgments"] == 1 and body["judgments_added"] == 1 and body["raters"] == 1
    assert Judgment.objects.filter(comparison__study=study).count() == 1


def test_judgment_problems_name_their_line_and_field(study) -> None:
    client = token_client("adm", "admin")
    client.post("/api/studies/up/prompts", {"file": _file(GOOD)}, format="multipart")
    csv_text = (
        "key,left,right,winner,rater\n"
        "k0,cand,base-model,left,ext-1\n"
        "k1,cand,base-model,sideways,ext-1\n"
    )
    response = client.post(
        "/api/studies/up/judgments", {"file": _file(csv_text, "j.csv")}, format="multipart"
    )
    assert response.status_code == 400
    body = response.json()
    assert_error_shape(body, line=True)
    assert body["errors"][0]["line"] == 3 and body["errors"][0]["field"] == "winner"
    assert Judgment.objects.count() == 0


def test_missing_file_wrong_extension_and_unknown_study(study) -> None:
    client = token_client("adm", "admin")
    missing = client.post("/api/studies/up/prompts", {}, format="multipart")
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "file"
    wrong = client.post(
        "/api/studies/up/prompts", {"file": _file(GOOD, "set.xlsx")}, format="multipart"
    )
    assert wrong.status_code == 400 and "jsonl" in wrong.json()["errors"][0]["message"]
    unknown = client.post("/api/studies/nope/prompts", {"file": _file(GOOD)}, format="multipart")
    assert unknown.status_code == 404
    assert_error_shape(unknown.json())


def test_only_admins_upload(study) -> None:
    for role in ("rater", "researcher"):
        response = token_client(f"u-{role}", role).post(
            "/api/studies/up/prompts", {"file": _file(GOOD)}, format="multipart"
        )
        assert response.status_code == 403
        assert_error_shape(response.json())
    assert Prompt.objects.count() == 0


def test_a_declared_body_over_the_limit_gets_413_before_it_is_read(study, settings) -> None:
    settings.MAX_UPLOAD_BYTES = 1000
    token = token_client("adm", "admin")._credentials["HTTP_AUTHORIZATION"]
    big = b"x" * 200_000
    body = (
        b"--BOUND\r\nContent-Disposition: form-data; name=file; filename=set.jsonl\r\n\r\n"
        + big
        + b"\r\n--BOUND--\r\n"
    )
    # The stream is never read when the request is refused on its Content-Length.
    stream = io.BytesIO(body)
    response = Client().generic(
        "POST",
        "/api/studies/up/prompts",
        data=b"",
        content_type="multipart/form-data; boundary=BOUND",
        HTTP_AUTHORIZATION=token,
        CONTENT_LENGTH=str(len(body)),
        CONTENT_TYPE="multipart/form-data; boundary=BOUND",
        **{"wsgi.input": stream},
    )
    assert response.status_code == 413
    payload = response.json()
    assert_error_shape(payload)
    assert "at most" in payload["detail"] and payload["max_bytes"] > 1000
    assert stream.tell() == 0
    assert Prompt.objects.count() == 0


def test_a_file_over_the_limit_within_the_framing_slack_gets_413(study, settings) -> None:
    settings.MAX_UPLOAD_BYTES = 100
    response = token_client("adm", "admin").post(
        "/api/studies/up/prompts", {"file": _file(GOOD)}, format="multipart"
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["field"] == "file"
    assert response.json()["max_bytes"] == 100
    assert Prompt.objects.count() == 0


def test_a_json_body_over_the_memory_limit_gets_413_not_400(study, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = token_client("adm", "admin").patch(
        "/api/studies/up", {"description": "x" * 5000}, format="json"
    )
    assert response.status_code == 413
    assert_error_shape(response.json())
    study.refresh_from_db()
    assert study.description == ""


def test_a_form_field_over_the_memory_limit_gets_413_not_400(study, settings) -> None:
    # Django's own limit on the non-file parts of a multipart body, raised while it is parsed.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = token_client("adm", "admin").post(
        "/api/studies/up/prompts", {"file": _file(GOOD), "note": "x" * 5000}, format="multipart"
    )
    assert response.status_code == 413
    assert_error_shape(response.json())
    assert Prompt.objects.count() == 0
