"""Rater quality control, simulated: honest and bad raters judge through the served app's API.

A throwaway database (bench_qsim) gets one vs_baseline study: --prompts prompts, each with an
output of the baseline and of --models candidate models, overlap k, self-contained attention
checks loaded with `manage.py load_gold`, a gold rate and a repeat rate (`create_study`). The app
is served by gunicorn (gunicorn.conf.py) and the raters judge over HTTP with their tokens,
--clients at a time, the next rater drawn at random among those not busy.

The hidden truth: candidate model m has a true win rate w_m against the baseline (spread evenly
from --truth-low to --truth-high; ties count one half, as the results' win_rate). Each
comparison has a latent better output, the candidate's with probability w'_m. An honest rater
gives the better output with probability FOLLOW, a tie with probability TIE, the worse one
otherwise, so its expected score on model m is (FOLLOW - FLIP) w'_m + TIE / 2 + FLIP, and w'_m
is chosen to make that w_m. Raters of the same comparison see the same latent answer (some
pairs are clear, some not), which is what makes honest raters agree with each other. On gold an
honest rater is right with probability GOLD_RIGHT (otherwise half a tie, half the worse side).
Shown a pair it judged before (a swapped repeat), an honest rater gives its earlier answer with
probability RECALL, else judges it afresh. Honest durations are drawn around 10 s.

Bad raters, --bad-per-kind of each kind:
- random: left, right or tie uniformly, on everything (gold and repeats too);
- left: always "left";
- tie: always "tie";
- fast: as random, and every duration under the study's min_seconds (0.4-0.9 of it);
- inconsistent: honest on every first sight (regular pairs and gold, honest durations) but
  left, right or tie uniformly on a pair it has judged before. Its judgments and gold answers
  are those of an honest rater, so only the swapped repeats (self_consistency) can tell it
  apart, and excluding it is not expected to lower the win-rate error.

Durations: the app stores a reported duration_ms only when it is at most the time since the
item was served plus 5 s (services/judging.py, duration_from_report), and the simulation
answers in milliseconds, so every report is min(drawn duration, time since served + 4.5 s):
honest reports are about 4.5 s rather than the drawn ~10 s; both are above min_seconds 3, so
the speed signal sees the same thing.

When a bad rater is first flagged is read live: the raters endpoint (GET
/api/studies/<slug>/raters, as an admin) is polled every --poll-every answered items, and the
rater's `judged` (and gold_n, repeat_n) at the first poll where `flagged` is true is reported.
After every comparison has k judgments the flagged raters are excluded through
POST .../raters/<rater>/exclude, and the win-rate error (mean absolute error of win_rate over
the models against the truth) is measured before exclusion, after it, and after replacement
(the raters in good standing judge again the pairs whose excluded judgments no longer count).
Win rates are read from GET /api/studies/<slug>/results (method=wilson) and recomputed from
the judgments export (GET .../export?format=judgments-jsonl), which leaves excluded raters out
by default; the two are printed side by side.

The seed fixes the truth, the latents and every rater's answers to what it is shown; which pair
a rater is shown depends on the server (its control draws use an unseeded random, and the
interleaving of concurrent requests), so repeated runs differ slightly.

    python bench/quality_sim.py [--honest 40] [--bad-per-kind 2] [--prompts 300] [--models 5]
        [--overlap 3] [--gold-rate 0.1] [--repeat-rate 0.1] [--seed 11] [--clients 8]
        [--poll-every 100] [--thresholds JSON] [--keep]

Without DATABASE_URL the project's embedded PostgreSQL is used. The database is dropped after
the run unless --keep.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import database_url, server_execute, server_url  # noqa: E402
from bench.machine import machine_line  # noqa: E402
from bench.serving import gunicorn_start  # noqa: E402

DB_NAME = "bench_qsim"
SLUG = "qsim"
BASELINE = "base"
BAD_KINDS = ("random", "left", "tie", "fast", "inconsistent")
KINDS = ("honest", *BAD_KINDS)

# The honest rater (module docstring).
FOLLOW = 0.8
TIE = 0.1
FLIP = 1.0 - FOLLOW - TIE
GOLD_RIGHT = 0.9
RECALL = 0.75
# Honest time on task: 4 s plus a lognormal around 6 s (median about 10 s).
HONEST_EXTRA_MEDIAN_S = 6.0
HONEST_SIGMA = 0.6
# What a report may exceed the time since the item was served by (the app allows 5 s).
REPORT_SLACK_MS = 4500


# --- The hidden truth and what raters see -------------------------------------------------


@dataclass
class World:
    """The study's texts and what they mean: which model wrote an output, which output of a
    comparison is the better, which gold text is the better."""

    models: list[str]
    truth: dict[str, float]
    output: dict[str, tuple[int, str]] = field(default_factory=dict)  # text -> (prompt, model)
    text: dict[tuple[int, str], str] = field(default_factory=dict)  # (prompt, model) -> text
    candidate_better: dict[tuple[int, str], bool] = field(default_factory=dict)
    gold_better: dict[str, bool] = field(default_factory=dict)  # gold text -> is the better

    def prompt_set_truth(self) -> dict[str, float]:
        """The expected honest win rate on these prompts (given the drawn latents)."""
        out = {}
        for model in self.models:
            latents = [v for (_, m), v in self.candidate_better.items() if m == model]
            share = sum(latents) / len(latents)
            out[model] = (FOLLOW - FLIP) * share + TIE / 2 + FLIP
        return out


def world_build(
    *, prompts: int, models: int, gold: int, low: float, high: float, seed: int
) -> World:
    rng = random.Random(f"{seed}-world")
    names = [f"m{i + 1}" for i in range(models)]
    step = (high - low) / max(1, models - 1)
    truth = {name: low + i * step for i, name in enumerate(names)}
    world = World(models=names, truth=truth)
    for p in range(prompts):
        for model in (BASELINE, *names):
            text = f"Answer {rng.getrandbits(40):010x} to question {p}."
            world.output[text] = (p, model)
            world.text[(p, model)] = text
        for model in names:
            latent = (truth[model] - TIE / 2 - FLIP) / (FOLLOW - FLIP)
            world.candidate_better[(p, model)] = rng.random() < latent
    for g in range(gold):
        world.gold_better[f"Check {g}: the sky on a clear day is blue."] = True
        world.gold_better[f"Check {g}: the sky on a clear day is green."] = False
    return world


@dataclass
class Rater:
    name: str
    kind: str
    token: str
    rng: random.Random
    # A pair of texts -> the text this rater chose on it ("" for a tie).
    seen: dict[frozenset[str], str] = field(default_factory=dict)
    done: bool = False
    busy: bool = False


def _sides(world: World, left: str, right: str) -> tuple[str, str]:
    """(better text, worse text) of the pair shown."""
    if left in world.gold_better:
        return (left, right) if world.gold_better[left] else (right, left)
    p, model_left = world.output[left]
    model = model_left if model_left != BASELINE else world.output[right][1]
    candidate = world.text[(p, model)]
    base = world.text[(p, BASELINE)]
    return (candidate, base) if world.candidate_better[(p, model)] else (base, candidate)


def _honest_pick(rng: random.Random, better: str, worse: str, *, gold: bool) -> str:
    """An honest look at a pair: the text chosen, "" for a tie. Regular pairs: FOLLOW, TIE,
    FLIP; gold: GOLD_RIGHT, the rest split between a tie and the worse side."""
    right, tie = (GOLD_RIGHT, (1 - GOLD_RIGHT) / 2) if gold else (FOLLOW, TIE)
    u = rng.random()
    if u < right:
        return better
    return "" if u < right + tie else worse


def rater_answer(
    *, rater: Rater, world: World, item: dict[str, Any], min_seconds: float
) -> tuple[str, float]:
    """(winner: left, right or tie; the drawn duration in seconds) for the item shown."""
    left, right = item["left"]["text"], item["right"]["text"]
    rng = rater.rng
    pair = frozenset((left, right))
    repeat = pair in rater.seen
    better, worse = _sides(world, left, right)
    kind = rater.kind
    if kind == "left":
        winner = "left"
    elif kind == "tie":
        winner = "tie"
    elif kind in ("random", "fast") or (kind == "inconsistent" and repeat):
        winner = rng.choice(("left", "right", "tie"))
    else:
        if kind == "honest" and repeat and rng.random() < RECALL:
            chosen = rater.seen[pair]
        else:
            chosen = _honest_pick(rng, better, worse, gold=better in world.gold_better)
        winner = "tie" if chosen == "" else ("left" if chosen == left else "right")
    if better not in world.gold_better and not repeat:
        rater.seen[pair] = "" if winner == "tie" else (left if winner == "left" else right)
    if kind == "fast":
        seconds = rng.uniform(0.4, 0.9) * min_seconds
    else:
        seconds = 4.0 + rng.lognormvariate(math.log(HONEST_EXTRA_MEDIAN_S), HONEST_SIGMA)
    return winner, seconds


# --- Setup ---------------------------------------------------------------------------------


def setup(db_url: str, options: argparse.Namespace, world: World) -> tuple[str, list[Rater]]:
    """Migrate, make the study, load prompts and gold with the commands, make the users;
    (the admin's token, the raters)."""
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from annotations.models import Study
    from annotations.services.studies import study_create_or_update
    from annotations.services.users import user_create_or_update

    quiet = io.StringIO()
    call_command("migrate", "--no-input", verbosity=0)
    call_command(
        "create_study",
        SLUG,
        baseline=BASELINE,
        pairing="vs_baseline",
        scale="ternary",
        overlap=options.overlap,
        gold_rate=options.gold_rate,
        repeat_rate=options.repeat_rate,
        min_seconds=options.min_seconds,
        gold_min_accuracy=options.gold_min_accuracy,
        gold_min_n=options.gold_min_n,
        stdout=quiet,
    )
    if options.thresholds:
        study_create_or_update(slug=SLUG, quality_thresholds=json.loads(options.thresholds))
    # What the study uses, as the report prints it (the app's defaults when not given).
    created = Study.objects.get(slug=SLUG)
    options.gold_min_accuracy = created.gold_min_accuracy
    options.gold_min_n = created.gold_min_n
    with tempfile.TemporaryDirectory() as folder:
        prompts = Path(folder) / "prompts.jsonl"
        with prompts.open("w") as out:
            for p in range(options.prompts):
                outputs = {m: world.text[(p, m)] for m in (BASELINE, *world.models)}
                out.write(
                    json.dumps({"key": f"p{p}", "prompt": f"Question {p}?", "outputs": outputs})
                    + "\n"
                )
        gold = Path(folder) / "gold.jsonl"
        with gold.open("w") as out:
            texts = list(world.gold_better)
            for g in range(0, len(texts), 2):
                record = {
                    "key": f"check-{g // 2}",
                    "prompt": f"Attention check {g // 2}: what colour is the sky on a clear day?",
                    "better_output": texts[g],
                    "worse_output": texts[g + 1],
                }
                out.write(json.dumps(record) + "\n")
        call_command("load_prompts", str(prompts), study=SLUG, stdout=quiet)
        call_command("load_gold", str(gold), study=SLUG, stdout=quiet)
    admin = user_create_or_update(username="qsim-admin", role="admin").token
    raters = []
    kinds = ["honest"] * options.honest + [
        k for k in BAD_KINDS for _ in range(options.bad_per_kind)
    ]
    for i, kind in enumerate(kinds):
        name = f"{kind}-{i:02d}"
        token = user_create_or_update(username=name, role="rater").token
        raters.append(
            Rater(name=name, kind=kind, token=token, rng=random.Random(f"{options.seed}-{name}"))
        )
    connections.close_all()
    return admin, raters


# --- HTTP -----------------------------------------------------------------------------------


class Client:
    """One keep-alive connection; reconnects once on a broken one."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def call(self, method: str, path: str, token: str, body: Any = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Token {token}"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
                if attempt:
                    return 0, b""
        return 0, b""

    def close(self) -> None:
        self.conn.close()


def roster_read(client: Client, token: str) -> list[dict[str, Any]]:
    """Every row of GET /api/studies/<slug>/raters (following the pages)."""
    rows: list[dict[str, Any]] = []
    path: str | None = f"/api/studies/{SLUG}/raters"
    while path:
        status, data = client.call("GET", path, token)
        if status != 200:
            raise RuntimeError(f"raters endpoint answered {status}: {data[:300]!r}")
        page = json.loads(data)
        rows += page["results"]
        nxt = page.get("next")
        path = None
        if nxt:
            parts = urlsplit(nxt)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
    return rows


def win_rates_results(client: Client, token: str, seed: int = 0) -> dict[str, Any]:
    """win_rate and n per model from GET /api/studies/<slug>/results (Wilson: no resampling).
    The seed does not change Wilson intervals but is part of the cache key: a seed not asked
    for before gets a fresh computation."""
    path = f"/api/studies/{SLUG}/results?method=wilson&seed={seed}"
    status, data = client.call("GET", path, token)
    if status != 200:
        raise RuntimeError(f"results endpoint answered {status}: {data[:300]!r}")
    body = json.loads(data)
    rows = {g["name"]: {"win_rate": g["win_rate"], "n": g["n"]} for g in body["generators"]}
    return {"rows": rows, "excluded_raters": body.get("excluded_raters")}


def win_rates_export(client: Client, token: str) -> dict[str, dict[str, float]]:
    """Mean score of each candidate against the baseline (ties 1/2) from the judgments export,
    which leaves excluded raters out by default."""
    status, data = client.call("GET", f"/api/studies/{SLUG}/export?format=judgments-jsonl", token)
    if status != 200:
        raise RuntimeError(f"export answered {status}: {data[:300]!r}")
    totals: dict[str, list[float]] = {}
    for line in data.splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        a, b, pref = row["generator_a"], row["generator_b"], row["preference"]
        if a == BASELINE:
            model, score = b, 0.5 if pref == 0 else float(pref < 0)
        else:
            model, score = a, 0.5 if pref == 0 else float(pref > 0)
        totals.setdefault(model, []).append(score)
    return {m: {"win_rate": sum(s) / len(s), "n": len(s)} for m, s in totals.items()}


# --- Driving the raters ---------------------------------------------------------------------


class Pool:
    """The raters; take() hands out a random one not busy and not done, waiting while all the
    free ones are done but some are busy; None when every rater is done."""

    def __init__(self, raters: list[Rater], rng: random.Random) -> None:
        self.raters = raters
        self.rng = rng
        self.cond = threading.Condition()

    def take(self) -> Rater | None:
        with self.cond:
            while True:
                free = [r for r in self.raters if not r.busy and not r.done]
                if free:
                    rater = self.rng.choice(free)
                    rater.busy = True
                    return rater
                if not any(r.busy for r in self.raters):
                    return None
                self.cond.wait()

    def give_back(self, rater: Rater) -> None:
        with self.cond:
            rater.busy = False
            self.cond.notify_all()


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    answered: int = 0
    errors: int = 0
    samples: list[str] = field(default_factory=list)
    item_seconds: list[float] = field(default_factory=list)

    def error(self, text: str) -> None:
        with self.lock:
            self.errors += 1
            if len(self.samples) < 5:
                self.samples.append(text)


class Poller:
    """Reads the raters endpoint every `every` answered items (and once more at stop); keeps,
    per rater, the row of the first poll where it was flagged."""

    def __init__(self, port: int, token: str, tally: Tally, every: int) -> None:
        self.client = Client(port)
        self.token = token
        self.tally = tally
        self.every = every
        self.first_flag: dict[str, dict[str, Any]] = {}
        self.polls = 0
        self.poll_seconds: list[float] = []
        self.gaps: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def poll(self) -> list[dict[str, Any]]:
        answered = self.tally.answered
        started = time.perf_counter()
        rows = roster_read(self.client, self.token)
        self.poll_seconds.append(time.perf_counter() - started)
        self.polls += 1
        for row in rows:
            if row["flagged"] and row["username"] not in self.first_flag:
                self.first_flag[row["username"]] = {**row, "answered_total": answered}
        return rows

    def _run(self) -> None:
        last = 0
        while not self.stop.is_set():
            if self.tally.answered - last >= self.every:
                self.gaps.append(self.tally.answered - last)
                last = self.tally.answered
                self.poll()
            else:
                time.sleep(0.05)


def drive_pass(
    *, port: int, pool: Pool, world: World, tally: Tally, clients: int, min_seconds: float
) -> None:
    """The raters judge until each has been told there is nothing left (204)."""

    def client_loop() -> None:
        client = Client(port)
        while True:
            rater = pool.take()
            if rater is None:
                break
            try:
                _one_item(client, rater, world, tally, min_seconds)
            finally:
                pool.give_back(rater)
        client.close()

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _one_item(client: Client, rater: Rater, world: World, tally: Tally, min_seconds: float) -> None:
    started = time.perf_counter()
    status, data = client.call("POST", f"/api/studies/{SLUG}/assignments/next", rater.token)
    if status == 204:
        rater.done = True
        return
    if status != 200:
        tally.error(f"next {status}: {data[:200]!r}")
        rater.done = True
        return
    served = time.perf_counter()
    item = json.loads(data)
    winner, seconds = rater_answer(rater=rater, world=world, item=item, min_seconds=min_seconds)
    since_ms = int((time.perf_counter() - served) * 1000)
    duration_ms = min(int(seconds * 1000), since_ms + REPORT_SLACK_MS)
    status, data = client.call(
        "POST",
        f"/api/assignments/{item['id']}/judgment",
        rater.token,
        {"winner": winner, "duration_ms": duration_ms},
    )
    if status != 201:
        tally.error(f"judgment {status}: {data[:200]!r}")
        return
    with tally.lock:
        tally.answered += 1
        tally.item_seconds.append(time.perf_counter() - started)


def unfilled(db_url: str, overlap: int) -> int:
    """Comparisons with fewer than k counted judgments."""
    import psycopg

    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "SELECT count(*) FROM annotations_comparison WHERE judgment_count < %s", [overlap]
        ).fetchone()[0]


def judgments_stored(db_url: str) -> dict[str, int]:
    """Judgments in the database: all of them, and those of raters not excluded."""
    import psycopg

    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM "
            "annotations_raterstanding s WHERE s.rater_id = j.rater_id AND s.excluded)) "
            "FROM annotations_judgment j"
        ).fetchone()
    return {"all": row[0], "counted": row[1]}


def drive_until_filled(
    *,
    db_url: str,
    port: int,
    raters: list[Rater],
    world: World,
    tally: Tally,
    options: argparse.Namespace,
    rng: random.Random,
) -> int:
    """Passes of drive_pass until every comparison has k counted judgments (or a pass adds
    nothing); the number of passes."""
    passes = 0
    while passes < 10:
        before = tally.answered
        for rater in raters:
            rater.done = False
        drive_pass(
            port=port,
            pool=Pool(raters, rng),
            world=world,
            tally=tally,
            clients=options.clients,
            min_seconds=options.min_seconds,
        )
        passes += 1
        if unfilled(db_url, options.overlap) == 0 or tally.answered == before:
            break
    return passes


# --- Figures ----------------------------------------------------------------------------------


def mae(rates: dict[str, dict[str, float]], truth: dict[str, float]) -> float:
    return statistics.fmean(abs(rates[m]["win_rate"] - truth[m]) for m in truth)


def server_start(
    *, db_url: str, options: argparse.Namespace, token: str, static_root: str
) -> subprocess.Popen[bytes]:
    """gunicorn with the committed config against the bench database, once it answers."""
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DJANGO_SETTINGS_MODULE": "app.settings",
        # The API serves no static files; an empty folder keeps WhiteNoise from warning.
        "DJANGO_STATIC_ROOT": static_root,
    }

    def ready() -> bool:
        try:
            client = Client(options.port)
            status, _ = client.call("GET", f"/api/studies/{SLUG}/raters", token)
            client.close()
        except OSError:
            return False
        return status == 200

    return gunicorn_start(
        env=env, port=options.port, workers=options.workers, threads=options.threads, ready=ready
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--honest", type=int, default=40)
    parser.add_argument("--bad-per-kind", type=int, default=2)
    parser.add_argument("--prompts", type=int, default=300)
    parser.add_argument(
        "--models", type=int, default=5, help="candidate models (besides the baseline)"
    )
    parser.add_argument("--truth-low", type=float, default=0.3)
    parser.add_argument("--truth-high", type=float, default=0.8)
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--gold", type=int, default=100, help="attention checks loaded")
    parser.add_argument("--gold-rate", type=float, default=0.1)
    parser.add_argument("--repeat-rate", type=float, default=0.1)
    parser.add_argument("--min-seconds", type=int, default=3)
    parser.add_argument(
        "--gold-min-accuracy", type=float, help="default: the study's default (0.5)"
    )
    parser.add_argument("--gold-min-n", type=int, help="default: the study's default (8)")
    parser.add_argument(
        "--thresholds", help="JSON object of quality threshold overrides for the study"
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--clients", type=int, default=8, help="requests in flight at once")
    parser.add_argument(
        "--poll-every",
        type=int,
        default=100,
        help="answered items between reads of the raters endpoint",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    options = parser.parse_args()

    os.environ.setdefault("DJANGO_SECRET_KEY", "qsim-only-" + "x" * 50)
    wall = time.perf_counter()
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    world = world_build(
        prompts=options.prompts,
        models=options.models,
        gold=options.gold,
        low=options.truth_low,
        high=options.truth_high,
        seed=options.seed,
    )
    postgres = server_url()
    db_url = database_url(postgres, DB_NAME)
    server_execute(postgres, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    server_execute(postgres, f"CREATE DATABASE {DB_NAME}")
    try:
        admin, raters = setup(db_url, options, world)
        setup_seconds = time.perf_counter() - wall
        with tempfile.TemporaryDirectory(prefix="qsim-static-") as static_root:
            server = server_start(
                db_url=db_url, options=options, token=admin, static_root=static_root
            )
            try:
                report = run(
                    db_url=db_url, options=options, world=world, admin=admin, raters=raters
                )
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=120)
        import psycopg

        with psycopg.connect(db_url) as conn:
            pg_version = conn.execute("SHOW server_version").fetchone()[0]
    finally:
        if not options.keep:
            server_execute(postgres, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    report["setup_seconds"] = round(setup_seconds, 1)
    report["wall_seconds"] = round(time.perf_counter() - wall, 1)
    report["load_average_before"] = " ".join(load_before)
    report["load_average_after"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    report["machine"] = machine_line(postgres=pg_version)
    print_report(report)


def run(
    *, db_url: str, options: argparse.Namespace, world: World, admin: str, raters: list[Rater]
) -> dict[str, Any]:
    rng = random.Random(f"{options.seed}-order")
    tally = Tally()
    poller = Poller(options.port, admin, tally, options.poll_every)
    poller.thread.start()
    started = time.perf_counter()
    passes = drive_until_filled(
        db_url=db_url,
        port=options.port,
        raters=raters,
        world=world,
        tally=tally,
        options=options,
        rng=rng,
    )
    judge_seconds = time.perf_counter() - started
    poller.stop.set()
    poller.thread.join()
    rows = poller.poll()
    answered_phase1 = tally.answered
    client = Client(options.port)
    before_results = win_rates_results(client, admin)
    before_results["stored"] = judgments_stored(db_url)
    before_results["fresh_n"] = sum(
        r["n"] or 0
        for name, r in win_rates_results(client, admin, seed=1)["rows"].items()
        if name != BASELINE
    )
    before_export = win_rates_export(client, admin)
    by_name = {r.name: r for r in raters}
    flagged = [row for row in rows if row["flagged"]]
    for row in flagged:
        status, data = client.call(
            "POST",
            f"/api/studies/{SLUG}/raters/{row['rater']}/exclude",
            admin,
            {"reason": "flagged: " + ", ".join(row["reasons"])},
        )
        if status != 200:
            tally.error(f"exclude {status}: {data[:200]!r}")
    excluded_results = win_rates_results(client, admin)
    excluded_results["stored"] = judgments_stored(db_url)
    excluded_results["fresh_n"] = sum(
        r["n"] or 0
        for name, r in win_rates_results(client, admin, seed=2)["rows"].items()
        if name != BASELINE
    )
    excluded_export = win_rates_export(client, admin)
    unfilled_after_exclusion = unfilled(db_url, options.overlap)
    started = time.perf_counter()
    replace_passes = drive_until_filled(
        db_url=db_url,
        port=options.port,
        raters=raters,
        world=world,
        tally=tally,
        options=options,
        rng=rng,
    )
    replace_seconds = time.perf_counter() - started
    replaced_results = win_rates_results(client, admin)
    replaced_results["stored"] = judgments_stored(db_url)
    replaced_results["fresh_n"] = sum(
        r["n"] or 0
        for name, r in win_rates_results(client, admin, seed=3)["rows"].items()
        if name != BASELINE
    )
    replaced_export = win_rates_export(client, admin)
    final_rows = roster_read(client, admin)
    client.close()

    kinds: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        mine = [row for row in rows if by_name[row["username"]].kind == kind]
        marked = [row for row in mine if row["flagged"]]
        first = [poller.first_flag.get(row["username"]) for row in marked]
        kinds[kind] = {
            "raters": len(mine),
            "flagged": len(marked),
            "paused": sum(1 for row in mine if row["paused"]),
            "reasons": dict(Counter(reason for row in marked for reason in row["reasons"])),
            "first_flag_judged": [f["judged"] if f else None for f in first],
            "first_flag_items": [
                f["judged"] + f["gold_n"] + f["repeat_n"] if f else None for f in first
            ],
            "first_flag_reasons": [f["reasons"] if f else None for f in first],
            "judged": [row["judged"] for row in mine],
            "unflagged": [
                {
                    key: row[key]
                    for key in (
                        "username",
                        "judged",
                        "gold_n",
                        "gold_accuracy",
                        "repeat_n",
                        "self_consistency",
                        "agreement_n",
                        "agreement",
                        "left_p_value",
                        "too_fast_share",
                        "longest_streak",
                        "outlier_score",
                    )
                }
                for row in mine
                if not row["flagged"]
            ]
            if kind != "honest"
            else [],
            "flagged_rows": [
                {
                    key: row[key]
                    for key in (
                        "username",
                        "judged",
                        "reasons",
                        "gold_n",
                        "gold_accuracy",
                        "repeat_n",
                        "self_consistency",
                        "agreement",
                        "outlier_score",
                        "paused",
                    )
                }
                for row in marked
            ]
            if kind == "honest"
            else [],
        }
    true_positive = sum(kinds[k]["flagged"] for k in BAD_KINDS)
    false_positive = kinds["honest"]["flagged"]
    bad_total = sum(kinds[k]["raters"] for k in BAD_KINDS)
    truth = world.truth
    sample_truth = world.prompt_set_truth()
    results_honour_exclusion = sum(
        r["n"] for r in excluded_results["rows"].values() if r["n"]
    ) < sum(r["n"] for r in before_results["rows"].values() if r["n"])
    stages = {
        "before exclusion": (before_results, before_export),
        "after exclusion": (excluded_results, excluded_export),
        "after replacement": (replaced_results, replaced_export),
    }
    errors = {}
    for stage, (results, export) in stages.items():
        candidates = {m: results["rows"][m] for m in world.models}
        errors[stage] = {
            "results_mae": mae(candidates, truth),
            "results_mae_prompt_set": mae(candidates, sample_truth),
            "export_mae": mae(export, truth),
            "export_mae_prompt_set": mae(export, sample_truth),
            "results_n": sum(c["n"] for c in candidates.values()),
            "stored": results["stored"],
            "fresh_n": results["fresh_n"],
            "export_n": sum(export[m]["n"] for m in world.models),
            "results_rates": {m: round(candidates[m]["win_rate"], 4) for m in world.models},
            "export_rates": {m: round(export[m]["win_rate"], 4) for m in world.models},
        }
    item_seconds = sorted(tally.item_seconds)
    return {
        "config": {
            key: getattr(options, key)
            for key in (
                "honest",
                "bad_per_kind",
                "prompts",
                "models",
                "overlap",
                "gold",
                "gold_rate",
                "repeat_rate",
                "min_seconds",
                "gold_min_accuracy",
                "gold_min_n",
                "thresholds",
                "seed",
                "clients",
                "poll_every",
                "workers",
                "threads",
            )
        },
        "comparisons": options.prompts * options.models,
        "kinds": kinds,
        "precision": true_positive / (true_positive + false_positive)
        if true_positive + false_positive
        else math.nan,
        "recall": true_positive / bad_total if bad_total else math.nan,
        "true_positive": true_positive,
        "false_positive": false_positive,
        "truth": {m: round(v, 4) for m, v in truth.items()},
        "prompt_set_truth": {m: round(v, 4) for m, v in sample_truth.items()},
        "errors": errors,
        "results_honour_exclusion": results_honour_exclusion,
        "excluded_raters_in_results": excluded_results["excluded_raters"],
        "answered_phase1": answered_phase1,
        "answered_total": tally.answered,
        "judge_seconds": round(judge_seconds, 1),
        "replace_seconds": round(replace_seconds, 1),
        "passes": passes,
        "replace_passes": replace_passes,
        "unfilled_after_exclusion": unfilled_after_exclusion,
        "unfilled_at_end": unfilled(db_url, options.overlap),
        "items_per_s": round(answered_phase1 / judge_seconds, 1),
        "item_ms_p50": round(1000 * item_seconds[len(item_seconds) // 2], 1)
        if item_seconds
        else None,
        "polls": poller.polls,
        "poll_gap_median": statistics.median(poller.gaps) if poller.gaps else None,
        "poll_seconds_median": round(statistics.median(poller.poll_seconds), 3)
        if poller.poll_seconds
        else None,
        "errors_http": tally.errors,
        "error_samples": tally.samples,
        "final_flagged_after_replacement": sum(1 for row in final_rows if row["flagged"]),
    }


def _list(values: list[Any]) -> str:
    return ", ".join("-" if v is None else str(v) for v in values) or "-"


def print_report(report: dict[str, Any]) -> None:
    c = report["config"]
    kinds = report["kinds"]
    bad = sum(kinds[k]["raters"] for k in BAD_KINDS)
    print(f"machine: {report['machine']}")
    print(
        f"load average before: {report['load_average_before']}; "
        f"after: {report['load_average_after']}"
    )
    print(
        f"config: {c['honest']} honest + {c['bad_per_kind']} x {len(BAD_KINDS)} bad raters, "
        f"{c['prompts']} prompts x {c['models']} models = {report['comparisons']} comparisons, "
        f"k={c['overlap']}, {c['gold']} attention checks, gold rate {c['gold_rate']}, "
        f"repeat rate {c['repeat_rate']}, min_seconds {c['min_seconds']}, gold pause below "
        f"{c['gold_min_accuracy']} after {c['gold_min_n']}, thresholds "
        f"{c['thresholds'] or 'defaults'}, seed {c['seed']}, {c['clients']} clients, gunicorn "
        f"{c['workers']} x {c['threads']}"
    )
    print(
        f"run: setup {report['setup_seconds']} s, judging {report['judge_seconds']} s "
        f"({report['answered_phase1']} items answered, {report['items_per_s']}/s, "
        f"{report['passes']} passes), replacement {report['replace_seconds']} s, wall "
        f"{report['wall_seconds']} s; HTTP errors {report['errors_http']}"
    )
    for sample in report["error_samples"]:
        print(f"  error sample: {sample}")
    print(
        f"raters endpoint polled {report['polls']} times, every {report['poll_gap_median']} "
        f"answered items (median), {report['poll_seconds_median']} s a read"
    )
    print()
    print(
        f"{'kind':<13} {'raters':>6} {'flagged':>7} {'paused':>6}  {'reasons (raters)':<36} "
        "judgments when first flagged (items incl. control)"
    )
    for kind in KINDS:
        k = kinds[kind]
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(k["reasons"].items())) or "-"
        first = "; ".join(
            f"{j} ({i})" for j, i in zip(k["first_flag_judged"], k["first_flag_items"], strict=True)
        )
        print(
            f"{kind:<13} {k['raters']:>6} {k['flagged']:>7} {k['paused']:>6}  {reasons:<36} "
            f"{first or '-'}"
        )
    print(
        f"\nflagged: precision {report['precision']:.3f} ({report['true_positive']} of "
        f"{report['true_positive'] + report['false_positive']} flagged are bad), recall "
        f"{report['recall']:.3f} ({report['true_positive']} of {bad} bad raters flagged)"
    )
    for row in kinds["honest"]["flagged_rows"]:
        print(f"  honest flagged: {row}")
    for kind in BAD_KINDS:
        for row in kinds[kind]["unflagged"]:
            print(f"  {kind} not flagged: {row}")
    print("reasons at the first flagged poll:")
    for kind in BAD_KINDS:
        k = kinds[kind]
        print(
            f"  {kind:<13} {_list(k['first_flag_reasons'])}; judged at the end {_list(k['judged'])}"
        )
    print("\nwin rate against the baseline, results endpoint | judgments export:")
    err = report["errors"]
    print(f"  {'model':<6} {'truth':>6} {'prompts':>7}  " + "  ".join(f"{s:<17}" for s in err))
    for m in report["truth"]:
        cells = [
            f"{err[s]['results_rates'][m]:.3f} | {err[s]['export_rates'][m]:.3f}  " for s in err
        ]
        print(
            f"  {m:<6} {report['truth'][m]:>6.3f} {report['prompt_set_truth'][m]:>7.3f}  "
            + "  ".join(cells)
        )
    for stage, e in err.items():
        print(
            f"MAE {stage:<18}: results {e['results_mae']:.4f} (n {e['results_n']}), export "
            f"{e['export_mae']:.4f} (n {e['export_n']}); against the prompt-set truth "
            f"{e['results_mae_prompt_set']:.4f} | {e['export_mae_prompt_set']:.4f}; judgments "
            f"stored {e['stored']['all']}, of raters not excluded {e['stored']['counted']}; "
            f"results computed afresh (a new cache key): n {e['fresh_n']}"
        )
    print(
        f"results endpoint leaves excluded raters out: {report['results_honour_exclusion']}; "
        f"its excluded_raters: {report['excluded_raters_in_results']!r:.60}"
    )
    print(
        f"comparisons below k after exclusion: {report['unfilled_after_exclusion']}, at the end: "
        f"{report['unfilled_at_end']}; flagged at the end (after replacement): "
        f"{report['final_flagged_after_replacement']}"
    )
    brief = {k: v for k, v in report.items() if k != "kinds"}
    brief["kinds"] = {
        kind: {x: y for x, y in k.items() if x not in ("unflagged", "flagged_rows")}
        for kind, k in kinds.items()
    }
    print(json.dumps(brief, default=str))


if __name__ == "__main__":
    main()
