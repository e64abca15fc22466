"""Test data for exports: studies with hand-built votes, made through the project's services.

Prompts, outputs and comparisons go in with the ORM in one transaction (in the canonical
orientation: output_a the candidate, output_b the baseline) until the loading service is
available to every test module; judgments are written directly so that a test can choose each
vote, the order shown and the time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction

from annotations.models import Comparison, Generator, Judgment, Output, Prompt, Study, User
from annotations.services.studies import study_create_or_update
from annotations.services.users import user_create_or_update

BASELINE = "base-model"


@dataclass
class PromptSpec:
    key: str
    text: str
    outputs: dict[str, str]
    messages: list[dict[str, str]] | None = None
    category: str = ""


@dataclass
class StudyData:
    study: Study
    comparisons: dict[tuple[str, str], Comparison] = field(default_factory=dict)

    def comparison(self, key: str, candidate: str) -> Comparison:
        return self.comparisons[(key, candidate)]


def export_study(*, slug: str, prompts: list[PromptSpec], **settings: Any) -> StudyData:
    """A vs_baseline study: every non-baseline output of a prompt against the baseline's."""
    study = study_create_or_update(slug=slug, baseline=BASELINE, **settings).study
    data = StudyData(study=study)
    with transaction.atomic():
        generators = {BASELINE: study.baseline}
        for spec in prompts:
            prompt = Prompt.objects.create(
                study=study,
                key=spec.key,
                text=spec.text,
                messages=spec.messages,
                category=spec.category,
            )
            outputs = {}
            for name, text in spec.outputs.items():
                if name not in generators:
                    generators[name] = Generator.objects.create(study=study, name=name)
                outputs[name] = Output.objects.create(
                    study=study, prompt=prompt, generator=generators[name], text=text
                )
            for name, output in outputs.items():
                if name == BASELINE:
                    continue
                data.comparisons[(spec.key, name)] = Comparison.objects.create(
                    study=study, prompt=prompt, output_a=output, output_b=outputs[BASELINE]
                )
    return data


def rater(username: str, role: str = "rater") -> User:
    return user_create_or_update(username=username, role=role, password="pw-for-tests-1").user


def judge(
    comparison: Comparison,
    user: User,
    preference: int,
    *,
    both_bad: bool = False,
    left_is_a: bool = True,
    criteria: dict[str, int] | None = None,
    flags: dict[str, list[str]] | None = None,
    rationale: str = "",
    duration_ms: int | None = 1500,
    created_at: datetime | None = None,
    source: str = "web",
) -> Judgment:
    with transaction.atomic():
        extra = {"created_at": created_at} if created_at else {}
        judgment = Judgment.objects.create(
            comparison=comparison,
            rater=user,
            scale=comparison.study.scale,
            preference=preference,
            both_bad=both_bad,
            left_is_a=left_is_a,
            criteria=criteria or {},
            flags=flags or {},
            rationale=rationale,
            duration_ms=duration_ms,
            source=source,
            **extra,
        )
        Comparison.objects.filter(pk=comparison.pk).update(
            judgment_count=judgment.comparison.judgments.count()
        )
    return judgment
