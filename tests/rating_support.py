"""Test helpers for rating: a study with comparisons, and users, made through the services."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from annotations.models import Comparison, Generator, Output, Prompt, Study, User
from annotations.services.studies import study_create_or_update
from annotations.services.users import user_create_or_update

BASELINE = "secret-baseline-model"
CANDIDATE = "secret-candidate-model"


def rating_study(
    *,
    slug: str = "rating",
    prompts: int = 3,
    outputs: dict[str, list[str]] | None = None,
    prompt_texts: list[str] | None = None,
    messages: list[Any] | None = None,
    **settings: Any,
) -> Study:
    """A study (vs_baseline) with one comparison per prompt, candidate as output_a.

    Until the loading service lands, prompts and outputs go in with the ORM in one transaction,
    in the canonical orientation the loader uses.
    """
    study = study_create_or_update(slug=slug, baseline=BASELINE, **settings).study
    outputs = outputs or {}
    with transaction.atomic():
        baseline = study.baseline
        candidate = Generator.objects.create(study=study, name=CANDIDATE)
        for i in range(prompts):
            text = prompt_texts[i] if prompt_texts else f"Prompt number {i}"
            prompt = Prompt.objects.create(
                study=study,
                key=f"p{i}",
                text=text,
                messages=messages[i] if messages else None,
            )
            cand_text = outputs.get(CANDIDATE, [])
            base_text = outputs.get(BASELINE, [])
            out_a = Output.objects.create(
                study=study,
                prompt=prompt,
                generator=candidate,
                text=cand_text[i] if i < len(cand_text) else f"candidate answer {i}",
            )
            out_b = Output.objects.create(
                study=study,
                prompt=prompt,
                generator=baseline,
                text=base_text[i] if i < len(base_text) else f"baseline answer {i}",
            )
            Comparison.objects.create(study=study, prompt=prompt, output_a=out_a, output_b=out_b)
    return study


TEST_PASSWORD = "pw-for-tests-1"


def make_user(username: str, role: str = "rater", password: str | None = TEST_PASSWORD) -> User:
    return user_create_or_update(username=username, role=role, password=password).user


def user_token(username: str, role: str = "rater") -> str:
    return user_create_or_update(username=username, role=role).token
