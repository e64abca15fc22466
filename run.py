#!/usr/bin/env python3
"""Set up and run the project with nothing but Python 3.11+: `python3 run.py demo|test|serve`.

- serve [--addrport HOST:PORT] [--workers N]: create .venv, install requirements, migrate,
  collect static files and serve the app with gunicorn (gunicorn.conf.py) on
  http://127.0.0.1:8000/, debug off. DATABASE_URL, or the embedded PostgreSQL (started if it is
  not running, and stopped again on exit); DJANGO_SECRET_KEY, or a key generated once into the
  git-ignored .secret_key file.
- demo [--addrport HOST:PORT] [--workers N]: the same, after loading the LLMFAO demo study and
  printing the demo logins.
- test: create .venv, install the test requirements (and Chromium for the browser tests when it
  is missing and this machine can install it), then run the whole test suite; extra arguments
  go to pytest.
Ctrl-C or SIGTERM stops the server (and the embedded PostgreSQL it started) with one line.
Standard library only: this runs before any dependency is installed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import venv
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
CHROMIUM = Path("/usr/bin/chromium")


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(*args: str | os.PathLike[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        sys.exit(result.returncode)


def ensure_venv(requirements: str) -> None:
    """Create .venv and install `requirements` unless the same files were installed before."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this file must run on any python3 first
        sys.exit("Python 3.11 or newer is needed (found {}.{}).".format(*sys.version_info[:2]))
    if not PYTHON.exists():
        say("Creating the virtual environment in .venv")
        venv.create(VENV, with_pip=True)
    # Re-install only when a requirements file changed: a stamp holds their combined hash.
    digest = hashlib.sha256()
    for name in sorted(p.name for p in ROOT.glob("requirements*.txt")):
        digest.update((ROOT / name).read_bytes())
    stamp = VENV / f".installed-{requirements}"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return
    say(f"Installing {requirements}")
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-r", ROOT / requirements)
    stamp.write_text(digest.hexdigest())


def ensure_chromium() -> None:
    """The browser tests drive Debian's Chromium; install it when this machine can."""
    if CHROMIUM.exists():
        return
    apt = shutil.which("apt-get")
    if apt and hasattr(os, "geteuid") and os.geteuid() == 0:
        say("Installing Chromium for the browser tests (apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(apt, "update", "-qq", env=env)
        run(apt, "install", "-y", "-qq", "chromium", env=env)
        return
    sys.exit(
        "The browser tests need Chromium at /usr/bin/chromium. Install it "
        "(Debian/Ubuntu: sudo apt-get install -y chromium) and run this again."
    )


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in {"demo", "test", "serve"}:
        sys.exit(__doc__)
    command, extra = sys.argv[1], sys.argv[2:]
    os.chdir(ROOT)
    if command == "test":
        ensure_venv("requirements-dev.txt")
        ensure_chromium()
        run(PYTHON, "-m", "pytest", *extra)
    else:
        ensure_venv("requirements.txt")
        args = ["--demo", *extra] if command == "demo" else extra
        sys.exit(serve(PYTHON, "-m", "app.serve", *args))


def serve(*args: str | os.PathLike[str]) -> int:
    """Run the server process (app/serve.py), which handles Ctrl-C and SIGTERM itself."""
    child = subprocess.Popen([str(a) for a in args], cwd=ROOT)  # noqa: S603

    # A terminal's Ctrl-C reaches the child too; SIGTERM (from a process manager) is passed on.
    def forward(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGTERM:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    return child.wait()


if __name__ == "__main__":
    main()
