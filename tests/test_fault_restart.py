"""Fault test: PostgreSQL stops and restarts while raters submit through the app under gunicorn.

The test owns its PostgreSQL (an embedded server in a temporary folder), serves the app with
gunicorn and the committed config against it, and has raters judge over HTTP with tokens. Half
way through it stops the server, waits, and starts it again. Then: every judgment the app
acknowledged is stored, every error answer was a JSON 503 with Retry-After, and every request
made after the restart succeeded (the first one of each worker thread included).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from annotations.models import AssignmentStatus
from app.embedded_db import embedded_server_stop
from tests.served_support import ROOT, gunicorn_served, manage, served_env

RATERS = 6
PROMPTS = 300


def _start_postgresql(data_dir: Path) -> str:
    """Start (or restart) the embedded server on `data_dir` in a fresh process; its URL."""
    code = (
        "import sys; from pathlib import Path; from app.embedded_db import embedded_database_url;"
        " print(embedded_database_url(Path(sys.argv[1])))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@dataclass
class Answer:
    started: float
    status: int  # 0: no HTTP answer at all
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def _post(base: str, path: str, token: str, body: dict[str, Any] | None = None) -> Answer:
    started = time.monotonic()
    request = urllib.request.Request(  # noqa: S310 - our own server
        base + path,
        data=json.dumps(body or {}).encode(),
        method="POST",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return Answer(started, response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Answer(started, error.code, dict(error.headers), error.read())
    except OSError:
        return Answer(started, 0)


@dataclass
class Run:
    """What the raters share: the answers they got, the judgments acknowledged, the switches."""

    base: str
    answers: list[Answer] = field(default_factory=list)
    acked: set[int] = field(default_factory=set)
    go: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    idle: list[threading.Event] = field(default_factory=list)

    def pause(self) -> None:
        """Hold every rater between two requests (none in flight) until resume()."""
        self.go.clear()
        for event in self.idle:
            assert event.wait(timeout=30)

    def resume(self) -> None:
        self.go.set()


def _rater(run: Run, token: str, idle: threading.Event) -> None:
    while not run.stop.is_set():
        if not run.go.is_set():
            idle.set()
            run.go.wait(timeout=0.1)
            continue
        idle.clear()
        nxt = _post(run.base, "/api/studies/fault/assignments/next", token)
        run.answers.append(nxt)
        if nxt.status != 200:
            time.sleep(0.2 if nxt.status == 503 else 0.05)
            continue
        assignment = json.loads(nxt.body)["id"]
        path = f"/api/assignments/{assignment}/judgment"
        judged = _post(run.base, path, token, {"winner": "left"})
        run.answers.append(judged)
        if judged.status in (200, 201):
            run.acked.add(json.loads(judged.body)["assignment"])


def _restart(data_dir: Path, url: str, seconds: float) -> float:
    """Stop the server, wait `seconds`, start it again; when it was back (monotonic)."""
    embedded_server_stop(data_dir)
    time.sleep(seconds)
    assert _start_postgresql(data_dir) == url
    return time.monotonic()


def test_every_acknowledged_judgment_survives_a_postgresql_restart(tmp_path: Path) -> None:
    # Not under pytest's own temporary folder: PostgreSQL runs as another user ("pgserver")
    # when the tests run as root, and must reach its folder to stop.
    data_dir = Path(tempfile.mkdtemp(prefix="prefeval-fault-")) / "pg"
    url = _start_postgresql(data_dir)
    try:
        env = served_env(url, tmp_path / "static")
        manage(env, "migrate", "--no-input", "--verbosity", "0")
        manage(env, "create_study", "fault", "--baseline", "base", "--overlap", "3")
        prompts = tmp_path / "prompts.jsonl"
        prompts.write_text(
            "".join(
                json.dumps(
                    {"key": f"p{i}", "prompt": f"Q{i}", "outputs": {"base": "b", "new": "n"}}
                )
                + "\n"
                for i in range(PROMPTS)
            )
        )
        manage(env, "load_prompts", str(prompts), "--study", "fault")
        tokens = [
            re.search(r"API token: (\w+)", manage(env, "add_user", f"r{i}", "--role", "rater"))[1]  # type: ignore[index]
            for i in range(RATERS)
        ]
        with gunicorn_served(env, workers=2, threads=4, log=tmp_path / "gunicorn.log") as base:
            run = Run(base)
            run.idle = [threading.Event() for _ in tokens]
            raters = [
                threading.Thread(target=_rater, args=(run, token, idle))
                for token, idle in zip(tokens, run.idle, strict=True)
            ]
            for thread in raters:
                thread.start()
            run.resume()
            # 1. The server stops under the raters' feet, mid-request, and comes back.
            time.sleep(3)
            restarted = _restart(data_dir, url, seconds=3)
            time.sleep(2)
            # 2. It restarts while every worker thread sits on an idle connection: each thread's
            # first request after the restart meets a connection the server closed.
            run.pause()
            quiet_restart = _restart(data_dir, url, seconds=1)
            first = _post(base, "/api/studies/fault/assignments/next", tokens[0])
            run.resume()
            time.sleep(3)
            run.stop.set()
            for thread in raters:
                thread.join(timeout=60)

        answers, acked = run.answers, run.acked
        assert first.status == 200, first.body
        before = [a for a in answers if a.started < restarted]
        after = [a for a in answers if a.started >= restarted]
        assert any(a.started >= quiet_restart for a in after)
        outage = [a for a in before if a.status not in (200, 201, 204)]
        assert outage, "no request met the outage: the test did not test anything"
        for answer in outage:
            assert answer.status == 503, (answer.status, answer.body[:300])
            assert answer.headers.get("Content-Type") == "application/json"
            assert answer.headers.get("Retry-After", "").isdigit()
            body = json.loads(answer.body)
            assert set(body) == {"detail", "errors"} and body["errors"]
        assert after and all(a.status in (200, 201, 204) for a in after), [
            (a.status, a.body[:200]) for a in after if a.status not in (200, 201, 204)
        ]
        assert len(acked) > 20

        with psycopg.connect(url) as db:
            stored = {
                row[0] for row in db.execute("SELECT assignment_id FROM annotations_judgment")
            }
            # Nothing half-written: each stored judgment closed its assignment.
            unjudged = db.execute(
                "SELECT count(*) FROM annotations_judgment j JOIN annotations_assignment a"
                " ON a.id = j.assignment_id WHERE a.status <> %s",
                [AssignmentStatus.DONE],
            ).fetchone()[0]
        assert acked <= stored, f"{len(acked - stored)} acknowledged judgments were lost"
        assert unjudged == 0
    finally:
        embedded_server_stop(data_dir)
        shutil.rmtree(data_dir.parent, ignore_errors=True)
