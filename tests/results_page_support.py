"""Studies for the results page's tests: hostile model names, many raters, hand-made results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from annotations.models import Study
from annotations.services.loading import judgments_import, prompt_set_load
from annotations.services.studies import study_create_or_update

BASE = "Base"
# A spreadsheet formula, and markup that is HTML, LaTeX and matplotlib mathtext at once.
FORMULA = '=HYPERLINK("http://evil.example","x")'
MARKUP = "<img src=x onerror=alert(1)> \\input{/etc/passwd} & 100% $x^2$ #_{a}~|[b]"
HOSTILE_NAMES = (FORMULA, MARKUP)


def hostile_study(tmp_path: Path, *, slug: str = "hostile") -> Study:
    """A vs-baseline study whose two candidates have hostile names: FORMULA wins its three
    judgments against Base, MARKUP ties one and loses one, and FORMULA beats MARKUP once."""
    study = study_create_or_update(slug=slug, baseline=BASE).study
    prompts = tmp_path / f"{slug}-prompts.jsonl"
    names = (*HOSTILE_NAMES, BASE)
    prompts.write_text(
        "".join(
            json.dumps(
                {
                    "key": f"p{i}",
                    "prompt": f"Question {i}?",
                    "outputs": {n: f"{n} {i}" for n in names},
                }
            )
            + "\n"
            for i in (1, 2, 3)
        )
    )
    prompt_set_load(study=study, file=prompts)
    rows = [
        ("p1", FORMULA, BASE, "left", "h1"),
        ("p2", BASE, FORMULA, "right", "h2"),
        ("p3", FORMULA, BASE, "left", "h1"),
        ("p1", MARKUP, BASE, "tie", "h2"),
        ("p2", MARKUP, BASE, "right", "h1"),
        ("p3", FORMULA, MARKUP, "left", "h2"),
    ]
    judgments = tmp_path / f"{slug}-judgments.jsonl"
    judgments.write_text(
        "".join(
            json.dumps({"key": k, "left": left, "right": right, "winner": w, "rater": r}) + "\n"
            for k, left, right, w, r in rows
        )
    )
    judgments_import(study=study, file=judgments)
    return study


def many_raters_study(tmp_path: Path, *, raters: int = 30, slug: str = "crowd") -> Study:
    """A study judged by `raters` raters: rater i judges Alpha against Base on i % 4 + 1
    prompts (so the raters table has distinct counts to sort and more rows than one page)."""
    study = study_create_or_update(slug=slug, baseline=BASE).study
    prompts = tmp_path / f"{slug}-prompts.jsonl"
    prompts.write_text(
        "".join(
            json.dumps(
                {
                    "key": f"q{i}",
                    "prompt": f"Prompt {i}",
                    "outputs": {"Alpha": f"a{i}", BASE: f"b{i}"},
                }
            )
            + "\n"
            for i in range(1, 5)
        )
    )
    prompt_set_load(study=study, file=prompts)
    lines = []
    for r in range(raters):
        for i in range(1, r % 4 + 2):
            winner = ("left", "right", "tie")[(r + i) % 3]
            lines.append(
                json.dumps(
                    {
                        "key": f"q{i}",
                        "left": "Alpha",
                        "right": BASE,
                        "winner": winner,
                        "rater": f"rater{r:02d}",
                    }
                )
                + "\n"
            )
    judgments = tmp_path / f"{slug}-judgments.jsonl"
    judgments.write_text("".join(lines))
    judgments_import(study=study, file=judgments)
    return study


def with_extras(results: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A copy of `results` with keys others add to the contract (filters, length control)."""
    return {**results, **extra}
