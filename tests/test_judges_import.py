"""Automatic judges' verdicts (import_judgments --judge NAME): stored apart from the human
raters', never counted toward k, out of the human exports and roster unless asked for."""

from __future__ import annotations

import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from annotations.exports.registry import export_open
from annotations.models import Comparison, Judgment
from annotations.selectors.judgment_filters import judgment_filter_build
from annotations.selectors.roster import roster_rows
from annotations.services.assignment import assignment_next
from annotations.services.judging import judgment_submit
from annotations.services.loading import LoadError, judgments_import
from tests.api_support import token_client
from tests.judging_support import BASELINE, CANDIDATE, judging_study, make_user

pytestmark = pytest.mark.django_db


def _verdicts(keys: list[str], winner: str = "left") -> io.BytesIO:
    rows = [{"key": k, "left": CANDIDATE, "right": BASELINE, "winner": winner} for k in keys]
    return io.BytesIO("".join(json.dumps(r) + "\n" for r in rows).encode())


def _lines(study, name: str, **filters) -> list[dict]:
    export = export_open(
        study=study, format_name=name, filters=judgment_filter_build(study=study, **filters)
    )
    return [json.loads(x) for x in b"".join(export.chunks).decode().splitlines()]


def test_a_judges_verdicts_never_count_toward_k_nor_reach_human_exports() -> None:
    study = judging_study(prompts=3, overlap=1)
    summary = judgments_import(
        study=study, file=_verdicts(["p0", "p1", "p2"]), filename="j.jsonl", judge="gpt-4o"
    )
    assert summary.judge == "gpt-4o" and summary.judgments_added == 3
    assert "as automatic judge 'gpt-4o'" in str(summary)
    assert set(Judgment.objects.values_list("source", flat=True)) == {"judge"}
    assert set(Comparison.objects.values_list("judgment_count", flat=True)) == {0}
    # Every pair is still served to humans, k = 1 each.
    rater = make_user("human")
    for _ in range(3):
        lease = assignment_next(study=study, rater=rater)
        judgment_submit(assignment=lease, rater=rater, winner="right")
    assert assignment_next(study=study, rater=rater) is None
    human = _lines(study, "judgments-jsonl")
    assert len(human) == 3 and {row["source"] for row in human} == {"web"}
    judged = _lines(study, "judgments-jsonl", judge="gpt-4o")
    assert len(judged) == 3 and {row["source"] for row in judged} == {"judge"}
    assert [row["username"] for row in roster_rows(study=study, limit=10)] == ["human"]
    # Importing the same file again adds nothing.
    again = judgments_import(
        study=study, file=_verdicts(["p0", "p1", "p2"]), filename="j.jsonl", judge="gpt-4o"
    )
    assert again.judgments_added == 0


def test_an_unknown_judge_filter_names_the_judges_there_are() -> None:
    study = judging_study(prompts=1)
    judgments_import(study=study, file=_verdicts(["p0"]), filename="j.jsonl", judge="claude")
    with pytest.raises(ValidationError, match=r"no automatic judge 'gpt' .* judges: claude"):
        judgment_filter_build(study=study, judge="gpt")


def test_a_judge_may_not_add_pairs_the_study_does_not_compare() -> None:
    study = judging_study(prompts=2, pairing="all_pairs")
    # Remove one comparison, as if the design did not call for it.
    Comparison.objects.filter(prompt__key="p1").delete()
    with pytest.raises(LoadError, match="line 2, right: this pair is not one of the study's"):
        judgments_import(study=study, file=_verdicts(["p0", "p1"]), filename="j.jsonl", judge="x")
    assert not Judgment.objects.exists()


def test_the_command_and_the_upload_take_a_judge(tmp_path) -> None:
    study = judging_study(prompts=2)
    path = tmp_path / "j.csv"
    path.write_text(f"key,left,right,winner\np0,{CANDIDATE},{BASELINE},left\n")
    out = io.StringIO()
    call_command(
        "import_judgments", str(path), "--study", study.slug, "--judge", "gpt-4o", stdout=out
    )
    assert "automatic judge 'gpt-4o'" in out.getvalue()
    with pytest.raises(CommandError, match="judge name"):
        call_command("import_judgments", str(path), "--study", study.slug, "--judge", "bad name!")
    admin = token_client("boss", "admin")
    upload = SimpleUploadedFile("j.csv", path.read_bytes())
    response = admin.post(
        f"/api/studies/{study.slug}/judgments",
        {"file": upload, "judge": "llama-3"},
        format="multipart",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["judge"] == "llama-3"
    bad = admin.post(
        f"/api/studies/{study.slug}/judgments",
        {"file": SimpleUploadedFile("j.csv", path.read_bytes()), "judge": "no spaces"},
        format="multipart",
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "judge"
    assert Judgment.objects.filter(source="judge").count() == 2
