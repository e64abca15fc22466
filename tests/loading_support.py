"""Test helpers for loading: files written to a temporary folder, loaded through the services."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from annotations.models import Comparison, Judgment, Output, Prompt, Study
from annotations.services.loading import LoadError, judgments_import, prompt_set_load
from annotations.services.studies import study_create_or_update

BASELINE = "Base 7B"


def jsonl(*records: Any) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def make_study(slug: str = "load", **settings: Any) -> Study:
    return study_create_or_update(slug=slug, baseline=BASELINE, **settings).study


def load(study: Study, tmp_path: Path, content: str | bytes, name: str = "set.jsonl") -> Any:
    return prompt_set_load(study=study, file=write(tmp_path, name, content))


def import_(study: Study, tmp_path: Path, content: str | bytes, name: str = "j.csv") -> Any:
    return judgments_import(study=study, file=write(tmp_path, name, content))


def problems(call: Any, *args: Any, **kwargs: Any) -> list[tuple[int | None, str, str]]:
    """Run a loading call that must fail; return its problems as (line, field, message)."""
    with pytest.raises(LoadError) as info:
        call(*args, **kwargs)
    return [(p.line, p.field, p.message) for p in info.value.errors]


def counts(study: Study) -> tuple[int, int, int, int]:
    return (
        Prompt.objects.filter(study=study).count(),
        Output.objects.filter(study=study).count(),
        Comparison.objects.filter(study=study).count(),
        Judgment.objects.filter(comparison__study=study).count(),
    )


NESTED = [
    {
        "key": "haiku",
        "prompt": "Write a haiku about Kubernetes.",
        "category": "poetry",
        "outputs": {"GPT 4": "Pods drift like leaves", BASELINE: "k8s is nice", "Alpaca": "ok"},
    },
    {
        "key": "sum",
        "prompt": "What is 2 + 2?",
        "category": "math",
        "outputs": {"GPT 4": "4", BASELINE: "Four.", "Alpaca": "2 + 2 = 4"},
    },
]
