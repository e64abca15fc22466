"""Rater hot path in one process: per-request time and SQL statements of next and submit.

Uses the Django test client (DEBUG off, token auth) against a database prepared by
``rating_bench.py --keep`` (or any database with the bench study), so that the cost of one
request is seen without HTTP, the load generator or other requests in the way.

    python bench/rating_inprocess.py [--rounds 200] [--profile out.html]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import database_url, server_url  # noqa: E402
from bench.machine import machine_line  # noqa: E402
from bench.rating_bench import BENCH_DB, SLUG  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--profile", help="write a pyinstrument HTML profile here")
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = database_url(server_url(), BENCH_DB)
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-not-for-deployment")
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ["DJANGO_SECURE_SSL_REDIRECT"] = "0"
    os.environ["DJANGO_SETTINGS_MODULE"] = "app.settings"
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from annotations.services.users import user_create_or_update

    token = user_create_or_update(username=f"inprocess-rater-{os.getpid()}", role="rater").token
    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1")
    next_url = f"/api/studies/{SLUG}/assignments/next"

    def one_round(times: dict[str, list[float]], queries: dict[str, list[int]]) -> None:
        with CaptureQueriesContext(connection) as q:
            t0 = time.perf_counter()
            response = client.post(next_url)
            t1 = time.perf_counter()
        assert response.status_code == 200, response.content[:300]
        times["next"].append((t1 - t0) * 1000)
        queries["next"].append(len(q.captured_queries))
        url = f"/api/assignments/{response.json()['id']}/judgment"
        with CaptureQueriesContext(connection) as q:
            t0 = time.perf_counter()
            response = client.post(
                url, {"winner": "left", "duration_ms": 3000}, content_type="application/json"
            )
            t1 = time.perf_counter()
        assert response.status_code == 201, response.content[:300]
        times["submit"].append((t1 - t0) * 1000)
        queries["submit"].append(len(q.captured_queries))

    times: dict[str, list[float]] = {"next": [], "submit": []}
    queries: dict[str, list[int]] = {"next": [], "submit": []}
    for _ in range(20):  # warm-up: imports, connection, caches
        one_round({"next": [], "submit": []}, {"next": [], "submit": []})
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002)
        profiler.start()
    cpu0 = time.process_time()
    for _ in range(args.rounds):
        one_round(times, queries)
    cpu = time.process_time() - cpu0
    if profiler is not None:
        profiler.stop()
        Path(args.profile).write_text(profiler.output_html())
        print(profiler.output_text(unicode=False, color=False, show_all=False)[:6000])
    print(f"machine: {machine_line()}; load average {Path('/proc/loadavg').read_text().strip()}")
    for name in ("next", "submit"):
        values = sorted(times[name])
        print(
            f"{name}: p50 {statistics.median(values):.2f} ms  p90 "
            f"{values[int(0.9 * (len(values) - 1))]:.2f} ms  statements through Django's cursor "
            f"{max(queries[name])} (the prepared hot-path statements are not among them)"
        )
    print(f"app CPU per next+submit: {cpu / args.rounds * 1000:.2f} ms ({args.rounds} rounds)")


if __name__ == "__main__":
    main()
