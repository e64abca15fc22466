"""Test helpers for judging: a study with comparisons, and users, made through the services."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from annotations.models import Study, User
from annotations.services import assignment as assignment_service
from annotations.services import judging as judging_service
from annotations.services.assignment import PickRule
from annotations.services.loading import judgments_import
from annotations.services.loading.prompts import prompt_set_load
from annotations.services.studies import study_create_or_update
from annotations.services.users import user_create_or_update

BASELINE = "secret-baseline-model"
CANDIDATE = "secret-candidate-model"


def judging_study(
    *,
    slug: str = "rating",
    prompts: int = 3,
    outputs: dict[str, list[str]] | None = None,
    prompt_texts: list[Any] | None = None,
    **settings: Any,
) -> Study:
    """A study (vs_baseline) with one comparison per prompt, loaded as an admin would.

    The candidate's output is output_a (canonical orientation). A prompt text may be a chat
    message list.
    """
    study = study_create_or_update(slug=slug, baseline=BASELINE, **settings).study
    outputs = outputs or {}
    lines = []
    for i in range(prompts):
        cand_text = outputs.get(CANDIDATE, [])
        base_text = outputs.get(BASELINE, [])
        record = {
            "key": f"p{i}",
            "prompt": prompt_texts[i] if prompt_texts else f"Prompt number {i}",
            "outputs": {
                CANDIDATE: cand_text[i] if i < len(cand_text) else f"candidate answer {i}",
                BASELINE: base_text[i] if i < len(base_text) else f"baseline answer {i}",
            },
        }
        lines.append(json.dumps(record))
    data = io.BytesIO(("\n".join(lines) + "\n").encode())
    prompt_set_load(study=study, file=data, filename="prompts.jsonl")
    study.refresh_from_db()
    return study


TEST_PASSWORD = "pw-for-tests-1"


def make_user(username: str, role: str = "rater", password: str | None = TEST_PASSWORD) -> User:
    return user_create_or_update(username=username, role=role, password=password).user


def user_token(username: str, role: str = "rater") -> str:
    return user_create_or_update(username=username, role=role).token


def judgments_import_one_each(study: Study, *, rater: str = "elsewhere") -> None:
    """One imported judgment on every comparison of a judging_study (candidate on the left)."""
    rows = [
        {"key": key, "left": CANDIDATE, "right": BASELINE, "winner": "left", "rater": rater}
        for key in study.prompts.values_list("key", flat=True)
    ]
    data = io.BytesIO("".join(json.dumps(row) + "\n" for row in rows).encode())
    judgments_import(study=study, file=data, filename="judgments.jsonl")


def pick_rule_use(monkeypatch: pytest.MonkeyPatch, rule: PickRule) -> None:
    """Make every study use `rule`, as a study whose settings called for it would."""
    # Both services ask study_pick_rule, each through its own imported name.
    monkeypatch.setattr(assignment_service, "study_pick_rule", lambda *, study: rule)
    monkeypatch.setattr(judging_service, "study_pick_rule", lambda *, study: rule)
