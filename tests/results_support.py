"""A small study with hand-countable results, built through the loader and the importer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from annotations.models import Study
from annotations.services.loading import judgments_import, prompt_set_load
from annotations.services.studies import study_create_or_update

BASELINE = "Base"

PROMPTS = [
    {"key": "p1", "prompt": "What is 2 + 2?", "category": "math"},
    {"key": "p2", "prompt": "What is 3 * 3?", "category": "math"},
    {"key": "p3", "prompt": "A haiku about rain.", "category": "poetry"},
    {"key": "p4", "prompt": "A limerick about cats.", "category": "poetry"},
]

# key, left, right, winner, rater. Outcomes for the candidate against Base are in the comments;
# "Base on the left and left chosen" is a loss for the candidate.
JUDGMENTS = [
    ("p1", "Alpha", "Base", "left", "r1"),  # Alpha win
    ("p1", "Base", "Alpha", "right", "r2"),  # Alpha win
    ("p2", "Alpha", "Base", "left", "r1"),  # Alpha win
    ("p2", "Base", "Alpha", "left", "r2"),  # Alpha LOSS (baseline shown left, chosen)
    ("p3", "Alpha", "Base", "tie", "r1"),  # Alpha tie
    ("p3", "Base", "Alpha", "both_bad", "r2"),  # Alpha tie (both bad)
    ("p4", "Alpha", "Base", "right", "r1"),  # Alpha loss
    ("p1", "Beta", "Base", "right", "r1"),  # Beta loss
    ("p2", "Base", "Beta", "left", "r1"),  # Beta loss
    ("p3", "Beta", "Base", "left", "r2"),  # Beta win
    ("p4", "Base", "Beta", "tie", "r2"),  # Beta tie
    ("p1", "Alpha", "Beta", "left", "r1"),  # not against the baseline: Bradley-Terry only
    ("p2", "Beta", "Alpha", "right", "r2"),  # not against the baseline: Bradley-Terry only
]


def prompt_lines(sizes: dict[str, tuple[str, float]] | None = None) -> str:
    lines = []
    for spec in PROMPTS:
        outputs = {name: f"{name} answers {spec['key']}" for name in ("Alpha", "Beta", BASELINE)}
        lines.append(json.dumps({**spec, "outputs": outputs}))
    for name, (family, size) in (sizes or {}).items():
        lines.append(json.dumps({"generator": name, "family": family, "size": size}))
    return "\n".join(lines) + "\n"


def judgments_csv(rows: list[tuple[str, str, str, str, str]]) -> str:
    return "key,left,right,winner,rater\n" + "".join(",".join(r) + "\n" for r in rows)


def hand_study(
    tmp_path: Path,
    *,
    slug: str = "hand",
    rows: list[tuple[str, str, str, str, str]] | None = None,
    sizes: dict[str, tuple[str, float]] | None = None,
    **settings: Any,
) -> Study:
    """The hand-counted study: prompts and outputs loaded, then JUDGMENTS (or `rows`) imported."""
    study = study_create_or_update(slug=slug, baseline=BASELINE, **settings).study
    prompts = tmp_path / f"{slug}-prompts.jsonl"
    prompts.write_text(prompt_lines(sizes))
    prompt_set_load(study=study, file=prompts)
    judgments = JUDGMENTS if rows is None else rows
    if judgments:
        path = tmp_path / f"{slug}-judgments.csv"
        path.write_text(judgments_csv(judgments))
        judgments_import(study=study, file=path)
    return study


def import_rows(study: Study, tmp_path: Path, rows: list[tuple[str, str, str, str, str]]) -> None:
    path = tmp_path / f"{study.slug}-more.csv"
    path.write_text(judgments_csv(rows))
    judgments_import(study=study, file=path)
