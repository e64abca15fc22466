"""Inputs that used to crash the loaders are refused with their line and field, wherever sent.

Each bad file goes through the service, the management command, the admin upload page and the
upload API; each must answer the same line-numbered problems and write nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils.html import escape

from annotations.models import Comparison, Generator, Judgment, Output, Prompt, User
from annotations.services.generators import (
    generator_get_or_create,
    generator_name_key,
    generator_update,
)
from annotations.services.loading import Problem, judgments_import, prompt_set_load
from annotations.services.users import user_create_or_update
from tests.api_support import assert_error_shape, token_client
from tests.loading_support import BASELINE, NESTED, jsonl, load, make_study, problems, write

pytestmark = pytest.mark.django_db

UPLOAD_PAGE = "/admin/annotations/study/upload/"
KINDS = {
    "prompts": (prompt_set_load, "load_prompts"),
    "judgments": (judgments_import, "import_judgments"),
}
JUDGMENT = {"key": "sum", "left": "GPT 4", "right": BASELINE, "winner": "left", "rater": "w1"}
DEEP = "[" * 5000 + "]" * 5000


@pytest.fixture
def study(tmp_path):
    study = make_study(slug="hard", scale="likert5")
    load(study, tmp_path, jsonl(*NESTED))
    return study


def _snapshot(study: Any) -> tuple[Any, ...]:
    return (
        Prompt.objects.filter(study=study).count(),
        Output.objects.filter(study=study).count(),
        Comparison.objects.filter(study=study).count(),
        Judgment.objects.filter(comparison__study=study).count(),
        sorted(Generator.objects.filter(study=study).values_list("name", "family", "size")),
        User.objects.count(),
    )


def refused_everywhere(
    study: Any, tmp_path: Path, kind: str, name: str, content: str | bytes
) -> list[tuple[int | None, str, str]]:
    """The problems of a bad file, the same from the service, command, admin page and API."""
    data = content.encode() if isinstance(content, str) else content
    service, command = KINDS[kind]
    path = write(tmp_path, name, data)
    before = _snapshot(study)
    found = problems(service, study=study, file=path)
    assert found

    with pytest.raises(CommandError) as info:
        call_command(command, str(path), study=study.slug)
    for line, field, message in found:
        assert str(Problem(line, field, message)) in str(info.value)

    admin = user_create_or_update(username="hard-admin", role="admin", password="x-Passw0rd-9")
    page_client = Client()
    page_client.force_login(admin.user)
    upload = SimpleUploadedFile(name, data, content_type="application/octet-stream")
    page = page_client.post(UPLOAD_PAGE, {"study": study.pk, "kind": kind, "file": upload})
    assert page.status_code == 200
    html = page.content.decode()
    for line, field, message in found:
        assert f"<td>{line}</td><td>{escape(field)}</td><td>{escape(message)}</td>" in html

    upload = SimpleUploadedFile(name, data, content_type="application/octet-stream")
    response = token_client("hard-api", "admin").post(
        f"/api/studies/{study.slug}/{kind}", {"file": upload}, format="multipart"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert_error_shape(body, line=True)
    assert [(e["line"], e["field"] or "", e["message"]) for e in body["errors"]] == found

    # Accounts made by the page and API clients aside, nothing was written.
    users = User.objects.exclude(username__in=["hard-admin", "hard-api"]).count()
    assert (*_snapshot(study)[:-1], users) == before
    return found


def _one(found: list[tuple[int | None, str, str]], line: int, field: str, *parts: str) -> None:
    assert any((n, f) == (line, field) and all(p in m for p in parts) for n, f, m in found), found


# --- JSON nested too deeply --------------------------------------------------------------------


def test_a_prompt_line_nested_5000_deep_is_refused_with_its_line(study, tmp_path):
    content = jsonl(NESTED[0]) + '{"key": "deep", "prompt": "p", "extra": ' + DEEP + "}\n"
    found = refused_everywhere(study, tmp_path, "prompts", "deep.jsonl", content)
    _one(found, 2, "", "nested too deeply")


def test_a_judgment_line_nested_5000_deep_is_refused_with_its_line(study, tmp_path):
    content = jsonl(JUDGMENT, DEEP)
    found = refused_everywhere(study, tmp_path, "judgments", "deep.jsonl", content)
    _one(found, 2, "", "nested too deeply")


def test_a_deeply_nested_json_body_to_the_upload_api_is_a_json_error(study):
    response = token_client("hard-api", "admin").generic(
        "POST", f"/api/studies/{study.slug}/prompts", DEEP, content_type="application/json"
    )
    assert 400 <= response.status_code < 500
    assert_error_shape(response.json())


# --- generator size ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0.5, 1e-300, 0, -3, 2**63, 1e30, "7B", True])
def test_a_generator_size_that_is_not_a_positive_whole_parameter_count_is_refused(
    study, tmp_path, size
):
    line = json.dumps({"generator": "GPT 4", "size": size})
    found = refused_everywhere(study, tmp_path, "prompts", "meta.jsonl", line + "\n")
    _one(found, 1, "size", "whole number", "9,223,372,036,854,775,807")


def test_a_whole_size_written_as_a_float_is_taken(study, tmp_path):
    load(study, tmp_path, jsonl({"generator": "GPT 4", "size": 7e9}))
    assert Generator.objects.get(study=study, name="GPT 4").size == 7_000_000_000


@pytest.mark.parametrize("size", [0.5, 2**63, 0])
def test_the_catalog_service_refuses_the_same_sizes(study, size):
    generator = Generator.objects.get(study=study, name="GPT 4")
    with pytest.raises(ValidationError) as info:
        generator_update(generator=generator, size=size)
    assert "size" in info.value.message_dict


# --- judgment strength -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strength", "says"),
    [
        ("²", "whole number"),
        ("--1", "whole number"),
        ("+-1", "whole number"),
        ("1.0", "whole number"),
        ("٣", "whole number"),
        ("9" * 5000, "from 1 to 2"),
        ("-" + "9" * 5000, "from 1 to 2"),
    ],
)
def test_a_strength_that_is_not_a_plain_whole_number_is_refused(study, tmp_path, strength, says):
    content = f"key,left,right,winner,rater,strength\nsum,GPT 4,{BASELINE},left,w1,{strength}\n"
    found = refused_everywhere(study, tmp_path, "judgments", "j.csv", content)
    _one(found, 2, "strength", says)


def test_a_plain_strength_with_spaces_still_counts(study, tmp_path):
    content = f"key,left,right,winner,rater,strength\nsum,GPT 4,{BASELINE},left,w1, 2 \n"
    judgments_import(study=study, file=write(tmp_path, "j.csv", content))
    assert Judgment.objects.get(comparison__study=study).preference == 2


# --- NUL characters ----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["rater", "key", "left", "rationale", "created_at", "winner"])
def test_a_nul_in_any_judgment_field_is_refused(study, tmp_path, field):
    row = {**JUDGMENT, "rationale": "fine", "created_at": "2024-05-01T10:00:00Z"}
    row[field] = row[field][:1] + "\x00" + row[field][1:]
    found = refused_everywhere(study, tmp_path, "judgments", "j.jsonl", jsonl(row))
    assert [(n, f) for n, f, _ in found] == [(1, field)], found


@pytest.mark.parametrize("field", ["key", "prompt", "output", "category", "generator"])
def test_a_nul_in_any_prompt_field_is_refused(study, tmp_path, field):
    row = {"key": "nul", "prompt": "P", "category": "c", "generator": "GPT 4", "output": "o"}
    row[field] = row[field][:1] + "\x00" + row[field][1:]
    found = refused_everywhere(study, tmp_path, "prompts", "p.jsonl", jsonl(row))
    _one(found, 1, field, "NUL")


def test_a_nul_in_a_csv_rater_is_refused(study, tmp_path):
    content = f"key,left,right,winner,rater\nsum,GPT 4,{BASELINE},left,w\x001\n"
    found = refused_everywhere(study, tmp_path, "judgments", "j.csv", content)
    _one(found, 2, "rater", "NUL")


# --- created_at outside years 1-9999 -----------------------------------------------------------


@pytest.mark.parametrize(
    "moment",
    [
        "-0001-01-01",
        "10000-01-01",
        "0000-01-01T00:00:00",
        "0001-01-01T00:30:00+01:00",  # 1 BC in UTC
        "9999-12-31T23:30:00-01:00",  # year 10000 in UTC
    ],
)
def test_a_created_at_outside_years_1_to_9999_is_refused(study, tmp_path, moment):
    content = f"key,left,right,winner,rater,created_at\nsum,GPT 4,{BASELINE},left,w1,{moment}\n"
    found = refused_everywhere(study, tmp_path, "judgments", "j.csv", content)
    _one(found, 2, "created_at")


def test_the_first_and_last_moments_of_the_range_are_taken(study, tmp_path):
    content = (
        "key,left,right,winner,rater,created_at\n"
        f"sum,GPT 4,{BASELINE},left,w1,0001-01-01T00:00:00Z\n"
        f"sum,GPT 4,{BASELINE},left,w2,9999-12-31T23:59:59+00:00\n"
    )
    judgments_import(study=study, file=write(tmp_path, "j.csv", content))
    years = sorted(j.created_at.year for j in Judgment.objects.filter(comparison__study=study))
    assert years == [1, 9999]


# --- near-duplicate model names ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "gpt 4",
        "GPT  4",
        "GPT 4\u200b",
        "\u202eGPT 4",
        "GPT\u00a04",
        "\uff27\uff30\uff34 4",  # full-width letters
        "G\u200dPT 4",
    ],
)
def test_a_new_model_named_like_an_existing_one_is_refused_naming_it(study, tmp_path, name):
    row = {"key": "sum", "prompt": "What is 2 + 2?", "generator": name, "output": "four"}
    found = refused_everywhere(study, tmp_path, "prompts", "near.jsonl", jsonl(row))
    _one(found, 1, "generator", "'GPT 4'")


def test_two_new_models_named_alike_in_one_file_are_refused(study, tmp_path):
    content = jsonl(
        {"key": "sum", "prompt": "What is 2 + 2?", "generator": "Zephyr", "output": "4"},
        {"key": "sum", "prompt": "What is 2 + 2?", "outputs": {"zephyr": "four"}},
    )
    found = refused_everywhere(study, tmp_path, "prompts", "near.jsonl", content)
    _one(found, 2, "outputs.zephyr", "'Zephyr'", "line 1")


def test_a_model_name_of_only_invisible_characters_is_refused(study, tmp_path):
    row = {"key": "sum", "prompt": "What is 2 + 2?", "generator": "\u200b\u200e", "output": "4"}
    found = refused_everywhere(study, tmp_path, "prompts", "blank.jsonl", jsonl(row))
    _one(found, 1, "generator", "visible")


def test_an_imported_judgment_naming_a_model_nearly_suggests_the_real_name(study, tmp_path):
    found = refused_everywhere(
        study, tmp_path, "judgments", "j.jsonl", jsonl({**JUDGMENT, "left": "gpt 4"})
    )
    _one(found, 1, "left", "unknown model 'gpt 4'", "'GPT 4'")


def test_the_name_key_folds_case_width_spacing_and_format_characters():
    full_width = "\uff27\uff30\uff34"
    assert generator_name_key(f" {full_width}\u00a0\u00a04\u200b ") == generator_name_key("gpt 4")
    assert generator_name_key("Straße") == generator_name_key("STRASSE")
    assert generator_name_key("GPT 4") != generator_name_key("GPT 4o")


def test_the_catalog_names_a_generator_refusing_near_duplicates(study):
    assert generator_get_or_create(study=study, name="GPT 4").name == "GPT 4"
    with pytest.raises(ValidationError) as info:
        generator_get_or_create(study=study, name="gpt  4")
    assert "'GPT 4'" in str(info.value)
    created = generator_get_or_create(study=study, name="Mistral 7B")
    assert Generator.objects.filter(study=study, pk=created.pk).exists()
