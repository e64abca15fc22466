#!/usr/bin/env python3
"""Set up and run the project with nothing but Python 3.11+: `python3 run.py demo|test|serve`.

- demo: create .venv, install requirements, start the embedded PostgreSQL, load the LLMFAO demo
  study, print the logins and serve the app on http://127.0.0.1:8000/.
- test: create .venv, install the test requirements (and Chromium for the browser tests when it
  is missing and this machine can install it), then run the whole test suite.
Extra arguments after the sub-command go to the underlying command (pytest, or `manage.py demo`).
Standard library only: this runs before any dependency is installed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

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
        env = {**os.environ, "DJANGO_DEBUG": os.environ.get("DJANGO_DEBUG", "1")}
        if command == "demo":
            run(PYTHON, "manage.py", "demo", *extra, env=env)
        else:
            run(PYTHON, "manage.py", "migrate", "--no-input", env=env)
            run(PYTHON, "manage.py", "runserver", "127.0.0.1:8000", *extra, env=env)


if __name__ == "__main__":
    main()
