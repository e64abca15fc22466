"""Benchmark of the results computation: 1,000,000 judgments, 100,000 prompts, 30 models.

Builds (or reuses) a study in the development database: prompts, outputs and comparisons with
set-based SQL, the judgments with COPY from numpy (prompt effects, rater effects, ties), then:

1. times the whole results computation (`study_results_compute`: reading the judgments, win
   rates with prompt-clustered bootstrap CIs per model and per category x model, Bradley-Terry
   with its bootstrap CIs, agreement, position bias, the raters table) with its peak memory
   (the process's peak RSS, reset just before), and the main parts on their own;
2. times a straightforward per-resample loop of the kind public leaderboard scripts use (for each
   resample: draw judgments with replacement, refit Bradley-Terry with scipy.optimize, count win
   rates per model in a Python loop) on a few resamples, extrapolated to 2,000, and prints the
   ratio;
3. times the full results computation of the LLMFAO demo study (no cache), and its results
   page through Django's test client, cold (empty cache) and cached, and its SVG figure;
   with --served, the page and figure served by gunicorn with 2 workers instead: cold, after
   one new judgment, and on the worker that did not compute (bench/results_served.py).

4. with --compare-with REV, times the whole computation of the code at git revision REV (its
   tree exported to a temporary folder and run in its own process on the same study) and of
   the current code, and lists every field of the results JSON that differs between them.

    DJANGO_DEBUG=1 .venv/bin/python bench/results_bench.py [--judgments 1000000]
        [--prompts 100000] [--generators 30] [--naive-resamples 3] [--keep]
        [--compare-with REV] [--compare-runs 3] [--design baseline|all-pairs]
        [--bt-ci bootstrap|sandwich] [--skip-page] [--page-only] [--served [--served-rounds N]]
        [--growth 30,100,300,1000 [--growth-judgments N] [--growth-prompts N]]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import machine_line  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")

import django  # noqa: E402

django.setup()

import scipy  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from scipy.optimize import minimize  # noqa: E402
from scipy.special import expit, log_expit  # noqa: E402

from annotations import stats  # noqa: E402
from annotations.analysis.cache import study_results_compute  # noqa: E402
from annotations.analysis.options import results_options_validate  # noqa: E402
from annotations.models import Judgment, Study, User  # noqa: E402
from annotations.selectors.results import study_judgment_arrays  # noqa: E402
from annotations.services.studies import study_create_or_update, study_delete  # noqa: E402
from annotations.services.users import user_create_or_update  # noqa: E402

SLUG = "bench-results"
BASELINE = "baseline-model"
CANDIDATES_PER_PROMPT = 4
RATERS_PER_COMPARISON = 2
RATERS = 200
CATEGORIES = 5


def machine() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    return f"{machine_line(postgres=pg)}; numpy {np.__version__}; scipy {scipy.__version__}"


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss() -> int:
    """Reset the kernel's peak-RSS mark of this process; returns the current RSS."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status("VmRSS")


def peak_rss() -> int:
    return _status("VmHWM")


def drop(slug: str) -> None:
    old = Study.objects.filter(slug=slug).first()
    if old is not None:
        study_delete(study=old)


def judgment_count(study: Study) -> int:
    return Judgment.objects.filter(comparison__study=study).count()


def set_up(prompts: int, generators: int, judgments: int, design: str = "baseline") -> Study:
    """Prompts x (CANDIDATES_PER_PROMPT comparisons against the baseline + one between two
    candidates), each judged by RATERS_PER_COMPARISON raters, until `judgments` are made.

    design "all-pairs": instead, each prompt has 5 comparisons between pairs of any models
    (model x and x + d, both rotating with the prompt and the comparison), so every pair of
    the models is compared somewhere."""
    drop(SLUG)
    study = study_create_or_update(slug=SLUG, baseline=BASELINE, overlap=2).study
    candidates = generators - 1
    raters = [
        user_create_or_update(username=f"bench-res-rater-{i}", role="rater").user.pk
        for i in range(RATERS)
    ]
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO annotations_generator (study_id, name, family, size) "
            "SELECT %s, 'model-' || lpad(i::text, 4, '0'), 'family-' || (i %% 3), "
            "1000000000::bigint * (1 + i / 3) FROM generate_series(1, %s) i",
            [study.pk, candidates],
        )
        cursor.execute(
            "INSERT INTO annotations_prompt (study_id, key, text, messages, category, created_at) "
            "SELECT %s, 'prompt-' || i, 'Prompt number ' || i, NULL, "
            "'category-' || (i %% %s), now() FROM generate_series(0, %s - 1) i",
            [study.pk, CATEGORIES, prompts],
        )
        if design == "all-pairs":
            _all_pairs_comparisons(cursor, study, generators)
        else:
            # Each prompt: the baseline and four candidates at offsets 0, 7, 13, 19 (mod 29).
            cursor.execute(
                "WITH cand AS (SELECT id, (row_number() OVER (ORDER BY name) - 1) AS r "
                "  FROM annotations_generator WHERE study_id = %(s)s AND id <> %(b)s) "
                "INSERT INTO annotations_output "
                "(study_id, prompt_id, generator_id, text, created_at) "
                "SELECT p.study_id, p.id, g.id, 'Output of ' || g.id || ' for ' || p.key, now() "
                "FROM annotations_prompt p "
                "CROSS JOIN (VALUES (0), (7), (13), (19)) AS o(off) "
                "JOIN cand g ON g.r = (p.id + o.off) %% %(n)s "
                "WHERE p.study_id = %(s)s "
                "UNION ALL SELECT p.study_id, p.id, %(b)s, 'Baseline output for ' || p.key, now() "
                "FROM annotations_prompt p WHERE p.study_id = %(s)s",
                {"s": study.pk, "b": study.baseline_id, "n": candidates},
            )
            cursor.execute(
                "INSERT INTO annotations_comparison "
                "(study_id, prompt_id, output_a_id, output_b_id, judgment_count, created_at) "
                "SELECT oa.study_id, oa.prompt_id, oa.id, ob.id, %(k)s, now() "
                "FROM annotations_output oa JOIN annotations_output ob "
                "ON ob.prompt_id = oa.prompt_id AND ob.generator_id = %(b)s "
                "WHERE oa.study_id = %(s)s AND oa.generator_id <> %(b)s "
                # and one comparison between the two candidates with the lowest ids on each prompt
                "UNION ALL SELECT x.study_id, x.prompt_id, x.a, x.b, %(k)s, now() FROM ("
                "  SELECT o.study_id, o.prompt_id, min(o.id) AS a, "
                "  (array_agg(o.id ORDER BY o.id))[2] AS b FROM annotations_output o "
                "  WHERE o.study_id = %(s)s AND o.generator_id <> %(b)s GROUP BY 1, 2) x",
                {"s": study.pk, "b": study.baseline_id, "k": RATERS_PER_COMPARISON},
            )
        cursor.execute(
            "SELECT c.id, c.prompt_id, oa.generator_id, ob.generator_id "
            "FROM annotations_comparison c JOIN annotations_output oa ON oa.id = c.output_a_id "
            "JOIN annotations_output ob ON ob.id = c.output_b_id WHERE c.study_id = %s "
            "ORDER BY c.id",
            [study.pk],
        )
        rows = np.array(cursor.fetchall(), dtype=np.int64)
        comparison, prompt, gen_a, gen_b = rows.T
        n_rows = min(judgments, len(comparison) * RATERS_PER_COMPARISON)
        rng = np.random.default_rng(42)
        # Model strength (logit) + prompt effect + rater effect; 20% ties.
        models = np.unique(rows[:, 2:])
        strength = rng.normal(0, 0.5, len(models))
        strength_a = strength[np.searchsorted(models, gen_a)]
        strength_b = strength[np.searchsorted(models, gen_b)]
        _, prompt_code = np.unique(prompt, return_inverse=True)
        prompt_effect = rng.normal(0, 0.8, prompt_code.max() + 1)[prompt_code]
        pick = np.repeat(np.arange(len(comparison)), RATERS_PER_COMPARISON)[:n_rows]
        first = rng.integers(0, RATERS, len(comparison))
        offset = np.tile(np.arange(RATERS_PER_COMPARISON), len(comparison))[:n_rows]
        rater_index = (first[pick] + offset * 37) % RATERS
        rater_effect = rng.normal(0, 0.3, RATERS)[rater_index]
        logit = strength_a[pick] - strength_b[pick] + prompt_effect[pick] + rater_effect
        u = rng.random(n_rows)
        tie = rng.random(n_rows) < 0.2
        preference = np.where(tie, 0, np.where(u < expit(logit), 1, -1))
        left_is_a = rng.random(n_rows) < 0.5
        both_bad = tie & (rng.random(n_rows) < 0.25)
        duration = rng.integers(2000, 60000, n_rows)
        rater_ids = np.array(raters, dtype=np.int64)[rater_index]
        with cursor.cursor.copy(
            "COPY annotations_judgment (comparison_id, rater_id, scale, preference, both_bad, "
            "left_is_a, criteria, flags, rationale, duration_ms, source, created_at) "
            "FROM STDIN"
        ) as copy:
            step = 100_000
            for start in range(0, n_rows, step):
                part = slice(start, start + step)
                lines = [
                    f"{c}\t{r}\tternary\t{p}\t{'t' if bb else 'f'}\t{'t' if lf else 'f'}"
                    f"\t{{}}\t{{}}\t\t{d}\tweb\t2026-01-01 00:00:00+00\n"
                    for c, r, p, bb, lf, d in zip(
                        comparison[pick[part]].tolist(),
                        rater_ids[part].tolist(),
                        preference[part].tolist(),
                        both_bad[part].tolist(),
                        left_is_a[part].tolist(),
                        duration[part].tolist(),
                        strict=True,
                    )
                ]
                copy.write("".join(lines))
        cursor.execute("ANALYZE annotations_judgment")
        cursor.execute("ANALYZE annotations_comparison")
        cursor.execute("ANALYZE annotations_output")
        cursor.execute("ANALYZE annotations_prompt")
    print(f"set-up: {n_rows:,} judgments in {time.perf_counter() - started:.1f} s", flush=True)
    return study


def _all_pairs_comparisons(cursor: object, study: Study, generators: int) -> None:
    """Per prompt and j = 0..4 a comparison of models x = (p + 61 j) mod G and x + d, with
    d = 1 + (p div G + 17 j) mod (G - 1): over the prompts every pair of the G models comes up.
    A repeated output or pair on one prompt is skipped (ON CONFLICT), so a few prompts have
    fewer than 5 comparisons."""
    params = {"s": study.pk, "g": generators, "k": RATERS_PER_COMPARISON}
    cursor.execute(
        "WITH gen AS (SELECT id, (row_number() OVER (ORDER BY name) - 1) AS r "
        "  FROM annotations_generator WHERE study_id = %(s)s), "
        "pick AS (SELECT p.id AS prompt_id, p.study_id, p.key, j, "
        "  (p.id + 61 * j) %% %(g)s AS x, "
        "  ((p.id + 61 * j) %% %(g)s + 1 + (p.id / %(g)s + 17 * j) %% (%(g)s - 1)) %% %(g)s AS y "
        "  FROM annotations_prompt p CROSS JOIN generate_series(0, 4) j "
        "  WHERE p.study_id = %(s)s) "
        "INSERT INTO annotations_output (study_id, prompt_id, generator_id, text, "
        "created_at) SELECT DISTINCT pick.study_id, pick.prompt_id, gen.id, "
        "'Output of ' || gen.id || ' for ' || pick.key, now() FROM pick "
        "JOIN gen ON gen.r IN (pick.x, pick.y) ON CONFLICT DO NOTHING",
        params,
    )
    cursor.execute(
        "WITH gen AS (SELECT id, (row_number() OVER (ORDER BY name) - 1) AS r "
        "  FROM annotations_generator WHERE study_id = %(s)s), "
        "pick AS (SELECT p.id AS prompt_id, p.study_id, p.key, j, "
        "  (p.id + 61 * j) %% %(g)s AS x, "
        "  ((p.id + 61 * j) %% %(g)s + 1 + (p.id / %(g)s + 17 * j) %% (%(g)s - 1)) %% %(g)s AS y "
        "  FROM annotations_prompt p CROSS JOIN generate_series(0, 4) j "
        "  WHERE p.study_id = %(s)s) "
        "INSERT INTO annotations_comparison "
        "(study_id, prompt_id, output_a_id, output_b_id, judgment_count, created_at) "
        "SELECT DISTINCT ON (pick.prompt_id, least(oa.id, ob.id), greatest(oa.id, ob.id)) "
        "pick.study_id, pick.prompt_id, oa.id, ob.id, %(k)s, now() FROM pick "
        "JOIN gen ga ON ga.r = pick.x JOIN gen gb ON gb.r = pick.y "
        "JOIN annotations_output oa ON oa.prompt_id = pick.prompt_id AND oa.generator_id = ga.id "
        "JOIN annotations_output ob ON ob.prompt_id = pick.prompt_id AND ob.generator_id = gb.id "
        "ON CONFLICT DO NOTHING",
        params,
    )


# ---------------------------------------------------------------------------------------------
# A straightforward per-resample loop, the way public leaderboard scripts compute CIs
# ---------------------------------------------------------------------------------------------


def naive_bt_fit(a: np.ndarray, b: np.ndarray, s: np.ndarray, g: int, base: int) -> np.ndarray:
    """Bradley-Terry by maximum likelihood over judgment rows with scipy.optimize (what a
    logistic regression over the battle table does), ties half a win each way."""

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        d = theta[a] - theta[b]
        nll = -(s * log_expit(d) + (1 - s) * log_expit(-d)).sum() + 0.5e-4 * (theta @ theta)
        r = s - expit(d)
        grad = -np.bincount(a, r, g) + np.bincount(b, r, g) + 1e-4 * theta
        return float(nll), grad

    theta = minimize(loss, np.zeros(g), jac=True, method="L-BFGS-B").x
    return 1000 + stats.ELO_PER_NAT * (theta - theta[base])


def naive_results(
    arrays: object, baseline_id: int, generator_ids: np.ndarray, resamples: int
) -> float:
    """For each resample: draw prompts with replacement (clusters), gather their judgments,
    refit Bradley-Terry and count each model's win rate in a Python loop; returns seconds."""
    a = np.searchsorted(generator_ids, arrays.generator_a)
    b = np.searchsorted(generator_ids, arrays.generator_b)
    s = stats.score_from_preference(preference=arrays.preference)
    base = int(np.searchsorted(generator_ids, baseline_id))
    prompts, prompt_code = np.unique(arrays.prompt, return_inverse=True)
    rows_of = np.argsort(prompt_code, kind="stable")
    bounds = np.searchsorted(prompt_code[rows_of], np.arange(len(prompts) + 1))
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for _ in range(resamples):
        drawn = rng.integers(0, len(prompts), len(prompts))
        rows = np.concatenate([rows_of[bounds[p] : bounds[p + 1]] for p in drawn])
        ra, rb, rs = a[rows], b[rows], s[rows]
        naive_bt_fit(ra, rb, rs, len(generator_ids), base)
        against = rb == base
        for g in range(len(generator_ids)):
            mine = against & (ra == g)
            if mine.any():
                float(rs[mine].mean())
    return (time.perf_counter() - started) / resamples


def timed(label: str, fn: object, *args: object, **kwargs: object) -> tuple[object, float]:
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    seconds = time.perf_counter() - started
    print(f"  {label:<58} {seconds:8.3f} s", flush=True)
    return value, seconds


def bench_computation(study: Study, naive_resamples: int, bt_ci: str | None = None) -> None:
    options = results_options_validate(study=study, bt_ci=bt_ci)
    n = judgment_count(study)
    print(
        f"\nStudy {SLUG}: {n:,} judgments, "
        f"{study.prompts.count():,} prompts, {study.generators.count()} models",
        flush=True,
    )
    # Warm-up on a small study so imports and first-call costs are not counted.
    study_judgment_arrays(study=study)
    times = []
    peaks = []
    for run in range(2):
        before = reset_peak_rss()
        started = time.perf_counter()
        results = study_results_compute(study=study, options=options)
        seconds = time.perf_counter() - started
        peak = peak_rss()
        times.append(seconds)
        peaks.append(peak)
        print(
            f"whole results computation (bt_ci {options.bt_ci}), run {run + 1}: "
            f"{seconds:.2f} s; peak RSS "
            f"{peak / 2**20:.0f} MiB (process at {before / 2**20:.0f} MiB before)",
            flush=True,
        )
    print(
        f"  -> {len(results['generators'])} models x 2,000 resamples; "
        f"{len(results['categories'])} categories x {len(results['generators'])} models; "
        f"Bradley-Terry over {results['bradley_terry_method']['n_judgments']:,} judgments, "
        f"{results['bradley_terry_method']['n_resamples']:,} resamples",
        flush=True,
    )

    print("parts, timed on their own:", flush=True)
    arrays, _ = timed(
        "read judgments (packed binary records -> numpy)", study_judgment_arrays, study=study
    )
    ids = np.array(sorted(study.generators.values_list("id", flat=True)), dtype=np.int64)
    base = study.baseline_id
    a_code = np.searchsorted(ids, arrays.generator_a)
    b_code = np.searchsorted(ids, arrays.generator_b)
    base_code = int(np.searchsorted(ids, base))
    vs = b_code == base_code
    s = stats.score_from_preference(preference=arrays.preference)
    timed(
        "win rates per model, bootstrap 2,000",
        stats.win_rates_by_group,
        scores=s[vs],
        groups=a_code[vs],
        clusters=arrays.prompt[vs],
        both_bad=arrays.both_bad[vs],
    )
    timed(
        "win rates per category x model, bootstrap 2,000",
        stats.win_rates_by_group,
        scores=s[vs],
        groups=arrays.category[vs].astype(np.int64) * len(ids) + a_code[vs],
        clusters=arrays.prompt[vs],
        both_bad=arrays.both_bad[vs],
    )
    for ci in stats.BT_CI_DESCRIPTIONS:
        timed(
            "Bradley-Terry + clustered bootstrap 2,000"
            if ci == "bootstrap"
            else "Bradley-Terry + clustered sandwich",
            stats.bradley_terry_fit,
            first=a_code,
            second=b_code,
            scores=s,
            baseline=base_code,
            clusters=arrays.prompt,
            ci=ci,
        )
    outcome = np.sign(arrays.preference)
    timed(
        "agreement (pairwise, kappas, Fleiss, Krippendorff)",
        stats.agreement_measure,
        items=arrays.comparison,
        raters=arrays.rater,
        labels=outcome,
    )
    timed(
        "position bias, overall and per rater",
        stats.position_bias_test,
        chose_left=(outcome > 0) == arrays.left_is_a,
        raters=arrays.rater,
        is_tie=outcome == 0,
    )

    if naive_resamples <= 0:
        return
    print(f"\nper-resample loop ({naive_resamples} resamples, extrapolated to 2,000):", flush=True)
    per = naive_results(arrays, base, ids, naive_resamples)
    best = min(times)
    print(
        f"  {per:.2f} s per resample -> {per * 2000:,.0f} s for 2,000 resamples "
        f"(~{per * 2000 / 60:.0f} min); vectorised whole computation {best:.2f} s: "
        f"{per * 2000 / best:,.0f}x faster",
        flush=True,
    )


_AT_REVISION = """
import json, os, sys, time
import django
django.setup()
from annotations.analysis.cache import study_results_compute
from annotations.analysis.options import results_options_validate
from annotations.models import Study
study = Study.objects.get(slug=sys.argv[1])
options = results_options_validate(study=study)
study_results_compute(study=study, options=options)  # imports and first-call costs
times = []
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    result = study_results_compute(study=study, options=options)
    times.append(time.perf_counter() - started)
result.pop("computed_at")
print(json.dumps({"times": times, "result": result}))
"""


def _at_revision(revision: str, slug: str, runs: int) -> tuple[list[float], dict]:
    """Times and results of the whole computation with the code of git `revision` (exported
    into a temporary folder, run in its own process against the same database)."""
    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(
            ["git", "archive", revision], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "app.settings", "PYTHONPATH": folder}
        out = subprocess.run(
            [sys.executable, "-c", _AT_REVISION, slug, str(runs)],
            cwd=folder,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    data = json.loads(out.splitlines()[-1])
    return data["times"], data["result"]


def _differences(old: object, new: object, path: str = "") -> dict[str, list[float]]:
    """Paths (list indices as []) where two JSON values differ, with |difference| of numbers."""
    found: dict[str, list[float]] = {}
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            for k, v in _differences(old.get(key), new.get(key), f"{path}.{key}").items():
                found.setdefault(k, []).extend(v)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for a, b in zip(old, new, strict=True):
            for k, v in _differences(a, b, f"{path}[]").items():
                found.setdefault(k, []).extend(v)
    elif old != new:
        numbers = isinstance(old, float | int) and isinstance(new, float | int)
        found[path or "."] = [abs(float(old) - float(new)) if numbers else math.nan]
    return found


def bench_compare(study: Study, revision: str, runs: int) -> None:
    """The whole computation at `revision` and now, on the same study: times and what differs."""
    options = results_options_validate(study=study)
    print(f"\nwhole computation at {revision} (before) and now (after):", flush=True)
    before, old = _at_revision(revision, study.slug, runs)
    study_results_compute(study=study, options=options)
    after = []
    for _ in range(runs):
        started = time.perf_counter()
        new = study_results_compute(study=study, options=options)
        after.append(time.perf_counter() - started)
    new.pop("computed_at")
    new = json.loads(json.dumps(new))
    old_s, new_s = statistics.median(before), statistics.median(after)
    print(
        f"  before: median {old_s:.2f} s of {runs}; after: median {new_s:.2f} s "
        f"({old_s / new_s:.1f}x) (load average {loadavg()})",
        flush=True,
    )
    diffs = _differences(old, new)
    if not diffs:
        print("  results identical", flush=True)
    for field, sizes in sorted(diffs.items()):
        finite = [d for d in sizes if math.isfinite(d)]
        largest = f", largest |difference| {max(finite):.4g}" if finite else ""
        print(f"  {field}: {len(sizes):,} values differ{largest}", flush=True)


def demo_study() -> tuple[Study, User]:
    """The LLMFAO demo study (loaded when missing) and a researcher."""
    study = Study.objects.filter(slug="llmfao").first()
    if study is None:
        call_command("demo", "--no-serve", stdout=io.StringIO())
        study = Study.objects.get(slug="llmfao")
    user = User.objects.filter(username="researcher").first()
    if user is None:
        user = user_create_or_update(username="researcher", role="researcher").user
    return study, user


def bench_demo_computation(study: Study, runs: int = 7) -> None:
    """The demo's full results computed (read + compute, no cache), in a warm process."""
    options = results_options_validate(study=study)
    study_results_compute(study=study, options=options)  # imports and first-call costs
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        study_results_compute(study=study, options=options)
        times.append((time.perf_counter() - started) * 1000)
    print(
        f"\nDemo study's full results computed, no cache ({judgment_count(study):,} judgments, "
        f"{runs} runs): median {statistics.median(times):.0f} ms, best {min(times):.0f} ms, "
        f"worst {max(times):.0f} ms (load average {loadavg()})",
        flush=True,
    )


def bench_page() -> None:
    study, user = demo_study()
    bench_demo_computation(study)
    settings.DEBUG = False  # no query log: time the page as production serves it
    call_command("collectstatic", "--no-input", verbosity=0)  # what production serves
    client = Client()
    client.force_login(user)
    url = f"/studies/{study.slug}/results/"
    print(f"\nResults page of the demo study ({judgment_count(study):,} judgments):", flush=True)
    for label, path in (("page", url), ("figure SVG", url + "figure.svg")):
        cold = []
        for _ in range(3):
            cache.clear()
            started = time.perf_counter()
            response = client.get(path, HTTP_HOST="localhost")
            cold.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
        warm = []
        for _ in range(20):
            started = time.perf_counter()
            response = client.get(path, HTTP_HOST="localhost")
            warm.append(time.perf_counter() - started)
        print(
            f"  {label:<10} cold (empty cache) median {statistics.median(cold) * 1000:7.0f} ms; "
            f"cached median {statistics.median(warm) * 1000:5.1f} ms, "
            f"max {max(warm) * 1000:5.1f} ms ({len(response.content):,} bytes)",
            flush=True,
        )


def bench_growth(sizes: list[int], judgments: int, prompts: int, resamples: int) -> None:
    """Bradley-Terry alone (no database) on `judgments` random pairs of G models over
    `prompts` prompts, for each G: the point fit, the sandwich and the bootstrap."""
    print(
        f"\nBradley-Terry against G ({judgments:,} judgments, {prompts:,} prompts, "
        f"random pairs, {resamples:,} resamples):",
        flush=True,
    )
    for g in sizes:
        rng = np.random.default_rng(g)
        first = rng.integers(0, g, judgments)
        second = (first + rng.integers(1, g, judgments)) % g
        strength = rng.normal(0, 0.5, g)
        clusters = rng.integers(0, prompts, judgments)
        won = rng.random(judgments) < expit(strength[first] - strength[second])
        scores = np.where(rng.random(judgments) < 0.2, 0.5, won.astype(float))
        pairs = len(np.unique(np.minimum(first, second) * g + np.maximum(first, second)))
        common = {"first": first, "second": second, "scores": scores, "baseline": 0}
        print(f"  G = {g:,}: {pairs:,} compared pairs", flush=True)
        timed("point fit only", stats.bradley_terry_fit, **common, n_resamples=0)
        timed("sandwich", stats.bradley_terry_fit, **common, clusters=clusters, ci="sandwich")
        timed(
            f"bootstrap {resamples:,}",
            stats.bradley_terry_fit,
            **common,
            clusters=clusters,
            n_resamples=resamples,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--prompts", type=int, default=100_000)
    parser.add_argument("--generators", type=int, default=30)
    parser.add_argument("--naive-resamples", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the study for the next run")
    parser.add_argument("--compare-with", metavar="REV", help="git revision to compare with")
    parser.add_argument("--compare-runs", type=int, default=3)
    parser.add_argument(
        "--design",
        choices=("baseline", "all-pairs"),
        default="baseline",
        help="comparisons against the baseline (default) or between any pairs of models",
    )
    parser.add_argument("--bt-ci", help="Bradley-Terry CI of the whole computation")
    parser.add_argument("--skip-page", action="store_true", help="do not time the demo page")
    parser.add_argument(
        "--growth",
        metavar="G,G,...",
        help="only time Bradley-Terry alone (no database) for these numbers of models",
    )
    parser.add_argument("--growth-judgments", type=int, default=200_000)
    parser.add_argument("--growth-prompts", type=int, default=20_000)
    parser.add_argument("--growth-resamples", type=int, default=2000)
    parser.add_argument("--page-only", action="store_true", help="only time the demo page")
    parser.add_argument(
        "--served",
        action="store_true",
        help="only the demo's page and figure served by gunicorn with 2 workers",
    )
    parser.add_argument("--served-rounds", type=int, default=3)
    args = parser.parse_args()

    print(f"machine: {machine()}")
    print(f"load average before: {loadavg()}", flush=True)
    if args.growth:
        bench_growth(
            [int(g) for g in args.growth.split(",")],
            args.growth_judgments,
            args.growth_prompts,
            args.growth_resamples,
        )
        print(f"\nload average after: {loadavg()}")
        return
    if args.page_only:
        bench_page()
        print(f"\nload average after: {loadavg()}")
        return
    if args.served:
        from bench.results_served import bench_served

        study, user = demo_study()
        bench_demo_computation(study)
        bench_served(study, user, rounds=args.served_rounds)
        print(f"\nload average after: {loadavg()}")
        return
    study = Study.objects.filter(slug=SLUG).first()
    if (
        study is None
        or study.generators.count() != args.generators
        or abs(judgment_count(study) - args.judgments) > args.judgments // 20
    ):
        study = set_up(args.prompts, args.generators, args.judgments, args.design)
    else:
        print("set-up: reusing the existing study", flush=True)
    try:
        bench_computation(study, args.naive_resamples, args.bt_ci)
        if args.compare_with:
            bench_compare(study, args.compare_with, args.compare_runs)
        if not args.skip_page:
            bench_page()
    finally:
        if not args.keep:
            drop(SLUG)
    print(f"\nload average after: {loadavg()}")


if __name__ == "__main__":
    main()
