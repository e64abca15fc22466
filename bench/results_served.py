"""The demo's results page and figure served by gunicorn with 2 workers (issue 12's scenario).

Run from bench/results_bench.py --served (Django set up, the demo study loaded). gunicorn runs
with the committed gunicorn.conf.py, debug off, against the benchmark's database; its access log
names the worker (pid) and the server's time of every request, so each figure says which worker
answered and whether it is the one that computed the results:

1. the first page and figure requests of each freshly started worker (it also loads numpy,
   scipy and matplotlib then);
2. per round: the cache emptied, then the page (cold: one worker computes), the figure, and
   pages until both workers have answered from the cache;
3. per round: one new judgment imported, then the page (one recomputation), and pages and the
   figure until the other worker has answered too.
"""

from __future__ import annotations

import http.client
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    """gunicorn on a free port; get() returns (ms on the client, worker pid, ms on the server)."""

    def __init__(self, workers: int, threads: int, folder: Path) -> None:
        self.access = folder / "access.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
        env.update(
            DJANGO_SETTINGS_MODULE="app.settings",
            # The benchmark's own key, so the session it makes below is valid there too.
            DJANGO_SECRET_KEY=settings.SECRET_KEY,
            DATABASE_URL=os.environ.get("DATABASE_URL", ""),
            DJANGO_STATIC_ROOT=str(folder / "static"),
            GUNICORN_ACCESS_LOG=str(self.access),
            GUNICORN_CMD_ARGS="--access-logformat " + shlex.quote("%(p)s %(D)s %(s)s %(U)s"),
        )
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        self.port = _free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                str(ROOT / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(folder / "gunicorn.log", "wb"),  # noqa: SIM115
        )
        self.cookie = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self._request("/login/")
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def _request(self, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        conn.close()
        return response.status, body

    def _log_lines(self) -> list[str]:
        return self.access.read_text().splitlines() if self.access.exists() else []

    def get(self, path: str) -> tuple[float, str, float]:
        seen = len(self._log_lines())
        started = time.perf_counter()
        status, _ = self._request(path)
        client_ms = (time.perf_counter() - started) * 1000
        assert status == 200, (path, status)
        for _ in range(100):  # the worker writes its access line right after answering
            lines = self._log_lines()[seen:]
            mine = [line for line in lines if line.endswith(" " + path.split("?")[0])]
            if mine:
                pid, micros = mine[-1].split()[:2]
                return client_ms, pid, int(micros) / 1000
            time.sleep(0.01)
        raise RuntimeError(f"no access-log line for {path}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _new_judgment(study: object, round_no: int) -> None:
    """One more judgment on an existing comparison, by a new rater, through the importer."""
    from annotations.services.loading import judgments_import

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.key, ga.name, gb.name FROM annotations_comparison c "
            "JOIN annotations_prompt p ON p.id = c.prompt_id "
            "JOIN annotations_output oa ON oa.id = c.output_a_id "
            "JOIN annotations_output ob ON ob.id = c.output_b_id "
            "JOIN annotations_generator ga ON ga.id = oa.generator_id "
            "JOIN annotations_generator gb ON gb.id = ob.generator_id "
            "WHERE c.study_id = %s ORDER BY c.id LIMIT 1",
            [study.pk],  # type: ignore[attr-defined]
        )
        key, left, right = cursor.fetchone()
    rater = f"bench-served-{os.getpid()}-{round_no}"
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as handle:
        handle.write(f"key,left,right,winner,rater\n{key},{left},{right},left,{rater}\n")
    judgments_import(study=study, file=Path(handle.name))
    os.unlink(handle.name)


def _until_both(
    served: Served, path: str, computing: str, limit: int = 40
) -> tuple[list[float], list[float]]:
    """GET path until the worker that did not compute has answered; server ms per worker."""
    same, other = [], []
    for _ in range(limit):
        _, pid, server_ms = served.get(path)
        (same if pid == computing else other).append(server_ms)
        if other and same:
            break
    return same, other


def bench_served(study: object, user: object, rounds: int = 3) -> None:
    client = Client()
    client.force_login(user)
    page = f"/studies/{study.slug}/results/"  # type: ignore[attr-defined]
    figure = page + "figure.svg"
    with tempfile.TemporaryDirectory() as folder:
        served = Served(workers=2, threads=4, folder=Path(folder))
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        served.cookie = f"{settings.SESSION_COOKIE_NAME}={session}"
        try:
            _run(served, study, page, figure, rounds)
        finally:
            served.stop()


def _run(served: Served, study: object, page: str, figure: str, rounds: int) -> None:
    rows: dict[str, list[float]] = {}

    def note(label: str, values: list[float]) -> None:
        rows.setdefault(label, []).extend(values)

    # Fresh workers: the page until both have answered (the first computes, the other reads
    # the shared entry), then the figure until both have drawn one (matplotlib loads).
    cache.clear()
    for path, what, does in (
        (page, "page", "loads numpy and scipy, computes"),
        (figure, "figure", "loads matplotlib, draws"),
    ):
        firsts: dict[str, float] = {}
        for _ in range(40):
            _, pid, ms = served.get(path)
            firsts.setdefault(pid, ms)
            if len(firsts) == 2:
                break
        first, second = list(firsts.values()) + [float("nan")] * (2 - len(firsts))
        note(f"{what}, first request of a fresh worker ({does})", [first])
        note(f"{what}, first request of the other fresh worker (shared entry)", [second])
    for round_no in range(rounds):
        cache.clear()
        _, computing, ms = served.get(page)
        note("page cold (empty cache): the worker that computes", [ms])
        _, pid, ms = served.get(figure)
        note(f"figure right after, {'same' if pid == computing else 'other'} worker", [ms])
        same, other = _until_both(served, page, computing)
        note("page cached, same worker", same)
        note("page cached, other worker", other)

        _new_judgment(study, round_no)
        _, computing, ms = served.get(page)
        note("page after one new judgment (one recomputation)", [ms])
        same, other = _until_both(served, page, computing)
        note("page after it, same worker (cached)", same)
        note("page after it, other worker (shared entry)", other)
        _, pid, ms = served.get(figure)
        note(f"figure after it, {'same' if pid == computing else 'other'} worker", [ms])

    width = max(len(label) for label in rows)
    print(
        f"\nServed by gunicorn, 2 workers x 4 threads ({rounds} rounds; server time per request "
        "from the access log):",
        flush=True,
    )
    for label, values in rows.items():
        print(
            f"  {label:<{width}}  n={len(values):<3} median {statistics.median(values):7.1f} ms, "
            f"max {max(values):7.1f} ms",
            flush=True,
        )
