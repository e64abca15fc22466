"""Benchmark of load_prompts and import_judgments on a synthetic study of 100,000 prompts.

Generates bench/out/prompts.jsonl (100,000 prompts, outputs from 4 models, about 1 KB each) and
bench/out/judgments.csv (1,000,000 judgments), creates a fresh study, and runs the real commands
as child processes, printing wall time and peak RSS of each, and the machine it ran on.

    python bench/load_bench.py [--prompts N] [--judgments N] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
BASELINE = "Baseline 7B"
CANDIDATES = ["Model A 13B", "Model B 70B", "Model C 8x7B"]
RATERS = 2_000
WORDS = [
    "the",
    "model",
    "answer",
    "prompt",
    "data",
    "value",
    "token",
    "layer",
    "train",
    "loss",
    "graph",
    "query",
    "cache",
    "index",
    "river",
    "mountain",
    "quickly",
    "slowly",
    "because",
    "however",
    "therefore",
    "python",
    "function",
    "return",
]


def _text_pool(rng: random.Random, size: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(size // 5))


def generate(prompts: int, judgments: int) -> tuple[Path, Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    prompt_path = OUT / f"prompts-{prompts}.jsonl"
    judgment_path = OUT / f"judgments-{prompts}-{judgments}.csv"
    rng = random.Random(20240501)
    pool = _text_pool(rng, 400_000)
    if not prompt_path.exists():
        with open(prompt_path, "w", encoding="utf-8") as out:
            for i in range(prompts):
                outputs = {}
                for g, name in enumerate([BASELINE, *CANDIDATES]):
                    start = rng.randrange(len(pool) - 1_100)
                    outputs[name] = f"Answer {i}/{g}: " + pool[start : start + 1_000]
                start = rng.randrange(len(pool) - 300)
                record = {
                    "key": f"bench-{i:06d}",
                    "prompt": f"Question {i}: " + pool[start : start + 200],
                    "category": f"cat-{i % 12}",
                    "outputs": outputs,
                }
                out.write(json.dumps(record) + "\n")
    if not judgment_path.exists():
        # Pairs: each candidate against the baseline, then candidate against candidate (the
        # latter create comparisons the vs_baseline rule did not). Each round uses other raters
        # for the same pair, so no rater judges a pair twice.
        pairs = [(c, BASELINE) for c in CANDIDATES] + [
            (CANDIDATES[0], CANDIDATES[1]),
            (CANDIDATES[1], CANDIDATES[2]),
        ]
        winners = ["left", "right", "tie", "both_bad", "left", "right"]
        with open(judgment_path, "w", encoding="utf-8") as out:
            out.write("key,left,right,winner,rater,created_at\n")
            written = 0
            round_ = 0
            while written < judgments:
                for i in range(prompts):
                    for p, (x, y) in enumerate(pairs):
                        if written >= judgments:
                            break
                        left, right = (x, y) if rng.random() < 0.5 else (y, x)
                        rater = (i * 7 + p * 13 + round_ * 101) % RATERS
                        out.write(
                            f"bench-{i:06d},{left},{right},{rng.choice(winners)},w{rater},"
                            f"2024-05-{1 + round_ % 28:02d}T12:{p:02d}:00Z\n"
                        )
                        written += 1
                round_ += 1
    return prompt_path, judgment_path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    if not env.get("DJANGO_SECRET_KEY"):
        env.setdefault("DJANGO_DEBUG", "1")
    return env


def run(args: list[str]) -> tuple[float, float, str]:
    """Run manage.py with args; return (seconds, peak RSS of that process in MB, stdout)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), *args],
            stdout=out,
            stderr=err,
            env=_env(),
            cwd=ROOT,
        )
        # wait4 gives this child's own rusage (ru_maxrss in KiB on Linux).
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            sys.exit(f"manage.py {' '.join(args)} failed:\n{err.read().decode()}")
        return seconds, usage.ru_maxrss / 1024, out.read().decode().strip()


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as info:
        ram_gb = int(info.readline().split()[1]) / 1024 / 1024
    code = "from django.db import connection; c = connection.cursor(); "
    code += "c.execute('SHOW server_version'); print(c.fetchone()[0])"
    pg = (
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code],
            capture_output=True,
            text=True,
            env=_env(),
            cwd=ROOT,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    return (
        f"{cpu}, {os.cpu_count()} cores, {ram_gb:.1f} GB RAM, "
        f"Python {platform.python_version()}, PostgreSQL {pg}, {platform.system()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=100_000)
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark study")
    options = parser.parse_args()

    started = time.perf_counter()
    prompt_path, judgment_path = generate(options.prompts, options.judgments)
    print(
        f"data: {prompt_path.name} {prompt_path.stat().st_size / 2**20:,.0f} MiB, "
        f"{judgment_path.name} {judgment_path.stat().st_size / 2**20:,.0f} MiB "
        f"(ready in {time.perf_counter() - started:.1f} s)"
    )
    print(f"machine: {machine()}")
    slug = f"bench-{int(time.time())}"
    run(["create_study", slug, "--baseline", BASELINE])
    try:
        for label, args in (
            ("load_prompts", ["load_prompts", str(prompt_path), "--study", slug]),
            ("import_judgments", ["import_judgments", str(judgment_path), "--study", slug]),
            ("load_prompts again", ["load_prompts", str(prompt_path), "--study", slug]),
            ("import_judgments again", ["import_judgments", str(judgment_path), "--study", slug]),
        ):
            seconds, rss, summary = run(args)
            print(f"{label}: {seconds:.1f} s, peak RSS {rss:.0f} MB\n    {summary}")
    finally:
        if not options.keep:
            code = (
                "from annotations.models import Study\n"
                "from annotations.services.studies import study_delete\n"
                f"study_delete(study=Study.objects.get(slug='{slug}'))\n"
            )
            run(["shell", "-c", code])


if __name__ == "__main__":
    main()
