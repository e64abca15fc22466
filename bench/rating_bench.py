"""Rating throughput: gunicorn on loopback, simulated raters in next -> submit loops.

Builds a throwaway database with one study of 100,000 comparisons and 300,000 existing
judgments (SQL, fast), starts gunicorn against it, drives it with N concurrent raters over
token auth (asyncio, one process: a minimal keep-alive HTTP/1.1 client by default, or httpx), and
prints judgments per second, next-pair latency percentiles, errors, duplicate or over-filled
comparisons (both must be 0), and the CPU seconds that the load generator, gunicorn and the
PostgreSQL backends used in the measured window.

    python bench/rating_bench.py [--raters 50] [--seconds 30] [--workers 3] [--threads 1]
        [--client raw|httpx] [--commit-delay MICROSECONDS] [--rate JUDGMENTS_PER_S]

Without DATABASE_URL the project's embedded PostgreSQL is used (a database named bench_rating
is created on it and dropped afterwards unless --keep).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import database_url, server_execute, server_url  # noqa: E402
from bench.machine import machine_line  # noqa: E402

BENCH_DB = "bench_rating"
SLUG = "bench-rating"


def setup(
    db_url: str, comparisons: int, judgments_per: int, overlap: int, raters: int
) -> list[str]:
    """Migrate the bench database and fill it; returns the raters' API tokens."""
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from annotations.services.studies import study_create_or_update
    from annotations.services.users import user_create_or_update

    call_command("migrate", verbosity=0)
    study = study_create_or_update(
        slug=SLUG, baseline="baseline", overlap=overlap, scale="ternary", rationale="optional"
    ).study
    crowd = 200
    prompts = comparisons // 2
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO annotations_generator (study_id, name, family) "
            "VALUES (%s, 'cand-1', ''), (%s, 'cand-2', '')",
            [study.pk, study.pk],
        )
        cur.execute(
            """
            INSERT INTO annotations_prompt (study_id, key, text, category, created_at)
            SELECT %s, 'p' || g, 'Write a short answer to question ' || g || '.', '', now()
              FROM generate_series(1, %s) g
            """,
            [study.pk, prompts],
        )
        cur.execute(
            """
            INSERT INTO annotations_output (study_id, prompt_id, generator_id, text, created_at)
            SELECT p.study_id, p.id, gen.id,
                   gen.name || ' answers ' || p.key || E':\\n\\n- a point\\n- **another** point\\n'
                   || E'\\n```python\\nprint(' || p.id || E')\\n```\\n',
                   now()
              FROM annotations_prompt p CROSS JOIN annotations_generator gen
             WHERE p.study_id = %s AND gen.study_id = %s
            """,
            [study.pk, study.pk],
        )
        cur.execute(
            """
            INSERT INTO annotations_comparison
                   (study_id, prompt_id, output_a_id, output_b_id, judgment_count, created_at)
            SELECT c.study_id, c.prompt_id, c.id, b.id, 0, now()
              FROM annotations_output c
              JOIN annotations_output b ON b.prompt_id = c.prompt_id AND b.generator_id = %s
             WHERE c.study_id = %s AND c.generator_id <> %s
            """,
            [study.baseline_id, study.pk, study.baseline_id],
        )
        cur.execute(
            """
            INSERT INTO annotations_user (password, is_superuser, username, first_name,
                   last_name, email, is_staff, is_active, date_joined, role, external_id)
            SELECT '!', false, 'crowd' || g, '', '', '', false, true, now(), 'rater', 'crowd' || g
              FROM generate_series(0, %s - 1) g
            """,
            [crowd],
        )
        # Existing judgments: comparison k gets ((k mod 5) + 1) judgments scaled so that the
        # total is judgments_per per comparison on average, from distinct crowd raters.
        cur.execute(
            """
            WITH c AS (
              SELECT id, row_number() OVER (ORDER BY id) AS k
                FROM annotations_comparison WHERE study_id = %(study)s),
            crowd AS (
              SELECT id, row_number() OVER (ORDER BY id) - 1 AS n
                FROM annotations_user WHERE username LIKE 'crowd%%'),
            j AS (
              SELECT c.id AS comparison_id, s.j, c.k
                FROM c, generate_series(0, %(max)s - 1) s(j)
               WHERE s.j < (c.k %% (2 * %(per)s - 1)) + 1)
            INSERT INTO annotations_judgment (comparison_id, rater_id, scale, preference,
                   both_bad, left_is_a, criteria, flags, rationale, duration_ms, source,
                   created_at)
            SELECT j.comparison_id, crowd.id, 'ternary', (j.k + j.j) %% 3 - 1, false,
                   j.j %% 2 = 0, '{}'::jsonb, '{}'::jsonb, '', 20000, 'import', now()
              FROM j JOIN crowd ON crowd.n = (j.k * 7 + j.j) %% %(crowd)s
            """,
            {"study": study.pk, "per": judgments_per, "max": 2 * judgments_per, "crowd": crowd},
        )
        cur.execute(
            """
            UPDATE annotations_comparison c SET judgment_count = j.n
              FROM (SELECT comparison_id, count(*) AS n FROM annotations_judgment
                     GROUP BY comparison_id) j
             WHERE j.comparison_id = c.id
            """
        )
        cur.execute("SELECT count(*) FROM annotations_comparison WHERE study_id = %s", [study.pk])
        n_comp = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM annotations_judgment")
        n_judg = cur.fetchone()[0]
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    print(
        f"setup: {n_comp} comparisons, {n_judg} judgments, overlap {overlap} "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    tokens = [
        user_create_or_update(username=f"bench-rater-{i}", role="rater").token
        for i in range(raters)
    ]
    connection.close()
    return tokens


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class RawHttp:
    """One keep-alive HTTP/1.1 connection that POSTs and reads Content-Length bodies.

    A load generator sharing two cores with the server must stay light: this costs a few tens of
    microseconds a request, several times less than a general-purpose client.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(
        self, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}", "", ""]
        self.writer.write("\r\n".join(lines).encode() + body)
        assert self.reader is not None
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        fields = {}
        for line in head[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
        if "chunked" in fields.get("transfer-encoding", ""):
            raise RuntimeError("chunked responses are not expected from these endpoints")
        data = await self.reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close":
            self.writer.close()
            self.reader = self.writer = None
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class HttpxPost:
    """The same interface over a shared httpx.AsyncClient (heavier; for comparison)."""

    def __init__(self, base: str, client: Any) -> None:
        self.base, self.client = base, client

    async def post(
        self, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        response = await self.client.post(
            self.base + path,
            headers={**headers, "Content-Type": "application/json"},
            content=body,
        )
        return response.status_code, response.content

    async def close(self) -> None:
        return None


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (those that exited count 0)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def _session_pids(session: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == session:
                pids.append(int(entry.name))
    return pids


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


async def drive(
    base: str,
    tokens: list[str],
    seconds: float,
    warmup: float,
    progress: bool,
    client_kind: str = "raw",
    watch: Any = None,
    rate: float = 0.0,
) -> dict[str, Any]:
    import json

    import httpx

    query = "?progress=1" if progress else ""
    next_ms: list[float] = []
    submit_ms: list[float] = []
    stats = {"judgments": 0, "repeats": 0, "errors": 0, "empty": 0}
    error_samples: list[str] = []
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds
    usage: dict[str, float] = {}

    async def meter() -> None:
        # CPU of each party over exactly the measured window.
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        usage["loadgen"] = -time.process_time()
        if watch is not None:
            for name, value in watch().items():
                usage[name] = -value
        await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
        usage["loadgen"] += time.process_time()
        if watch is not None:
            for name, value in watch().items():
                usage[name] = usage.get(name, 0.0) + value

    async def rater(token: str, client: Any) -> None:
        headers = {"Authorization": f"Token {token}"}
        rng = random.Random(token)
        # With a target rate each rater starts a next -> submit cycle every len(tokens) / rate
        # seconds on average (exponential gaps, as independent people would), so latency is
        # measured at that load instead of at whatever a closed loop saturates to.
        due = time.perf_counter() + (rng.random() * len(tokens) / rate if rate else 0.0)
        while time.perf_counter() < stop_at:
            if rate:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                due = max(due, time.perf_counter() - 1.0) + rng.expovariate(rate / len(tokens))
            t0 = time.perf_counter()
            code, content = await client.post(
                f"/api/studies/{SLUG}/assignments/next{query}", headers
            )
            t1 = time.perf_counter()
            measuring = t0 >= measure_from
            if code == 204:
                stats["empty"] += 1
                await asyncio.sleep(0.05)
                continue
            if code != 200:
                stats["errors"] += measuring
                if len(error_samples) < 5:
                    error_samples.append(f"next {code}: {content[:200]!r}")
                continue
            if measuring:
                next_ms.append((t1 - t0) * 1000)
            assignment_id = json.loads(content)["id"]
            body = {"winner": rng.choice(["left", "right", "tie"]), "duration_ms": 4000}
            t2 = time.perf_counter()
            code, content = await client.post(
                f"/api/assignments/{assignment_id}/judgment{query}",
                headers,
                json.dumps(body).encode(),
            )
            t3 = time.perf_counter()
            if code == 201:
                if t2 >= measure_from and t3 <= stop_at:
                    stats["judgments"] += 1
                    submit_ms.append((t3 - t2) * 1000)
            elif code == 200:
                stats["repeats"] += 1
            else:
                stats["errors"] += t2 >= measure_from
                if len(error_samples) < 5:
                    error_samples.append(f"submit {code}: {content[:200]!r}")

    if client_kind == "raw":
        host, port = base.rsplit("//", 1)[1].split(":")
        clients = [RawHttp(host, int(port)) for _ in tokens]
        await asyncio.gather(meter(), *(rater(t, c) for t, c in zip(tokens, clients, strict=True)))
        for raw in clients:
            await raw.close()
        return {
            **stats,
            "seconds": seconds,
            "next_ms": next_ms,
            "submit_ms": submit_ms,
            "error_samples": error_samples,
            "cpu": usage,
        }
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    async with httpx.AsyncClient(limits=limits, timeout=30) as shared:
        wrapped = HttpxPost(base, shared)
        await asyncio.gather(meter(), *(rater(token, wrapped) for token in tokens))
    return {
        **stats,
        "seconds": seconds,
        "next_ms": next_ms,
        "submit_ms": submit_ms,
        "error_samples": error_samples,
        "cpu": usage,
    }


def check(db_url: str, overlap: int) -> dict[str, int]:
    import psycopg

    with psycopg.connect(db_url) as conn:
        duplicates = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM annotations_judgment "
            "GROUP BY comparison_id, rater_id HAVING count(*) > 1) d"
        ).fetchone()[0]
        overfilled = conn.execute(
            "SELECT count(*) FROM (SELECT comparison_id FROM annotations_judgment "
            "GROUP BY comparison_id HAVING count(*) > %s) o",
            [overlap],
        ).fetchone()[0]
        drift = conn.execute(
            "SELECT count(*) FROM annotations_comparison c WHERE c.judgment_count <> "
            "(SELECT count(*) FROM annotations_judgment j WHERE j.comparison_id = c.id)"
        ).fetchone()[0]
        # Judgments plus live leases never above the overlap (the invariant of assignment).
        leased_over = conn.execute(
            "SELECT count(*) FROM annotations_comparison c WHERE c.judgment_count + "
            "(SELECT count(*) FROM annotations_assignment a WHERE a.comparison_id = c.id "
            "AND a.status = 'open' AND a.expires_at > now()) > %s",
            [overlap],
        ).fetchone()[0]
        version = conn.execute("SHOW server_version").fetchone()[0]
    return {
        "duplicates": duplicates,
        "overfilled": overfilled,
        "drift": drift,
        "leased_over": leased_over,
        "pg": version,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raters", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--comparisons", type=int, default=100_000)
    parser.add_argument("--judgments-per", type=int, default=3)
    parser.add_argument("--overlap", type=int, default=5)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--progress", action="store_true", help="ask for progress as the page does")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument(
        "--reuse", action="store_true", help="run on a database kept by --keep (no setup)"
    )
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="target judgments/s for all raters together (open loop); 0: as fast as possible",
    )
    parser.add_argument(
        "--commit-delay",
        type=int,
        default=0,
        help="PostgreSQL commit_delay (microseconds) for the bench database: group commit",
    )
    args = parser.parse_args()

    server = server_url()
    db_url = database_url(server, BENCH_DB)
    if not args.reuse:
        server_execute(server, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        server_execute(server, f"CREATE DATABASE {BENCH_DB}")
    # Only this database's sessions get it; the server's own configuration is left alone.
    server_execute(server, f"ALTER DATABASE {BENCH_DB} SET commit_delay = {int(args.commit_delay)}")
    gunicorn = None
    load_before = Path("/proc/loadavg").read_text().strip()
    try:
        if args.reuse:
            os.environ["DATABASE_URL"] = db_url
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")
            os.environ.setdefault("DJANGO_DEBUG", "1")
            import django

            django.setup()
            from annotations.services.users import user_create_or_update

            tokens = [
                user_create_or_update(username=f"bench-rater-{i}", role="rater").token
                for i in range(args.raters)
            ]
        else:
            tokens = setup(db_url, args.comparisons, args.judgments_per, args.overlap, args.raters)
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "bench-only-secret-key-not-for-deployment",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_SECURE_COOKIES": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_CONN_MAX_AGE": "600",
            "DJANGO_SETTINGS_MODULE": "app.settings",
        }
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "app.wsgi:application",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ]
        gunicorn = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
        import httpx

        base = f"http://127.0.0.1:{args.port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/login/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        server_pid = gunicorn.pid

        def watch() -> dict[str, float]:
            backends = []
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    try:
                        title = (entry / "cmdline").read_bytes()
                    except OSError:
                        continue
                    if title.startswith(b"postgres: ") and f" {BENCH_DB} ".encode() in title:
                        backends.append(int(entry.name))
            busy, total = _machine_busy()
            return {
                "gunicorn": _cpu_seconds(_session_pids(server_pid)),
                "postgres": _cpu_seconds(backends),
                "machine_busy": busy / os.sysconf("SC_CLK_TCK"),
                "machine_total": total / os.sysconf("SC_CLK_TCK"),
            }

        result = asyncio.run(
            drive(
                base,
                tokens,
                args.seconds,
                args.warmup,
                args.progress,
                client_kind=args.client,
                rate=args.rate,
                watch=watch,
            )
        )
        load_after = Path("/proc/loadavg").read_text().strip()
    finally:
        if gunicorn is not None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            gunicorn.wait(timeout=30)
    checks = check(db_url, args.overlap)
    if not args.keep:
        server_execute(server, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")

    next_ms = result["next_ms"]
    print(f"machine: {machine_line(postgres=checks['pg'])}")
    print(
        f"config: {args.raters} raters, {args.comparisons} comparisons, overlap {args.overlap}, "
        f"gunicorn {args.workers} workers x {args.threads} threads, progress={args.progress}, "
        f"{args.seconds:.0f} s measured after {args.warmup:.0f} s warm-up, client {args.client}, "
        f"commit_delay {args.commit_delay} us, "
        + (f"target rate {args.rate:.0f} judgments/s" if args.rate else "closed loop")
    )
    print(f"load average before: {load_before}; after: {load_after}")
    cpu = result["cpu"]
    judgments = max(1, result["judgments"])
    busy = cpu.get("machine_busy", 0.0) / max(1e-9, cpu.get("machine_total", 0.0))
    print(
        f"CPU seconds in the window: load generator {cpu['loadgen']:.1f}, gunicorn "
        f"{cpu.get('gunicorn', 0):.1f}, PostgreSQL backends {cpu.get('postgres', 0):.1f}; "
        f"per judgment {1000 * cpu['loadgen'] / judgments:.2f} / "
        f"{1000 * cpu.get('gunicorn', 0) / judgments:.2f} / "
        f"{1000 * cpu.get('postgres', 0) / judgments:.2f} ms; all cores busy {100 * busy:.0f}%"
    )
    print(
        f"judgments/s: {result['judgments'] / args.seconds:.1f} ({result['judgments']} in window)"
    )
    print(
        f"next ms: p50 {_percentile(next_ms, 50):.1f}  p95 {_percentile(next_ms, 95):.1f}  "
        f"p99 {_percentile(next_ms, 99):.1f}  mean {statistics.fmean(next_ms or [0]):.1f}  "
        f"(n={len(next_ms)})"
    )
    submit_ms = result["submit_ms"]
    print(
        f"submit ms: p50 {_percentile(submit_ms, 50):.1f}  p95 {_percentile(submit_ms, 95):.1f}  "
        f"p99 {_percentile(submit_ms, 99):.1f}"
    )
    print(
        f"errors: {result['errors']}  repeats: {result['repeats']}  empty(204): {result['empty']}  "
        f"duplicate judgments: {checks['duplicates']}  over-filled comparisons: "
        f"{checks['overfilled']}  judgment_count drift: {checks['drift']}  "
        f"judgments + live leases above overlap: {checks['leased_over']}"
    )
    for sample in result["error_samples"]:
        print("  error sample:", sample)


if __name__ == "__main__":
    main()
