"""What one collection refresh costs at a given size, and the schedule it then gets (issue 13).

A study with a target (vs_baseline, `--candidates` candidates, `--prompts` prompts, k = 3) is
loaded with `manage.py load_prompts` and `manage.py import_judgments` (random verdicts of
`--raters` raters, k per comparison, so every comparison is complete), then
`services.collection.collection_refresh(force=True)` is timed `--repeats` times: the read of the
counted judgments, each candidate's anytime-valid interval, and the priority update of every
comparison. Printed: the median and best `compute_seconds` and the refresh interval that follows
(services.collection.refresh_interval: ten times the cost, 1-10 s).

    python bench/collection_refresh_bench.py [--sizes 1000,10000,30000] [--candidates 10]
        [--raters 60] [--repeats 5] [--target 0.05] [--keep]

Without DATABASE_URL the project's embedded PostgreSQL is used; the database
(bench_crefresh) is dropped after the run unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import database_url, server_execute, server_url  # noqa: E402
from bench.machine import machine_line  # noqa: E402

DB_NAME = "bench_crefresh"
K = 3


def write_files(folder: Path, *, prompts: int, candidates: int, raters: int) -> tuple[Path, Path]:
    """A prompt set and k complete judgments per comparison against the baseline."""
    rng = random.Random(prompts)
    names = ["base", *(f"c{i:02d}" for i in range(candidates))]
    prompt_path, judgment_path = folder / "prompts.jsonl", folder / "judgments.jsonl"
    with prompt_path.open("w") as out:
        for i in range(prompts):
            outputs = {name: f"{name} on {i}" for name in names}
            out.write(json.dumps({"key": f"p{i}", "prompt": f"Prompt {i}", "outputs": outputs}))
            out.write("\n")
    with judgment_path.open("w") as out:
        for i in range(prompts):
            for name in names[1:]:
                for rater in rng.sample(range(raters), K):
                    row = {
                        "key": f"p{i}",
                        "left": name,
                        "right": "base",
                        "winner": rng.choice(["left", "right", "tie"]),
                        "rater": f"r{rater}",
                    }
                    out.write(json.dumps(row) + "\n")
    return prompt_path, judgment_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,30000", help="prompts per study")
    parser.add_argument("--candidates", type=int, default=10)
    parser.add_argument("--raters", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--target", type=float, default=0.05, help="target half-width")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    postgres = server_url()
    db_url = database_url(postgres, DB_NAME)
    server_execute(postgres, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    server_execute(postgres, f"CREATE DATABASE {DB_NAME}")
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from annotations.models import Study
    from annotations.services.collection import collection_refresh, refresh_interval

    try:
        call_command("migrate", "--no-input", verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        print(f"machine: {machine_line(postgres=version)}")
        print(
            f"{args.candidates} candidates vs a baseline, k = {K}, every comparison complete, "
            f"target half-width {args.target}"
        )
        print("| prompts | judgments | compute_seconds median (best) | refresh interval |")
        print("|---|---|---|---|")
        for prompts in (int(v) for v in args.sizes.split(",")):
            slug = f"refresh-{prompts}"
            with tempfile.TemporaryDirectory() as folder:
                prompt_path, judgment_path = write_files(
                    Path(folder), prompts=prompts, candidates=args.candidates, raters=args.raters
                )
                devnull = open(os.devnull, "w")  # noqa: SIM115 - closed below
                call_command(
                    "create_study", slug, "--baseline", "base", "--overlap", str(K),
                    "--target-half-width", str(args.target), stdout=devnull,
                )  # fmt: skip
                call_command("load_prompts", str(prompt_path), "--study", slug, stdout=devnull)
                call_command(
                    "import_judgments", str(judgment_path), "--study", slug, stdout=devnull
                )
                devnull.close()
            study = Study.objects.get(slug=slug)
            times = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                state = collection_refresh(study=study, force=True)
                times.append(time.perf_counter() - started)
                assert state["compute_seconds"] <= times[-1]
            median = statistics.median(times)
            interval = refresh_interval(compute_seconds=median)
            judgments = prompts * args.candidates * K
            print(
                f"| {prompts:,} | {judgments:,} | {median:.3f} s ({min(times):.3f} s) "
                f"| {interval:.1f} s |",
                flush=True,
            )
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            server_execute(postgres, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
