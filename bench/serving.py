"""The app served for a benchmark: gunicorn with the committed gunicorn.conf.py, started once it
answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 60


def gunicorn_start(
    *,
    env: Mapping[str, str],
    port: int,
    workers: int,
    threads: int,
    ready: Callable[[], bool],
    app: str | None = None,
) -> subprocess.Popen[bytes]:
    """gunicorn on 127.0.0.1:`port` with `env` (and `app`, else the config's), in a session of
    its own (stop it with os.killpg), returned once `ready()` says it answers; exits the
    benchmark when it dies or is not ready within START_SECONDS."""
    cmd = [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py")]
    cmd += [app] if app else []
    cmd += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads)]
    cmd += ["--log-level", "warning"]
    server = subprocess.Popen(cmd, cwd=ROOT, env=dict(env), start_new_session=True)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("gunicorn exited while starting")
        if ready():
            return server
        time.sleep(0.2)
    os.killpg(server.pid, signal.SIGTERM)
    sys.exit(f"gunicorn did not start within {START_SECONDS} s")
