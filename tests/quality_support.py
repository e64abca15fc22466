"""Test helpers for quality control: gold files, served items, answers through the services."""

from __future__ import annotations

import io
import json
from typing import Any

from annotations.models import Assignment, ControlCheck, Study, User
from annotations.services.assignment import assignment_next
from annotations.services.judging import judgment_submit
from annotations.services.loading.gold import gold_load
from annotations.services.quality import control_answer_submit
from tests.judging_support import BASELINE, CANDIDATE


def gold_file(rows: list[dict[str, Any]]) -> io.BytesIO:
    return io.BytesIO("".join(json.dumps(row) + "\n" for row in rows).encode())


def attention_checks(study: Study, n: int, *, prefix: str = "gold") -> None:
    """`n` self-contained attention checks: the better output says so."""
    rows = [
        {
            "key": f"{prefix}-{i}",
            "prompt": f"Which answer says 2 + 2 = 4? ({prefix} {i})",
            "better_output": f"2 + 2 = 4 ({i})",
            "worse_output": f"2 + 2 = 5 ({i})",
        }
        for i in range(n)
    ]
    gold_load(study=study, file=gold_file(rows), filename="gold.jsonl")


def pair_gold(study: Study, keys: list[str]) -> None:
    """Gold on loaded outputs: the candidate is better on each prompt key."""
    rows = [{"key": key, "better": CANDIDATE, "worse": BASELINE} for key in keys]
    gold_load(study=study, file=gold_file(rows), filename="gold.jsonl")


def check_of(lease: Assignment) -> ControlCheck | None:
    """The control item behind a served lease, or None for a regular pair."""
    if Assignment.objects.filter(pk=lease.pk).exists():
        return None
    return ControlCheck.objects.get(pk=lease.pk)


def answer(study: Study, rater: User, *, right: bool | None = None, winner: str = "left") -> str:
    """Ask for the next item and answer it; 'gold', 'repeat', 'data' or 'none'.

    right=True answers a gold item correctly, False wrongly; otherwise `winner` (on screen).
    """
    lease = assignment_next(study=study, rater=rater)
    if lease is None:
        return "none"
    check = check_of(lease)
    if check is None:
        judgment_submit(assignment=lease, rater=rater, winner=winner)
        return "data"
    if right is not None and check.kind == "gold":
        better_left = check.left_is_a
        winner = "left" if better_left == right else "right"
    control_answer_submit(check=check, rater=rater, winner=winner)
    return check.kind
