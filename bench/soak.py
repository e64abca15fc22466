"""Soak: N concurrent raters judge through the app served by gunicorn (gunicorn.conf.py) for M min.

Builds a throwaway database (bench_soak) with one study, starts gunicorn with the committed
config against it, and runs N raters, each on its own keep-alive connection with token auth, in
next -> judgment loops. Prints judgments per second, p50/p95/p99 latency per request, counts of
5xx answers and of connection errors, acknowledged judgments missing from the database (must
be 0), the peak number of PostgreSQL connections of the app (pg_stat_activity, polled every
0.2 s) against the bound workers x threads, the RSS of the gunicorn processes, and the machine.

    python bench/soak.py [--raters 64] [--minutes 5] [--workers N] [--threads N] [--prompts 8000]

Without DATABASE_URL the project's embedded PostgreSQL is used. The database is dropped after
the run unless --keep.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import database_url, server_execute, server_url  # noqa: E402
from bench.machine import machine_line  # noqa: E402

DB_NAME = "bench_soak"
SLUG = "soak"
MODELS = ("base", "m1", "m2", "m3")


def machine() -> dict[str, Any]:
    return {"machine": machine_line(), "load_avg_1m": round(os.getloadavg()[0], 2)}


def setup(db_url: str, raters: int, prompts: int) -> list[str]:
    """Migrate, load one study (3 comparisons per prompt) and make the raters; their tokens."""
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from annotations.services.loading.prompts import prompt_set_load
    from annotations.services.studies import study_create_or_update
    from annotations.services.users import user_create_or_update

    call_command("migrate", "--no-input", verbosity=0)
    # The served pages need the hashed static files, as `run.py serve` makes them.
    call_command("collectstatic", "--no-input", verbosity=0)
    study = study_create_or_update(slug=SLUG, baseline=MODELS[0], overlap=3).study
    with tempfile.TemporaryFile("w+b") as data:
        for i in range(prompts):
            outputs = {name: f"{name} answers prompt {i}" for name in MODELS}
            record = {"key": f"p{i}", "prompt": f"Prompt {i}", "outputs": outputs}
            data.write((json.dumps(record) + "\n").encode())
        data.seek(0)
        prompt_set_load(study=study, file=data, filename="soak.jsonl")
    tokens = [
        user_create_or_update(username=f"soak-{i}", role="rater").token for i in range(raters)
    ]
    connections.close_all()
    return tokens


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.judgments = 0
        self.status_5xx = 0
        self.connection_errors = 0
        self.other = 0
        self.acked: list[int] = []


def rater(port: int, token: str, deadline: float, stats: Stats) -> None:
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(path: str, body: bytes) -> tuple[int, bytes]:
        nonlocal conn
        started = time.perf_counter()
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            with stats.lock:
                stats.connection_errors += 1
            return 0, b""
        elapsed = time.perf_counter() - started
        with stats.lock:
            stats.latencies.append(elapsed)
            if response.status >= 500:
                stats.status_5xx += 1
        return response.status, data

    while time.monotonic() < deadline:
        status, data = post(f"/api/studies/{SLUG}/assignments/next", b"")
        if status == 204:
            time.sleep(0.5)
            continue
        if status != 200:
            if 0 < status < 500:
                with stats.lock:
                    stats.other += 1
            continue
        assignment = json.loads(data)["id"]
        status, data = post(f"/api/assignments/{assignment}/judgment", b'{"winner": "left"}')
        if status in (200, 201):
            with stats.lock:
                stats.judgments += 1
                stats.acked.append(json.loads(data)["assignment"])
    conn.close()


def watch(db_url: str, master: int, stop: threading.Event, peaks: dict[str, float]) -> None:
    import psutil
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        while not stop.is_set():
            count = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            ).fetchone()[0]
            peaks["connections"] = max(peaks.get("connections", 0), count)
            try:
                procs = [psutil.Process(master), *psutil.Process(master).children(recursive=True)]
                rss = sum(p.memory_info().rss for p in procs) / 2**20
            except psutil.Error:
                rss = 0.0
            peaks["rss_mib"] = max(peaks.get("rss_mib", 0.0), rss)
            peaks["rss_mib_last"] = rss
            time.sleep(0.2)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raters", type=int, default=64)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--workers", type=int, help="default: gunicorn.conf.py's")
    parser.add_argument("--threads", type=int, help="default: gunicorn.conf.py's")
    parser.add_argument("--prompts", type=int, default=8000)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    options = parser.parse_args()

    os.environ.setdefault("DJANGO_SECRET_KEY", "soak-only-" + "x" * 50)
    postgres = server_url()
    db_url = database_url(postgres, DB_NAME)
    server_execute(postgres, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    server_execute(postgres, f"CREATE DATABASE {DB_NAME}")
    try:
        print(f"Setting up {options.prompts:,} prompts and {options.raters} raters...", flush=True)
        tokens = setup(db_url, options.raters, options.prompts)
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "DJANGO_SETTINGS_MODULE": "app.settings",
        }
        args = [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py")]
        args += ["--bind", f"127.0.0.1:{options.port}", "--log-level", "warning"]
        if options.workers:
            args += ["--workers", str(options.workers)]
        if options.threads:
            args += ["--threads", str(options.threads)]
        server = subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True)
        config = _effective_config(env, options)
        try:
            _wait_up(options.port, server)
            stats, peaks = Stats(), {}
            stop = threading.Event()
            watcher = threading.Thread(target=watch, args=(db_url, server.pid, stop, peaks))
            watcher.start()
            seconds = options.minutes * 60
            started = time.monotonic()
            threads = [
                threading.Thread(target=rater, args=(options.port, token, started + seconds, stats))
                for token in tokens
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
            stop.set()
            watcher.join()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=120)
        lost = _lost(db_url, stats.acked)
        bound = config["workers"] * config["threads"]
        report = {
            "raters": options.raters,
            "seconds": round(elapsed, 1),
            "workers": config["workers"],
            "threads": config["threads"],
            "judgments": stats.judgments,
            "judgments_per_s": round(stats.judgments / elapsed, 1),
            "requests": len(stats.latencies),
            "p50_ms": round(statistics.median(stats.latencies) * 1000, 1),
            "p95_ms": round(_percentile(stats.latencies, 0.95) * 1000, 1),
            "p99_ms": round(_percentile(stats.latencies, 0.99) * 1000, 1),
            "status_5xx": stats.status_5xx,
            "connection_errors": stats.connection_errors,
            "other_4xx": stats.other,
            "lost_judgments": lost,
            "peak_pg_connections": peaks.get("connections", 0),
            "connection_bound": bound,
            "peak_rss_mib": round(peaks.get("rss_mib", 0.0), 1),
            "final_rss_mib": round(peaks.get("rss_mib_last", 0.0), 1),
            "machine": machine(),
        }
        for key, value in report.items():
            print(f"{key:>22}: {value}")
        print(json.dumps(report))
    finally:
        if not options.keep:
            server_execute(postgres, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def _effective_config(env: dict[str, str], options: argparse.Namespace) -> dict[str, int]:
    """The worker and thread counts gunicorn runs with (the flags, else the config's)."""
    namespace: dict[str, Any] = {"__file__": str(ROOT / "gunicorn.conf.py")}
    saved = dict(os.environ)
    try:
        os.environ.update(env)
        exec((ROOT / "gunicorn.conf.py").read_text(), namespace)  # noqa: S102 - our own config
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return {
        "workers": options.workers or namespace["workers"],
        "threads": options.threads or namespace["threads"],
    }


def _wait_up(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("gunicorn exited while starting")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/login/")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit("gunicorn did not start within 60 s")


def _lost(db_url: str, acked: list[int]) -> int:
    import psycopg

    with psycopg.connect(db_url) as conn:
        stored = {r[0] for r in conn.execute("SELECT assignment_id FROM annotations_judgment")}
    return len(set(acked) - stored)


if __name__ == "__main__":
    main()
