"""Benchmark of streaming exports: 1,000,000 judgments as CSV and JSONL, by command and HTTP.

Sets up a fresh study with SQL (generate_series inserts; fast, and allowed in a benchmark),
then exports it through `manage.py export` and through GET /api/studies/<slug>/export served
by gunicorn (or runserver when gunicorn is missing), reading the body in 64 KB chunks. Prints
rows per second, MB per second, time to first byte and the peak RSS of the exporting process,
plus the machine it ran on.

    DJANGO_DEBUG=1 .venv/bin/python bench/export_bench.py [--judgments 1000000] [--reuse]
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import machine_line  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402

from annotations.models import Judgment, Study  # noqa: E402
from annotations.services.studies import study_create_or_update, study_delete  # noqa: E402
from annotations.services.users import user_create_or_update  # noqa: E402

SLUG = "bench-exports"
CANDIDATES = 5
RATERS = 10


def machine() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return machine_line(postgres=cursor.fetchone()[0])


def set_up(judgments: int) -> Study:
    """A fresh study: prompts x CANDIDATES comparisons against the baseline, each judged by
    RATERS raters, with realistic text (quotes, commas, line breaks) in prompts and outputs."""
    old = Study.objects.filter(slug=SLUG).first()
    if old is not None:
        study_delete(study=old)
    study = study_create_or_update(slug=SLUG, baseline="baseline-model", overlap=RATERS).study
    prompts = judgments // (CANDIDATES * RATERS)
    raters = [
        user_create_or_update(username=f"bench-exp-rater-{i}", role="rater").user.pk
        for i in range(RATERS)
    ]
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            "INSERT INTO annotations_generator (study_id, name, family, size) "
            "SELECT %s, 'candidate-model-' || i, 'bench', 1000000 * i "
            "FROM generate_series(1, %s) i",
            [study.pk, CANDIDATES],
        )
        cursor.execute(
            "INSERT INTO annotations_prompt (study_id, key, text, messages, category, created_at) "
            "SELECT %s, 'prompt-' || i, 'Explain, in plain words, topic number ' || i || "
            "E' to a \"curious\" reader.\\nKeep it short: ' || repeat('why? ', 10), NULL, "
            "'category-' || (i %% 8), now() FROM generate_series(1, %s) i",
            [study.pk, prompts],
        )
        cursor.execute(
            "INSERT INTO annotations_output (study_id, prompt_id, generator_id, text, created_at) "
            "SELECT p.study_id, p.id, g.id, 'Answer of ' || g.name || ' to ' || p.key || "
            "E', with \"quotes\", commas\\nand a second line: ' || "
            "repeat('lorem ipsum dolor sit amet ', 9), now() "
            "FROM annotations_prompt p JOIN annotations_generator g ON g.study_id = p.study_id "
            "WHERE p.study_id = %s",
            [study.pk],
        )
        cursor.execute(
            "INSERT INTO annotations_comparison "
            "(study_id, prompt_id, output_a_id, output_b_id, judgment_count, created_at) "
            "SELECT oa.study_id, oa.prompt_id, oa.id, ob.id, %s, now() "
            "FROM annotations_output oa JOIN annotations_output ob ON ob.prompt_id = oa.prompt_id "
            "AND ob.generator_id = %s WHERE oa.study_id = %s AND oa.generator_id <> %s",
            [RATERS, study.baseline_id, study.pk, study.baseline_id],
        )
        cursor.execute(
            "INSERT INTO annotations_judgment (comparison_id, rater_id, scale, preference, "
            "both_bad, left_is_a, criteria, flags, rationale, duration_ms, source, created_at) "
            "SELECT c.id, u.id, 'ternary', v.pref, v.pref = 0 AND u.id %% 3 = 0, "
            "(c.id + u.id) %% 2 = 0, "
            "'{}'::jsonb, '{\"a\": [], \"b\": []}'::jsonb, "
            "CASE WHEN u.id %% 4 = 0 THEN 'Clearer, and shorter.' ELSE '' END, "
            "1000 + (c.id * 7 + u.id) %% 20000, 'web', "
            "now() - make_interval(secs => (c.id * 10 + u.id) %% 864000) "
            "FROM annotations_comparison c CROSS JOIN unnest(%s::bigint[]) AS u(id) "
            # Skewed votes, so that training-pair exports keep some comparisons and drop others.
            "CROSS JOIN LATERAL (SELECT CASE WHEN x < 0.5 THEN 1 WHEN x < 0.8 THEN -1 "
            "ELSE 0 END AS pref FROM (SELECT random() + 0 * c.id * u.id AS x) r) v "
            "WHERE c.study_id = %s",
            [raters, study.pk],
        )
        cursor.execute("ANALYZE")
    print(f"set-up: {judgments:,} judgments in {time.perf_counter() - started:.1f} s")
    return study


def judgment_count(study: Study) -> int:
    return Judgment.objects.filter(comparison__study=study).count()


class PeakRss:
    """Polls the RSS of a process (and its children) every 20 ms; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.process, *self.process.children(recursive=True)]
                self.peak = max(self.peak, max(p.memory_info().rss for p in procs))
            except psutil.Error:
                pass
            time.sleep(0.02)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def report(label: str, rows: int, size: int, seconds: float, peak: int, first: float) -> str:
    line = (
        f"{label:<32} {rows / seconds:>10,.0f} rows/s  {size / seconds / 2**20:>7.1f} MB/s  "
        f"{seconds:6.2f} s  {size / 2**20:8.1f} MB  first byte {first * 1000:6.0f} ms  "
        f"peak RSS {peak / 2**20:6.1f} MB"
    )
    print(line, flush=True)
    return line


def bench_command(fmt: str, rows: int, env: dict[str, str], output: Path | None) -> str:
    cmd = [sys.executable, "manage.py", "export", "--study", SLUG, "--format", fmt]
    if output:
        cmd += ["--output", str(output)]
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    rss = PeakRss(proc.pid)
    size = 0
    first = None
    while chunk := proc.stdout.read1(1 << 16):
        if first is None:
            first = time.perf_counter() - started
        size += len(chunk)
    proc.wait()
    seconds = time.perf_counter() - started
    peak = rss.stop()
    if proc.returncode:
        raise SystemExit(f"export command failed ({proc.returncode})")
    if output:
        size = output.stat().st_size
        first = float("nan")
    where = f"-> {output.name}" if output else "-> stdout"
    return report(f"command {fmt} {where}", rows, size, seconds, peak, first or 0.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen, int, str]:
    port = free_port()
    try:
        import gunicorn  # noqa: F401

        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "app.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "600",
            "--log-level",
            "warning",
        ]
        kind = "gunicorn (1 sync worker)"
    except ImportError:
        cmd = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
        kind = "runserver --noreload"
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port, kind
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def warm_up(port: int, token: str) -> None:
    """One refused request first: the worker imports the URLconf (and every view's modules) on
    its first request, which is start-up time, not export time."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request(
        "GET",
        f"/api/studies/{SLUG}/export?format=none",
        headers={"Authorization": f"Token {token}", "Host": "127.0.0.1"},
    )
    response = conn.getresponse()
    response.read()
    conn.close()
    if response.status != 400:
        raise SystemExit(f"warm-up: HTTP {response.status}, expected 400")


def bench_http(fmt: str, rows: int, port: int, token: str, server: subprocess.Popen) -> str:
    rss = PeakRss(server.pid)
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request(
        "GET",
        f"/api/studies/{SLUG}/export?format={fmt}",
        headers={"Authorization": f"Token {token}", "Host": "127.0.0.1"},
    )
    response = conn.getresponse()
    if response.status != 200:
        raise SystemExit(f"HTTP {response.status}: {response.read()[:500]!r}")
    size = 0
    first = None
    while (
        chunk := response.read1(1 << 16) if hasattr(response, "read1") else response.read(1 << 16)
    ):
        if first is None:
            first = time.perf_counter() - started
        size += len(chunk)
    seconds = time.perf_counter() - started
    conn.close()
    return report(f"HTTP {fmt}", rows, size, seconds, rss.stop(), first or 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="reuse the study if it exists")
    parser.add_argument("--formats", default="judgments-csv,judgments-jsonl")
    args = parser.parse_args()

    print(f"machine: {machine()}")
    study = Study.objects.filter(slug=SLUG).first()
    if not (args.reuse and study and judgment_count(study) == args.judgments):
        study = set_up(args.judgments)
    rows = judgment_count(study)
    print(f"study {SLUG!r}: {rows:,} judgments")
    token = user_create_or_update(username="bench-exp-researcher", role="researcher").token
    env = os.environ | {
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or "bench-only-secret-key",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_COOKIES": "0",
    }
    connection.close()
    formats = args.formats.split(",")
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    for fmt in formats:
        bench_command(fmt, rows, env, None)
    bench_command(formats[0], rows, env, out / "export-bench.csv")
    (out / "export-bench.csv").unlink(missing_ok=True)
    server, port, kind = start_server(env)
    print(f"server: {kind}")
    try:
        warm_up(port, token)
        for fmt in formats:
            bench_http(fmt, rows, port, token, server)
    finally:
        server.terminate()
        server.wait(timeout=30)
    for fmt in ("dpo", "hh-rlhf"):
        bench_command(fmt, rows // RATERS, env, None)  # rows = comparisons


if __name__ == "__main__":
    main()
