"""Benchmark of the length and style parts of the results: their cost on the demo and at scale.

1. On the LLMFAO demo study (loaded with `manage.py demo --no-serve` if missing): reading the
   output texts, their style features, length bias, length-controlled win rates, the
   style-controlled Bradley-Terry (beside the plain one with its sandwich, for scale) and the
   fingerprint, each the median of several runs.
2. With --judgments N (no database): the same statistics on N random judgments over N / 4
   comparisons, N / 10 prompts and --generators models, and the features of N / 2 short texts.

    DJANGO_DEBUG=1 .venv/bin/python bench/length_style_bench.py [--runs 9]
        [--judgments 1000000 [--generators 30]]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from annotations import stats  # noqa: E402
from annotations.analysis.compute import results_fingerprint  # noqa: E402
from annotations.analysis.length_style import output_features_compute  # noqa: E402
from annotations.models import Study  # noqa: E402
from annotations.selectors.results import study_judgment_arrays, study_output_texts  # noqa: E402
from bench.machine import machine_line  # noqa: E402


def timed(label: str, fn: Callable[[], object], runs: int) -> None:
    fn()  # first-call costs (imports) are not counted
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    print(f"  {label:<52} median {statistics.median(times) * 1000:8.1f} ms", flush=True)


def bench_demo(runs: int) -> None:
    study = Study.objects.filter(slug="llmfao").first()
    if study is None:
        call_command("demo", "--no-serve", stdout=io.StringIO())
        study = Study.objects.get(slug="llmfao")
    ids, texts = study_output_texts(study=study)
    arrays = study_judgment_arrays(study=study)
    print(f"\nDemo study: {len(arrays):,} judgments, {len(texts):,} outputs", flush=True)
    timed("read the output texts", lambda: study_output_texts(study=study), runs)
    timed(
        "style features of every output",
        lambda: output_features_compute(ids=ids, texts=texts),
        runs,
    )
    features = output_features_compute(ids=ids, texts=texts)
    _parts(
        arrays.generator_a,
        arrays.generator_b,
        stats.score_from_preference(preference=arrays.preference),
        features.of(arrays.output_a),
        features.of(arrays.output_b),
        arrays.prompt,
        arrays.comparison,
        study.baseline_id,
        runs,
    )
    timed(
        "fingerprint",
        lambda: results_fingerprint(arrays=arrays, parameters={}, software_version=""),
        runs,
    )


def _parts(
    first: np.ndarray,
    second: np.ndarray,
    scores: np.ndarray,
    fa: np.ndarray,
    fb: np.ndarray,
    prompt: np.ndarray,
    comparison: np.ndarray,
    baseline: int,
    runs: int,
) -> None:
    timed(
        "length bias, overall and per model",
        lambda: stats.length_bias_test(
            length_first=fa[:, 0], length_second=fb[:, 0], scores=scores, first=first, second=second
        ),
        runs,
    )
    vs = second == baseline
    timed(
        "length-controlled win rates",
        lambda: stats.length_controlled_win_rates(
            scores=scores[vs],
            length_candidate=fa[vs, 0],
            length_baseline=fb[vs, 0],
            groups=first[vs],
            clusters=prompt[vs],
            items=comparison[vs],
        ),
        runs,
    )
    common = {"first": first, "second": second, "scores": scores, "baseline": baseline}
    timed(
        "style-controlled Bradley-Terry with sandwich CIs",
        lambda: stats.bradley_terry_style_fit(
            **common, features_first=fa, features_second=fb, clusters=prompt, items=comparison
        ),
        runs,
    )
    timed(
        "plain Bradley-Terry with sandwich CIs (for scale)",
        lambda: stats.bradley_terry_fit(**common, clusters=prompt, ci="sandwich"),
        runs,
    )


def bench_scale(judgments: int, generators: int, runs: int) -> None:
    rng = np.random.default_rng(0)
    items = judgments // 4
    print(
        f"\nSynthetic: {judgments:,} judgments, {items:,} comparisons, {judgments // 10:,} "
        f"prompts, {generators} models",
        flush=True,
    )
    texts = [f"Output of model {i % generators} for prompt {i}" for i in range(judgments // 2)]
    ids = np.arange(len(texts), dtype=np.int64)
    timed(
        f"style features of {len(texts):,} short texts",
        lambda: output_features_compute(ids=ids, texts=texts),
        runs,
    )
    comparison = rng.integers(0, items, judgments)
    item_a = rng.integers(0, generators, items)
    item_b = (item_a + rng.integers(1, generators, items)) % generators
    # Outputs of comparison i: lengths around 100 words, a few markdown elements.
    fa = rng.poisson([100, 1, 3, 1], (items, 4))[comparison]
    fb = rng.poisson([100, 1, 3, 1], (items, 4))[comparison]
    _parts(
        item_a[comparison],
        item_b[comparison],
        rng.choice([0.0, 0.5, 1.0], judgments),
        fa,
        fb,
        comparison % (judgments // 10),
        comparison,
        0,
        runs,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--judgments", type=int, default=0)
    parser.add_argument("--generators", type=int, default=30)
    args = parser.parse_args()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        print(f"machine: {machine_line(postgres=cursor.fetchone()[0])}")
    print(f"load average before: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    bench_demo(args.runs)
    if args.judgments:
        bench_scale(args.judgments, args.generators, max(1, args.runs // 3))
    print(f"\nload average after: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
