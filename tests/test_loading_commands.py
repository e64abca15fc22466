"""load_prompts and import_judgments on the command line: summaries, exit codes, stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tests.loading_support import BASELINE, NESTED, jsonl, make_study, write

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_load_prompts_then_import_judgments_print_one_line_summaries(tmp_path, capsys):
    make_study(slug="cli")
    call_command("load_prompts", str(write(tmp_path, "set.jsonl", jsonl(*NESTED))), study="cli")
    out = capsys.readouterr().out
    assert out == (
        "Loaded set.jsonl into 'cli': 2 prompts (0 already there), 3 models (1 already there), "
        "6 outputs (0 already there), 4 comparisons (0 already there).\n"
    )
    judgments = write(
        tmp_path, "j.csv", f"key,left,right,winner,rater\nsum,GPT 4,{BASELINE},tie,w\n"
    )
    call_command("import_judgments", str(judgments), "--study", "cli")
    assert capsys.readouterr().out.startswith("Imported j.csv into 'cli': 1 judgments (0 already")


@pytest.mark.django_db
def test_errors_list_the_lines_and_unknown_studies_and_files_are_named(tmp_path):
    make_study(slug="cli")
    bad = write(tmp_path, "bad.jsonl", jsonl(NESTED[0], {"prompt": 5}))
    with pytest.raises(CommandError) as info:
        call_command("load_prompts", str(bad), study="cli")
    assert str(info.value).splitlines() == [
        "bad.jsonl: 1 problem; nothing was loaded.",
        "line 2, prompt: must be a string or a list of messages, not a number",
    ]
    with pytest.raises(CommandError, match="no study 'nope'; create it first"):
        call_command("import_judgments", str(bad), study="nope")
    with pytest.raises(CommandError, match="no such file"):
        call_command("load_prompts", str(tmp_path / "missing.jsonl"), study="cli")


def _database_url() -> str:
    s = connection.settings_dict
    host = quote(s["HOST"] or "", safe="")
    auth = s["USER"] + (f":{quote(s['PASSWORD'])}" if s["PASSWORD"] else "")
    return f"postgresql://{auth}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


def _manage(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": _database_url(), "DJANGO_DEBUG": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


@pytest.mark.django_db(transaction=True)
def test_the_real_command_exits_non_zero_with_the_errors_on_stderr(tmp_path):
    make_study(slug="proc")
    bad = write(tmp_path, "bad.csv", "key,prompt,generator\nk,p,G\n")
    result = _manage("load_prompts", str(bad), "--study", "proc")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "line 1, output: the header has no 'output' column" in result.stderr
    good = write(tmp_path, "set.jsonl", jsonl(*NESTED))
    result = _manage("load_prompts", str(good), "--study", "proc")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("Loaded set.jsonl into 'proc': 2 prompts")
    # No progress bar when stderr is not a terminal.
    assert "it/s" not in result.stderr and "B/s" not in result.stderr
