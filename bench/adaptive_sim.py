"""Collection with a target (issue 13): uniform against adaptive sampling, driven through the API.

Simulated raters with known true win rates against the baseline (some near 50%, some far from
it, with ties) judge one study design twice, `--sampling uniform` and `--sampling adaptive`, at
the same target, through the rater API of the app served by gunicorn, until the study's
`collection.status` (GET /api/studies/<slug>) says complete. For each run it prints the
judgments used against judgments_if_uniform, whether each candidate's final anytime-valid
interval covers its true win rate, the k check in the database, and the wall time.

    python bench/adaptive_sim.py [--prompts 300] [--win-rates 0.5,0.55,0.2,0.8,0.9]
        [--overlap 3] [--target-half-width 0.1] [--raters 24] [--think 4] [--seeds 1]
        [--refresh-seconds S] [--one-at-a-time STINT] [--ties 0.1] [--keep] [--json FILE]

The truth. Candidate m has true win rate w (mean score, a tie counting half). Each prompt i
draws its own rate: with probability `--ties` a judgment is a tie, otherwise the candidate wins
with probability p_i ~ Beta(c q, c (1 - q)), q = (w - ties / 2) / (1 - ties), c = 8, so the k
judgments of one comparison share p_i (they are correlated, as real ones are) and the mean
score is w. Output texts say which model wrote them ("m90 answers p12."); the blinded API shows
only the texts, so the simulated rater reads the sides from them. Both designs of one seed
share the per-prompt rates.

Pacing. Each of `--raters` raters loops next -> think (`--think` seconds on average, uniform
between half and one and a half times it, holding the lease as a person reading would) ->
judgment, so about raters / think judgments a second. The app recomputes statuses and
priorities on its own schedule (services/collection.refresh_interval: ten times what the last
refresh took, between 1 and 10 s; about 1 s at this size), from the next path; the run reports
how many judgments fell between two refreshes, which is the lag both designs face alike.
`--refresh-seconds S` (benchmark only) serves the app with a fixed interval of S instead,
through `served_app` below (S = 10 is the schedule's upper end, what a study with hundreds of
thousands of judgments gets); nothing else changes.
`--one-at-a-time STINT` has the raters work one after another instead, STINT judgments each
(one annotator per session, as in a small lab study): no two leases are ever live at once.

The k check, in the database after each run: `over` comparisons with more than k counted
judgments (must be 0); `complete` comparisons with exactly k; `short` comparisons served but
left with 1..k-1 judgments (their candidate stopped first; they give the interval nothing);
duplicate (comparison, rater) judgments and judgment_count drift (both must be 0); open leases
left. "No served comparison falls short of k" is over = 0 and short = 0.

Where the judgments go, per candidate: `needed` is the number of completed comparisons at which
the stopping rule is first met on the observations as they arrived (stats.observations_until,
the app's own rule with no refresh lag); `after` the completed comparisons beyond it (uniform:
those a candidate gets while others are still collecting, the price of a balanced design;
adaptive: refresh lag and leases in flight); `short` the judgments in comparisons that never
completed.

Without DATABASE_URL the project's embedded PostgreSQL is used. The database (bench_asim) is
dropped after the run unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import database_url, server_execute, server_url  # noqa: E402
from bench.machine import machine_line  # noqa: E402
from bench.serving import gunicorn_start  # noqa: E402

DB_NAME = "bench_asim"
BASELINE = "base"
# Beta concentration of the per-prompt win rates: the prompt-level spread of p is
# sqrt(q (1 - q) / (c + 1)), 0.17 at q = 0.5.
PROMPT_CONCENTRATION = 8.0
# The collection refresh interval the benchmark serves the app with (served_app).
REFRESH_ENV = "ADAPTIVE_SIM_REFRESH_SECONDS"
SAMPLINGS = ("uniform", "adaptive")


def served_app() -> Any:
    """The WSGI app for gunicorn ("bench.adaptive_sim:served_app()"): the project's own, with
    the collection refresh interval set from REFRESH_ENV (time scaling for this benchmark)."""
    import importlib

    from app.wsgi import application

    # Imported after the WSGI module, which sets Django up.
    collection = importlib.import_module("annotations.services.collection")
    collection.REFRESH_SECONDS = collection.MIN_REFRESH_SECONDS = float(os.environ[REFRESH_ENV])
    return application


def candidate_name(win_rate: float) -> str:
    return f"m{round(win_rate * 100):02d}"


@dataclass
class Design:
    """One study design: prompts, candidates and their per-prompt rates, the collection rule."""

    prompts: int
    win_rates: dict[str, float]
    ties: float
    overlap: int
    target: float
    stop_on_decision: bool
    # (candidate, prompt key) -> probability the candidate wins a judgment that is no tie.
    rates: dict[tuple[str, str], float] = field(default_factory=dict)

    def expected(self, name: str, key: str) -> float:
        """The expected score of candidate `name` on prompt `key`."""
        return (1 - self.ties) * self.rates[(name, key)] + self.ties / 2

    def draw(self, seed: int) -> None:
        import numpy as np

        rng = np.random.default_rng(seed)
        self.rates = {}
        for name, w in self.win_rates.items():
            q = (w - self.ties / 2) / (1 - self.ties)
            c = PROMPT_CONCENTRATION
            for i, p in enumerate(rng.beta(c * q, c * (1 - q), size=self.prompts)):
                self.rates[(name, f"p{i}")] = float(p)


def setup_database(db_url: str, raters: int) -> tuple[list[str], str]:
    """Migrate the bench database and make the raters and one researcher; their tokens."""
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")
    # The bench process only sets up and reads; gunicorn serves with DEBUG off (_gunicorn).
    os.environ.setdefault("DJANGO_DEBUG", "1")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from annotations.services.users import user_create_or_update

    call_command("migrate", "--no-input", verbosity=0)
    tokens = [
        user_create_or_update(username=f"sim-rater-{i}", role="rater").token for i in range(raters)
    ]
    researcher = user_create_or_update(username="sim-researcher", role="researcher").token
    connections.close_all()
    return tokens, researcher


def study_commands(slug: str, design: Design, sampling: str) -> list[list[str]]:
    """The manage.py command lines that create and load the study (run in process)."""
    create = [
        "create_study",
        slug,
        "--baseline",
        BASELINE,
        "--target-half-width",
        f"{design.target:g}",
        *(["--stop-on-decision"] if design.stop_on_decision else []),
        "--sampling",
        sampling,
        "--overlap",
        str(design.overlap),
        "--scale",
        "ternary",
    ]
    return [create, ["load_prompts", "PROMPTS.jsonl", "--study", slug]]


def study_setup(slug: str, design: Design, sampling: str) -> str:
    """Create and load the study with manage.py's commands; the command lines, for the record."""
    from django.core.management import call_command
    from django.db import connections

    create, load = study_commands(slug, design, sampling)
    names = [BASELINE, *design.win_rates]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as data:
        for i in range(design.prompts):
            outputs = {name: f"{name} answers p{i}." for name in names}
            data.write(json.dumps({"key": f"p{i}", "prompt": f"Prompt {i}", "outputs": outputs}))
            data.write("\n")
    try:
        call_command(*create, stdout=open(os.devnull, "w"))  # noqa: SIM115 - closed at exit
        call_command(load[0], data.name, *load[2:], stdout=open(os.devnull, "w"))  # noqa: SIM115
    finally:
        os.unlink(data.name)
    connections.close_all()
    return " && ".join("manage.py " + " ".join(command) for command in (create, load))


@dataclass
class Run:
    """What one study's simulation saw."""

    judged: int = 0
    errors: int = 0
    empty: int = 0
    error_samples: list[str] = field(default_factory=list)
    started: float = 0.0
    completed_at: float | None = None
    last_judgment_at: float = 0.0
    refreshes: set[str] = field(default_factory=set)
    done: bool = False


def _side(text: str) -> tuple[str, str]:
    """(generator, prompt key) from an output text "NAME answers KEY."."""
    name, _, rest = text.partition(" answers ")
    return name, rest.rstrip(".")


def verdict(left: str, right: str, design: Design, rng: random.Random) -> str:
    """The simulated rater's answer: a tie, or the candidate's side with its prompt's rate."""
    left_name, key = _side(left)
    right_name, _ = _side(right)
    candidate_left = right_name == BASELINE
    candidate = left_name if candidate_left else right_name
    if rng.random() < design.ties:
        return "tie"
    wins = rng.random() < design.rates[(candidate, key)]
    return "left" if wins == candidate_left else "right"


async def simulate(
    *,
    port: int,
    slug: str,
    tokens: list[str],
    researcher: str,
    design: Design,
    think: float,
    stint: int,
    seed: int,
    refresh: float,
    poll: float,
    max_seconds: float,
) -> Run:
    """Raters judge `slug` until its collection status is complete, or until every candidate
    still collecting has all its comparisons judged k times and nothing more is served.

    With `stint` 0 the raters work at once, each in its own loop; otherwise one at a time, in
    turn, each for `stint` judgments (a small lab study, one annotator per session)."""
    import httpx

    from bench.rating_bench import RawHttp

    run = Run(started=time.perf_counter())
    next_path = f"/api/studies/{slug}/assignments/next"
    everything = design.prompts * design.overlap
    idle = 2 * refresh + 1.0

    def failed(what: str, code: int, content: bytes) -> None:
        run.errors += 1
        if len(run.error_samples) < 5:
            run.error_samples.append(f"{what} {code}: {content[:200]!r}")

    async def judge_once(http: RawHttp, headers: dict[str, str], rng: random.Random) -> bool:
        """One next -> think -> judgment; False when nothing was served."""
        code, content = await http.post(next_path, headers)
        if code == 204:
            run.empty += 1
            return False
        if code != 200:
            failed("next", code, content)
            await asyncio.sleep(0.2)
            return False
        lease = json.loads(content)
        await asyncio.sleep(think * rng.uniform(0.5, 1.5))
        winner = verdict(lease["left"]["text"], lease["right"]["text"], design, rng)
        answer = json.dumps({"winner": winner, "duration_ms": 20000}).encode()
        path = f"/api/assignments/{lease['id']}/judgment"
        code, content = await http.post(path, headers, answer)
        if code == 201:
            run.judged += 1
            run.last_judgment_at = time.perf_counter()
        else:
            failed("judgment", code, content)
        return True

    raters = [
        (
            RawHttp("127.0.0.1", port),
            {"Authorization": f"Token {token}"},
            random.Random(f"{seed}-{slug}-{i}"),
        )
        for i, token in enumerate(tokens)
    ]

    async def rater(http: RawHttp, headers: dict[str, str], rng: random.Random) -> None:
        # Staggered starts, as people arrive over a few seconds.
        await asyncio.sleep(rng.random() * think)
        while not run.done:
            if not await judge_once(http, headers, rng):
                await asyncio.sleep(min(0.5, poll))

    async def in_turn() -> None:
        while not run.done:
            served = False
            for http, headers, rng in raters:
                for _ in range(stint):
                    if run.done or not await judge_once(http, headers, rng):
                        break
                    served = True
            if not served:
                await asyncio.sleep(min(0.5, poll))

    async def monitor(client: httpx.AsyncClient) -> None:
        # A researcher watching the study's API detail. Its GET refreshes a stale status as
        # the raters' next requests do, so it adds no refreshes that matter.
        while not run.done:
            await asyncio.sleep(poll)
            response = await client.get(f"/api/studies/{slug}")
            collection = response.json().get("collection") or {}
            if not collection:
                continue
            run.refreshes.add(collection.get("computed_at", ""))
            left = [
                row
                for row in collection["generators"]
                if row["status"] == "collecting" and row["judgments"] < everything
            ]
            now = time.perf_counter()
            # Every candidate still collecting has all its comparisons judged and nothing has
            # been judged for two refreshes: nothing is left to serve, though the status
            # cannot say complete.
            exhausted = not left and now - max(run.last_judgment_at, run.started) > idle
            if collection["status"] == "complete" or exhausted:
                run.completed_at = now
                run.done = True
            elif now - run.started > max_seconds:
                run.done = True

    auth = {"Authorization": f"Token {researcher}"}
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers=auth, timeout=60
    ) as client:
        workers = [in_turn()] if stint else [rater(*one) for one in raters]
        await asyncio.gather(monitor(client), *workers)
    for http, _, _ in raters:
        await http.close()
    return run


async def final_status(*, port: int, slug: str, researcher: str, refresh: float) -> dict[str, Any]:
    """The status after the last judgment: ask once the stored one is older than the refresh
    interval, so this GET recomputes it (from the API, like every figure here)."""
    import httpx

    auth = {"Authorization": f"Token {researcher}"}
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers=auth, timeout=60
    ) as client:
        await asyncio.sleep(refresh + 0.2)
        response = await client.get(f"/api/studies/{slug}")
        return response.json()["collection"]


_K_CHECK_SQL = """
SELECT count(*) FILTER (WHERE c.judgment_count > %(k)s),
       count(*) FILTER (WHERE c.judgment_count = %(k)s),
       count(*) FILTER (WHERE c.judgment_count BETWEEN 1 AND %(k)s - 1),
       coalesce(sum(c.judgment_count) FILTER (WHERE c.judgment_count BETWEEN 1 AND %(k)s - 1), 0),
       coalesce(sum(%(k)s - c.judgment_count)
                FILTER (WHERE c.judgment_count BETWEEN 1 AND %(k)s - 1), 0),
       count(*) FILTER (WHERE c.judgment_count <> (SELECT count(*) FROM annotations_judgment j
                                                    WHERE j.comparison_id = c.id)),
       (SELECT count(*) FROM (SELECT 1 FROM annotations_judgment j
                                JOIN annotations_comparison d ON d.id = j.comparison_id
                               WHERE d.study_id = %(study)s
                               GROUP BY j.comparison_id, j.rater_id HAVING count(*) > 1) x),
       (SELECT count(*) FROM annotations_assignment a
         WHERE a.study_id = %(study)s AND a.status = 'open'),
       coalesce(sum(c.judgment_count), 0)
  FROM annotations_comparison c
 WHERE c.study_id = %(study)s"""
_K_NAMES = (
    "over",
    "complete",
    "short",
    "short_judgments",
    "to_finish_short",
    "drift",
    "duplicates",
    "open_leases",
    "judgments",
)


def k_check(slug: str, overlap: int) -> dict[str, int]:
    """The k check of the module docstring, on the study's comparisons."""
    from django.db import connection

    from annotations.models import Study

    study = Study.objects.get(slug=slug)
    with connection.cursor() as cursor:
        cursor.execute(_K_CHECK_SQL, {"k": overlap, "study": study.pk})
        row = cursor.fetchone()
    return dict(zip(_K_NAMES, (int(v) for v in row), strict=True))


def judgments_spent(slug: str, design: Design) -> dict[str, dict[str, Any]]:
    """Per candidate: judgments, completed comparisons, those the rule needed with no lag, the
    ones after, and the judgments left in comparisons that never completed."""
    import numpy as np

    from annotations.models import Comparison, Generator, Study
    from annotations.selectors.collection import counted_judgments
    from annotations.stats.confidence_sequences import comparison_means, observations_until

    study = Study.objects.get(slug=slug)
    counted = counted_judgments(study=study)
    ids = dict(Generator.objects.filter(study=study).values_list("name", "pk"))
    keys = dict(Comparison.objects.filter(study=study).values_list("pk", "prompt__key"))
    out = {}
    for name in design.win_rates:
        mine = (counted.generator_a == ids[name]) & (counted.generator_b == study.baseline_id)
        values = comparison_means(
            comparisons=counted.comparison[mine],
            scores=(counted.sign[mine] + 1) / 2.0,
            k=design.overlap,
        )
        needed = (
            observations_until(
                values=values,
                target_half_width=design.target,
                stop_on_decision=design.stop_on_decision,
            )
            if len(values)
            else None
        )
        served, per = np.unique(counted.comparison[mine], return_counts=True)
        completed = served[per >= design.overlap]
        out[name] = {
            "judgments": int(mine.sum()),
            "completed": len(values),
            "needed": needed,
            "after": len(values) - needed if needed is not None else None,
            "short_judgments": int(per[per < design.overlap].sum()),
            "mean": float(values.mean()) if len(values) else None,
            # The expected score of the very prompts completed (their p_i): the observed mean
            # differs from it by the raters' noise, and it from the truth by the prompts drawn.
            "served_rate": float(np.mean([design.expected(name, keys[int(c)]) for c in completed]))
            if len(completed)
            else None,
        }
    return out


def _gunicorn(
    *, db_url: str, port: int, workers: int, threads: int, refresh: float | None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DJANGO_SETTINGS_MODULE": "app.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-only-secret-key-not-for-deployment-" + "x" * 20,
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_COOKIES": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    }
    app = "app.wsgi:application"
    if refresh is not None:
        env[REFRESH_ENV] = str(refresh)
        app = "bench.adaptive_sim:served_app()"
    import httpx

    def ready() -> bool:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/me", timeout=2)
        except httpx.HTTPError:
            return False
        return True

    return gunicorn_start(
        env=env, port=port, workers=workers, threads=threads, ready=ready, app=app
    )


def _interval_covers(row: dict[str, Any], truth: float) -> bool:
    low, high = row.get("av_ci_low"), row.get("av_ci_high")
    return low is not None and high is not None and low <= truth <= high


def report_run(result: dict[str, Any], design: Design) -> None:
    state, check, spent = result["state"], result["check"], result["spent"]
    used, whole = state["judgments_used"], state["judgments_if_uniform"]
    print(
        f"\n[{result['sampling']}, seed {result['seed']}] status {state['status']}: "
        f"{used} judgments of {whole} if uniform ({100 * used / whole:.1f}%); "
        f"wall {result['wall_s']:.1f} s to complete ({result['rate']:.1f} judgments/s, "
        f"~{result['per_refresh']:.0f} judgments per refresh); "
        f"coverage {result['covered']}/{len(design.win_rates)}; load {result['load']}"
    )
    print(
        "  k check: over {over}, complete {complete}, short {short} ({short_judgments} "
        "judgments; {to_finish_short} more would finish them), duplicates {duplicates}, "
        "drift {drift}, open leases {open_leases}".format(**check)
    )
    print(f"  errors {result['errors']}, 204s {result['empty']}")
    for sample in result["error_samples"]:
        print("   ", sample)
    print(
        "  candidate truth served mean  status     interval         hw    judgments completed"
        " needed after short"
    )
    rows = {row["name"]: row for row in state["generators"]}
    for name, truth in design.win_rates.items():
        row, s = rows[name], spent[name]
        mark = "" if _interval_covers(row, truth) else "  MISSED"
        mean = f"{s['mean']:.3f}" if s["mean"] is not None else "-"
        served = f"{s['served_rate']:.3f}" if s["served_rate"] is not None else "-"
        print(
            f"  {name:<9} {truth:<5.2f} {served:<6} {mean:<5} {row['status']:<10}"
            f" [{row['av_ci_low']:.3f}, {row['av_ci_high']:.3f}] {row['half_width']:.3f}"
            f" {s['judgments']:>9} {s['completed']:>9} {s['needed'] or '-':>6}"
            f" {s['after'] if s['after'] is not None else '-':>5} {s['short_judgments']:>5}{mark}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=300, help="prompts (per candidate)")
    parser.add_argument("--win-rates", default="0.5,0.55,0.2,0.8,0.9")
    parser.add_argument("--ties", type=float, default=0.1, help="share of judgments that tie")
    parser.add_argument("--overlap", type=int, default=3, help="k")
    parser.add_argument("--target-half-width", type=float, default=0.1)
    parser.add_argument("--no-stop-on-decision", action="store_true")
    parser.add_argument("--raters", type=int, default=24)
    parser.add_argument("--think", type=float, default=4.0, help="mean seconds a lease is held")
    parser.add_argument(
        "--one-at-a-time",
        type=int,
        default=0,
        metavar="STINT",
        help="raters work one at a time, in turn, STINT judgments each (default 0: all at once)",
    )
    parser.add_argument("--seeds", type=int, default=1, help="replications (seed 1..N)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument(
        "--refresh-seconds",
        type=float,
        help="serve the app with this collection refresh interval (benchmark only; "
        "default: the app's own)",
    )
    parser.add_argument("--samplings", default="uniform,adaptive")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=8771)
    parser.add_argument("--max-seconds", type=float, default=900, help="per study")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--json", help="also write every run's figures to this file")
    args = parser.parse_args()

    rates = [float(v) for v in args.win_rates.split(",")]
    design = Design(
        prompts=args.prompts,
        win_rates={candidate_name(w): w for w in rates},
        ties=args.ties,
        overlap=args.overlap,
        target=args.target_half_width,
        stop_on_decision=not args.no_stop_on_decision,
    )
    samplings = [s.strip() for s in args.samplings.split(",") if s.strip()]
    postgres = server_url()
    db_url = database_url(postgres, DB_NAME)
    server_execute(postgres, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    server_execute(postgres, f"CREATE DATABASE {DB_NAME}")
    results: list[dict[str, Any]] = []
    server = None
    try:
        tokens, researcher = setup_database(db_url, args.raters)
        from annotations.services.collection import REFRESH_SECONDS

        refresh = args.refresh_seconds if args.refresh_seconds is not None else REFRESH_SECONDS
        server = _gunicorn(
            db_url=db_url,
            port=args.port,
            workers=args.workers,
            threads=args.threads,
            refresh=args.refresh_seconds,
        )
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            pg = cursor.fetchone()[0]
        print(f"machine: {machine_line(postgres=pg)}")
        print(
            f"design: {args.prompts} prompts x {len(rates)} candidates {design.win_rates} vs "
            f"{BASELINE!r}, ties {args.ties}, k = {args.overlap}, target half-width "
            f"{args.target_half_width}, stop on decision {design.stop_on_decision}; "
            f"{args.raters} raters"
            + (f" one at a time ({args.one_at_a_time} each)" if args.one_at_a_time else "")
            + f", think {args.think} s; "
            + (
                f"refresh every {refresh:g} s (fixed for the benchmark)"
                if args.refresh_seconds is not None
                else "refresh on the app's schedule (1-10 s)"
            )
            + f"; gunicorn {args.workers} x {args.threads}",
            flush=True,
        )
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            design.draw(seed)
            for sampling in samplings:
                slug = f"sim-{sampling}-{seed}"
                commands = study_setup(slug, design, sampling)
                load = Path("/proc/loadavg").read_text().split()[0]
                run = asyncio.run(
                    simulate(
                        port=args.port,
                        slug=slug,
                        tokens=tokens,
                        researcher=researcher,
                        design=design,
                        think=args.think,
                        stint=args.one_at_a_time,
                        seed=seed,
                        refresh=refresh,
                        poll=min(1.0, refresh / 4),
                        max_seconds=args.max_seconds,
                    )
                )
                load += "-" + Path("/proc/loadavg").read_text().split()[0]
                state = asyncio.run(
                    final_status(port=args.port, slug=slug, researcher=researcher, refresh=refresh)
                )
                end = run.completed_at or time.perf_counter()
                wall = end - run.started
                rate = run.judged / max(1e-9, run.last_judgment_at - run.started)
                result = {
                    "sampling": sampling,
                    "seed": seed,
                    "commands": commands,
                    "state": state,
                    "check": k_check(slug, args.overlap),
                    "spent": judgments_spent(slug, design),
                    "wall_s": wall,
                    "complete": run.completed_at is not None,
                    "rate": rate,
                    # Fixed: rate x interval; the app's schedule: the refreshes the researcher's
                    # polls saw.
                    "per_refresh": rate * refresh
                    if args.refresh_seconds is not None
                    else run.judged / max(1, len(run.refreshes)),
                    "errors": run.errors,
                    "empty": run.empty,
                    "error_samples": run.error_samples,
                    "load": load,
                    "covered": sum(
                        _interval_covers(row, design.win_rates[row["name"]])
                        for row in state["generators"]
                    ),
                }
                results.append(result)
                report_run(result, design)
                sys.stdout.flush()
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
        if results or server is not None:
            from django.db import connections

            connections.close_all()
        if not args.keep:
            server_execute(postgres, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    summarize(results, design)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))


def summarize(results: list[dict[str, Any]], design: Design) -> None:
    """Adaptive against uniform per seed, and the totals."""
    by = {(r["seed"], r["sampling"]): r for r in results}
    seeds = sorted({r["seed"] for r in results})
    print("\nsummary (judgments used / if uniform; coverage; short comparisons; wall s)")
    ratios = []
    for seed in seeds:
        parts = []
        for sampling in SAMPLINGS:
            r = by.get((seed, sampling))
            if r is None:
                continue
            s = r["state"]
            parts.append(
                f"{sampling} {s['judgments_used']}/{s['judgments_if_uniform']} "
                f"cov {r['covered']}/{len(design.win_rates)} short {r['check']['short']} "
                f"over {r['check']['over']} {r['wall_s']:.0f} s"
            )
        if (seed, "uniform") in by and (seed, "adaptive") in by:
            u = by[(seed, "uniform")]["state"]["judgments_used"]
            a = by[(seed, "adaptive")]["state"]["judgments_used"]
            ratios.append(a / u)
            parts.append(f"adaptive/uniform {100 * a / u:.1f}%")
        print(f"  seed {seed}: " + "; ".join(parts))
    for sampling in SAMPLINGS:
        mine = [r for r in results if r["sampling"] == sampling]
        if mine:
            covered = sum(r["covered"] for r in mine)
            total = len(mine) * len(design.win_rates)
            print(
                f"  {sampling}: coverage {covered}/{total}, over-filled "
                f"{sum(r['check']['over'] for r in mine)}, short "
                f"{sum(r['check']['short'] for r in mine)}, mean judgments "
                f"{sum(r['state']['judgments_used'] for r in mine) / len(mine):.0f}"
            )
    if ratios:
        print(
            f"  adaptive / uniform judgments: {', '.join(f'{100 * x:.1f}%' for x in ratios)} "
            f"(goal <= 60%)"
        )
    if results:
        print(f"  commands: {results[0]['commands']}")


if __name__ == "__main__":
    main()
