"""manage.py results: the terminal table, one JSON object, the CSV table, and clear errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.results_support import BASELINE, hand_study

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("results", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_table_names_the_method_and_shows_counts(tmp_path: Path) -> None:
    hand_study(tmp_path)
    out, _ = run("--study", "hand", "--method", "wilson")
    assert "win rate against Base" in out
    assert "Wilson score interval" in out
    lines = [line for line in out.splitlines() if line.startswith("Alpha")]
    # Alpha: 7 judgments, 3 wins, 2 ties, 2 losses, win rate 4/7.
    assert lines[0].split()[1:4] == ["7", "3/2/2", "57.1%"]
    assert "Bradley-Terry ratings" in out and "Position bias: 60.0% of 10" in out


def test_json_is_exactly_one_object_with_the_contract(tmp_path: Path) -> None:
    hand_study(tmp_path)
    out, _ = run("--study", "hand", "--format", "json", "--resamples", "300", "--seed", "3")
    data = json.loads(out)  # fails on anything but one JSON document
    assert {"study", "baseline", "method", "confidence", "generators", "bradley_terry"} <= set(data)
    assert {"agreement", "position_bias"} <= set(data)
    assert (data["study"], data["baseline"], data["method"]) == ("hand", BASELINE, "bootstrap")
    assert data["confidence"] == 0.95 and data["resamples"] == 300 and data["seed"] == 3
    for row in data["generators"]:
        assert {"name", "n", "wins", "ties", "losses", "win_rate", "ci_low", "ci_high"} <= set(row)
        assert "p_value" in row
    for row in data["bradley_terry"]:
        assert {"name", "rating", "ci_low", "ci_high"} <= set(row)


def test_csv_is_the_win_rate_table(tmp_path: Path) -> None:
    hand_study(tmp_path)
    out, _ = run("--study", "hand", "--format", "csv", "--method", "cluster")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["generator"] for r in rows] == ["Alpha", "Beta"]
    alpha = rows[0]
    assert (alpha["n"], alpha["wins"], alpha["ties"], alpha["losses"]) == ("7", "3", "2", "2")
    assert alpha["method"] == "cluster" and alpha["baseline"] == BASELINE
    assert float(alpha["win_rate"]) == pytest.approx(4 / 7, abs=1e-6)


def test_other_baseline(tmp_path: Path) -> None:
    hand_study(tmp_path)
    data = json.loads(run("--study", "hand", "--format", "json", "--baseline", "Beta")[0])
    assert data["baseline"] == "Beta"
    assert {g["name"] for g in data["generators"]} == {"Alpha", BASELINE}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--study", "nope"], "no study with slug 'nope'"),
        (["--study", "hand", "--baseline", "Gamma"], "baseline: no model named 'Gamma'"),
        (["--study", "hand", "--method", "exact"], "method: unknown method 'exact'"),
        (["--study", "hand", "--resamples", "20"], "resamples: must be between 100 and 10000"),
        (["--study", "hand", "--seed", "abc"], "seed: must be a whole number"),
    ],
)
def test_errors_say_what_is_wrong(tmp_path: Path, args: list[str], message: str) -> None:
    hand_study(tmp_path)
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_study_without_judgments_is_empty_but_valid(tmp_path: Path) -> None:
    hand_study(tmp_path, rows=[])
    out, _ = run("--study", "hand")
    assert "no judgments yet" in out
    data, err = run("--study", "hand", "--format", "json")
    assert json.loads(data)["generators"] == []
    assert "no judgments yet" in err


def test_bt_ci_option_picks_the_bradley_terry_interval(tmp_path: Path) -> None:
    hand_study(tmp_path)
    data = json.loads(run("--study", "hand", "--format", "json", "--bt-ci", "sandwich")[0])
    assert data["bt_ci"] == "sandwich"
    assert data["bradley_terry_method"]["ci"] == "sandwich"
    assert data["bradley_terry_method"]["n_resamples"] == 0
    out, _ = run("--study", "hand", "--bt-ci", "sandwich")
    assert "CI by prompt-clustered robust (sandwich) standard error" in out
    with pytest.raises(CommandError, match="bt_ci"):
        run("--study", "hand", "--bt-ci", "jackknife")
