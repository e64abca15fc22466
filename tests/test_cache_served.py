"""Served with gunicorn and 2 workers: results computed by one worker are served by the other."""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection

from tests.judging_support import user_token
from tests.results_support import hand_study
from tests.served_support import database_url, gunicorn_served, manage, served_env

pytestmark = pytest.mark.django_db(transaction=True)


def _results(base: str, slug: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - our own server
        f"{base}/api/studies/{slug}/results", headers={"Authorization": f"Token {token}"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        assert response.status == 200
        return json.loads(response.read())


def _pids(log: Path, slug: str) -> set[str]:
    lines = log.read_text().splitlines() if log.exists() else []
    return {line.split()[0] for line in lines if f"/api/studies/{slug}/results" in line}


def test_both_workers_serve_the_results_one_of_them_computed(tmp_path: Path) -> None:
    cache.clear()
    study = hand_study(tmp_path, slug="two-workers")
    token = user_token("served-researcher", "researcher")
    access = tmp_path / "access.log"
    env = served_env(
        database_url(connection.settings_dict),
        tmp_path / "staticfiles",
        # Each request's worker pid in the access log, to see that both workers answered.
        GUNICORN_ACCESS_LOG=str(access),
        GUNICORN_CMD_ARGS="--access-logformat '%(p)s %(U)s %(s)s'",
    )
    manage(env, "collectstatic", "--no-input", "--verbosity", "0")
    with gunicorn_served(env, workers=2, threads=4, log=tmp_path / "gunicorn.log") as base:
        first = _results(base, study.slug, token)
        answers = [first]
        # New connections, several at a time, until both workers have answered (bounded).
        with ThreadPoolExecutor(max_workers=4) as pool:
            for _ in range(15):
                answers += pool.map(lambda _: _results(base, study.slug, token), range(4))
                if len(_pids(access, study.slug)) >= 2:
                    break
        pids = _pids(access, study.slug)
    assert len(pids) == 2, f"only worker {pids} answered {len(answers)} requests"
    # One computation in all: every answer, from either worker, is the first one's.
    assert {a["computed_at"] for a in answers} == {first["computed_at"]}
    assert all(a == first for a in answers)
    cache.clear()
