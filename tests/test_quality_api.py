"""Quality control from the outside: the rater API, the admin endpoints, the commands, the
exports and the roster, as researchers, admins and raters use them."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from annotations.exports.registry import export_open
from annotations.models import Comparison, ControlCheck, GoldItem, RaterEvent, Study
from annotations.selectors.judgment_filters import judgment_filter_build
from annotations.selectors.pseudonyms import rater_pseudonym
from annotations.selectors.roster import roster_rows
from annotations.services.assignment import assignment_next
from annotations.services.judging import judgment_submit
from tests.api_support import assert_error_shape, token_client
from tests.judging_support import BASELINE, CANDIDATE, judging_study, make_user
from tests.quality_support import answer, attention_checks

pytestmark = pytest.mark.django_db


def _export_lines(study: Study, name: str, **filters: object) -> list[dict]:
    export = export_open(
        study=study, format_name=name, filters=judgment_filter_build(study=study, **filters)
    )
    return [json.loads(line) for line in b"".join(export.chunks).decode().splitlines()]


def test_the_rater_api_serves_and_takes_a_gold_item_like_any_pair() -> None:
    study = judging_study(prompts=2, gold_rate=1.0)
    attention_checks(study, 1)
    rater = token_client("r1", "rater")
    served = rater.post(f"/api/studies/{study.slug}/assignments/next?progress=1", format="json")
    assert served.status_code == 200
    body = served.json()
    check = ControlCheck.objects.get(pk=body["id"])
    better = "left" if check.left_is_a else "right"
    assert body[better]["text"].startswith("2 + 2 = 4")
    assert set(body) == {
        "id",
        "prompt",
        "left",
        "right",
        "expires_at",
        "status",
        "study",
        "form",
        "progress",
    }
    judged = rater.post(
        f"/api/assignments/{body['id']}/judgment?progress=1", {"winner": better}, format="json"
    )
    assert judged.status_code == 201, judged.json()
    assert judged.json()["winner"] == better and judged.json()["progress"]["judged"] == 1
    again = rater.post(f"/api/assignments/{body['id']}/judgment", {"winner": "tie"}, format="json")
    assert again.status_code == 200 and again.json()["created"] is False
    revised = rater.post(
        f"/api/assignments/{body['id']}/revision", {"winner": "tie"}, format="json"
    )
    assert revised.status_code == 200 and revised.json()["revised_at"]
    check.refresh_from_db()
    assert check.correct is False
    # Another rater cannot touch it: 404 as for anyone's lease.
    other = token_client("r2", "rater")
    stranger = other.post(
        f"/api/assignments/{body['id']}/judgment", {"winner": "left"}, format="json"
    )
    assert stranger.status_code == 404
    nothing_judged = Comparison.objects.values_list("judgment_count", flat=True)
    assert set(nothing_judged) == {0}


def test_a_gold_item_can_be_skipped_through_the_api() -> None:
    study = judging_study(prompts=1, gold_rate=1.0)
    attention_checks(study, 1)
    rater = token_client("r1", "rater")
    served = rater.post(f"/api/studies/{study.slug}/assignments/next", format="json").json()
    skipped = rater.post(
        f"/api/assignments/{served['id']}/skip", {"reason": "unsure"}, format="json"
    )
    assert skipped.status_code == 200 and skipped.json()["status"] == "skipped"
    again = rater.post(f"/api/studies/{study.slug}/assignments/next", format="json").json()
    assert again["id"] != served["id"]  # the regular pair now


def test_gold_upload_through_the_api_checks_the_whole_file() -> None:
    study = judging_study(prompts=2)
    admin = token_client("boss", "admin")
    rows = [
        {"key": "p0", "better": CANDIDATE, "worse": BASELINE},
        {"key": "p9", "better": CANDIDATE, "worse": BASELINE},
        {"key": "att", "prompt": "x", "better_output": "y"},
        {"key": "mix", "better": CANDIDATE, "prompt": "x"},
    ]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    refused = admin.post(
        f"/api/studies/{study.slug}/gold",
        {"file": SimpleUploadedFile("gold.jsonl", data)},
        format="multipart",
    )
    assert refused.status_code == 400
    body = refused.json()
    assert_error_shape(body, line=True)
    assert [(e["line"], e["field"]) for e in body["errors"]] == [
        (2, "key"),
        (3, "worse_output"),
        (4, "better, prompt"),
    ]
    assert "no prompt with key 'p9'" in body["errors"][0]["message"]
    assert not GoldItem.objects.exists()
    good = "".join(json.dumps(r) + "\n" for r in rows[:1]).encode()
    for expected_added in (1, 0):
        loaded = admin.post(
            f"/api/studies/{study.slug}/gold",
            {"file": SimpleUploadedFile("gold.jsonl", good)},
            format="multipart",
        )
        assert loaded.status_code == 200, loaded.json()
        assert loaded.json()["items_added"] == expected_added
    study.refresh_from_db()
    assert study.gold_rate == 0.1  # the default, once gold exists


def test_load_gold_command_reads_csv_and_refuses_changed_texts(tmp_path) -> None:
    study = judging_study(prompts=2)
    path = tmp_path / "gold.csv"
    path.write_text("key,prompt,better_output,worse_output\natt,Say hi,Hi!,Bye.\n")
    out = io.StringIO()
    call_command("load_gold", str(path), "--study", study.slug, stdout=out)
    assert "1 added" in out.getvalue()
    path.write_text("key,prompt,better_output,worse_output\natt,Say hi,Hello!,Bye.\n")
    with pytest.raises(CommandError, match="line 2, key: gold item 'att' is already loaded"):
        call_command("load_gold", str(path), "--study", study.slug)
    assert GoldItem.objects.get().better_text == "Hi!"


def test_admins_exclude_and_include_through_the_api_and_results_follow() -> None:
    study = judging_study(prompts=4, overlap=2)
    bad, good = make_user("bad"), make_user("good")
    for rater, winner in ((bad, "right"), (good, "left")):
        for _ in range(4):
            lease = assignment_next(study=study, rater=rater)
            judgment_submit(assignment=lease, rater=rater, winner=winner)
    pseudonym = rater_pseudonym(study_id=study.pk, user_id=bad.pk)
    researcher = token_client("res", "researcher")
    admin = token_client("boss", "admin")
    url = f"/api/studies/{study.slug}/raters/{pseudonym}"
    assert researcher.post(f"{url}/exclude", {"reason": "x"}, format="json").status_code == 403
    missing = admin.post(f"{url}/exclude", {}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["errors"][0]["message"]
    excluded = admin.post(f"{url}/exclude", {"reason": "always right"}, format="json")
    assert excluded.status_code == 200
    assert excluded.json()["excluded"] is True and excluded.json()["excluded_by"] == "boss"
    assert (
        admin.post(f"{url}/exclude", {"reason": "again"}, format="json").json()["changed"] is False
    )
    # Exports leave the rater out unless asked.
    raters = {row["rater"] for row in _export_lines(study, "judgments-jsonl")}
    assert pseudonym not in raters and len(raters) == 1
    everyone = {
        row["rater"] for row in _export_lines(study, "judgments-jsonl", include_excluded=True)
    }
    assert pseudonym in everyone
    roster = {row["rater"]: row for row in roster_rows(study=study, limit=10)}
    assert roster[pseudonym]["excluded"] is True
    assert roster[pseudonym]["excluded_reason"] == "always right"
    included = admin.post(f"{url}/include", {}, format="json")
    assert included.status_code == 200 and included.json()["excluded"] is False
    actions = list(RaterEvent.objects.values_list("action", "actor"))
    assert actions == [("exclude", "boss"), ("include", "boss")]


def test_exclude_rater_command_takes_a_pseudonym_or_username() -> None:
    study = judging_study(prompts=2)
    rater = make_user("r1")
    answer(study, rater)
    out = io.StringIO()
    pseudonym = rater_pseudonym(study_id=study.pk, user_id=rater.pk)
    call_command("exclude_rater", pseudonym, "--study", study.slug, "--reason", "test", stdout=out)
    assert "excluded" in out.getvalue()
    event = RaterEvent.objects.get()
    assert (event.action, event.actor, event.reason) == ("exclude", "command line", "test")
    call_command("include_rater", "r1", "--study", study.slug, stdout=out)
    with pytest.raises(CommandError, match="no rater 'nobody'"):
        call_command("exclude_rater", "nobody", "--study", study.slug, "--reason", "x")
    with pytest.raises(CommandError, match="--reason"):
        call_command("exclude_rater", "r1", "--study", study.slug)


def test_the_qc_export_holds_the_control_answers_and_no_other_export_does() -> None:
    study = judging_study(prompts=3, gold_rate=1.0)
    attention_checks(study, 2)
    rater = make_user("r1")
    assert [answer(study, rater, right=ok) for ok in (True, False, None)] == [
        "gold",
        "gold",
        "data",
    ]
    qc = _export_lines(study, "qc")
    assert [(r["kind"], r["correct"], r["status"]) for r in qc] == [
        ("gold", True, "done"),
        ("gold", False, "done"),
    ]
    assert {r["gold_key"] for r in qc} == {"gold-0", "gold-1"}
    assert all(r["rater"] == rater_pseudonym(study_id=study.pk, user_id=rater.pk) for r in qc)
    assert qc[0]["answer"] == "a" and qc[1]["answer"] == "b"
    judgments = _export_lines(study, "judgments-jsonl")
    assert len(judgments) == 1


def test_the_roster_shows_gold_accuracy_with_its_wilson_interval() -> None:
    study = judging_study(prompts=8, gold_rate=1.0, gold_min_n=4)
    attention_checks(study, 4)
    study.refresh_from_db()
    careful, careless = make_user("careful"), make_user("careless")
    for rater, answers in (
        (careful, (True, True, True, False)),
        (careless, (False,) * 3 + (True,)),
    ):
        for ok in answers:
            assert answer(study, rater, right=ok) == "gold"
    # The careless rater is paused on their next request (1 of 4 is below 50%).
    assert answer(study, careless) == "none"
    rows = {row["username"]: row for row in roster_rows(study=study, limit=10)}
    row = rows["careful"]
    assert row["gold_n"] == 4 and row["gold_accuracy"] == 0.75
    # Wilson 95% for 3 of 4, worked by hand: (0.75 + z^2/8 -+ z sqrt(0.75*0.25/4 + z^2/64))
    # / (1 + z^2/4) with z = 1.959964.
    assert row["gold_ci_low"] == pytest.approx(0.3006, abs=1e-4)
    assert row["gold_ci_high"] == pytest.approx(0.9544, abs=1e-4)
    assert row["flagged"] is False and row["paused"] is False  # 75% is above 50%
    bad = rows["careless"]
    assert (bad["gold_accuracy"], bad["flagged"], bad["reasons"]) == (0.25, True, ["gold"])
    assert bad["paused"] is True and bad["excluded"] is False


def test_the_raters_page_buttons_exclude_and_include_with_a_reason(client) -> None:
    study = judging_study(prompts=2)
    rater = make_user("r1")
    answer(study, rater)
    pseudonym = rater_pseudonym(study_id=study.pk, user_id=rater.pk)
    admin = make_user("boss", role="admin")
    client.force_login(admin)
    page = client.get(f"/studies/{study.slug}/raters/").content.decode()
    assert f"/studies/{study.slug}/raters/{pseudonym}/exclude/" in page
    refused = client.post(
        f"/studies/{study.slug}/raters/{pseudonym}/exclude/", {"reason": ""}, follow=True
    )
    assert "give a reason" in refused.content.decode()
    done = client.post(
        f"/studies/{study.slug}/raters/{pseudonym}/exclude/",
        {"reason": "<b>clicks</b> at random"},
        follow=True,
    )
    page = done.content.decode()
    assert f"{pseudonym}: excluded" in page
    assert "&lt;b&gt;clicks&lt;/b&gt; at random" in page and "<b>clicks</b>" not in page
    assert f"/studies/{study.slug}/raters/{pseudonym}/include/" in page
    client.post(f"/studies/{study.slug}/raters/{pseudonym}/include/")
    assert list(RaterEvent.objects.values_list("action", "actor")) == [
        ("exclude", "boss"),
        ("include", "boss"),
    ]
    # Researchers see the standing but get no buttons.
    client.force_login(make_user("res", role="researcher"))
    page = client.get(f"/studies/{study.slug}/raters/").content.decode()
    assert "/exclude/" not in page


def test_results_leave_excluded_raters_out_and_say_who(client) -> None:
    from django.core.cache import cache

    from annotations.analysis.cache import study_results

    cache.clear()
    study = judging_study(prompts=4, overlap=2)
    bad, good = make_user("bad"), make_user("good")
    for rater, winner in ((bad, "right"), (good, "left")):
        for _ in range(4):
            lease = assignment_next(study=study, rater=rater)
            winner_here = winner if lease.left_is_a else ("right" if winner == "left" else "left")
            judgment_submit(assignment=lease, rater=rater, winner=winner_here)
    before = study_results(study=study, method="wilson")
    assert before["n_judgments"] == 8 and before["generators"][0]["win_rate"] == 0.5
    admin = make_user("boss", role="admin")
    from annotations.services.quality import rater_exclude

    rater_exclude(study=study, rater=bad, reason="always the baseline", by=admin)
    after = study_results(study=study, method="wilson")
    # Not the cached numbers: only the good rater's judgments, the candidate always won.
    assert after["n_judgments"] == 4 and after["generators"][0]["win_rate"] == 1.0
    [excluded] = after["excluded_raters"]
    assert excluded["rater"] == rater_pseudonym(study_id=study.pk, user_id=bad.pk)
    assert (excluded["reason"], excluded["by"], excluded["n_judgments"]) == (
        "always the baseline",
        "boss",
        4,
    )
    everything = study_results(study=study, method="wilson", include_excluded="1")
    assert everything["n_judgments"] == 8 and everything["filters"]["include_excluded"] is True
    # The API takes the switch as well.
    api = token_client("res", "researcher")
    body = api.get(f"/api/studies/{study.slug}/results?method=wilson&include_excluded=1").json()
    assert body["n_judgments"] == 8
