"""`python -m app.serve [--demo]` (run.py serve, demo): set up, serve with gunicorn, stop cleanly.

Setting up means: a secret key (DJANGO_SECRET_KEY, or one generated once into the git-ignored
.secret_key file), the database (DATABASE_URL, or the embedded server, started when it is not
running), migrations (or, with --demo, the demo study and users), the shared cache's table, and
collectstatic. Then
gunicorn serves with gunicorn.conf.py. Ctrl-C or SIGTERM stops gunicorn gracefully (a second
one at once), then the embedded server if this command started it, and prints one line.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY_FILE = ROOT / ".secret_key"
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}


def secret_key_ensure(path: Path = SECRET_KEY_FILE) -> None:
    """Put a secret key in the environment: DJANGO_SECRET_KEY, else the key file's (made once).

    The key signs sessions and CSRF tokens, so it must stay the same across restarts; several
    hosts behind a load balancer must share one, set as DJANGO_SECRET_KEY (README).
    """
    if os.environ.get("DJANGO_SECRET_KEY"):
        return
    try:
        # Created readable by its owner only, and never overwritten.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
    else:
        key = secrets.token_urlsafe(50)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(key + "\n")
    os.environ["DJANGO_SECRET_KEY"] = key


def gunicorn_run(*, addrport: str, workers: int | None = None) -> int:
    """Serve with gunicorn until it exits; SIGINT/SIGTERM here stop it gracefully. Its code."""
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(GUNICORN_CONF),
        "--bind",
        addrport,
        # Errors only: start and stop are announced here, in one line each.
        "--log-level",
        "warning",
    ]
    if workers:
        args += ["--workers", str(workers)]
    # Its own session: a terminal's Ctrl-C reaches this process only, which then stops
    # gunicorn gracefully (SIGTERM: running requests finish), or at once on a second signal.
    server = subprocess.Popen(args, cwd=ROOT, start_new_session=True)  # noqa: S603
    received = 0

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal received
        received += 1
        server.send_signal(signal.SIGTERM if received == 1 else signal.SIGQUIT)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return server.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run.py serve", description=__doc__.split("\n")[0])
    parser.add_argument("--addrport", default="127.0.0.1:8000", help="HOST:PORT to listen on")
    parser.add_argument("--workers", type=int, help="gunicorn worker processes")
    parser.add_argument("--demo", action="store_true", help="load the demo study and users")
    options = parser.parse_args(argv)
    addrport = options.addrport if ":" in options.addrport else f"127.0.0.1:{options.addrport}"

    os.chdir(ROOT)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")
    secret_key_ensure()
    # SIGTERM during set-up ends it like Ctrl-C: quietly, and stopping what was started.
    signal.signal(signal.SIGTERM, _interrupt)
    started_database = False
    code = 0
    try:
        if not os.environ.get("DATABASE_URL", "").strip():
            from app.embedded_db import embedded_database_url, embedded_server_running

            started_database = not embedded_server_running()
            # Workers and set-up then all use this server without probing for it again.
            os.environ["DATABASE_URL"] = embedded_database_url()
        code = _set_up_and_serve(addrport=addrport, workers=options.workers, demo=options.demo)
    except KeyboardInterrupt:
        code = 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if started_database:
            from app.embedded_db import embedded_server_stop

            embedded_server_stop()
    print(
        "Stopped the server and the embedded PostgreSQL it started."
        if started_database
        else "Stopped the server.",
        flush=True,
    )
    return code


def _set_up_and_serve(*, addrport: str, workers: int | None, demo: bool) -> int:
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    if demo:
        call_command("demo", no_serve=True, addrport=addrport)
    else:
        call_command("migrate", "--no-input", verbosity=0)
    # The shared results cache's table: a migration makes it, this remakes it if it was
    # dropped or CACHES names another table (a no-op when it exists).
    call_command("createcachetable", verbosity=0)
    call_command("collectstatic", "--no-input", verbosity=0)
    # gunicorn's workers open their own connections; this process keeps none while it waits.
    connections.close_all()
    host = addrport.rsplit(":", 1)[0]
    if host not in LOOPBACK and not os.environ.get("DJANGO_ALLOWED_HOSTS"):
        hosts = ", ".join(settings.ALLOWED_HOSTS)
        print(f"Note: set DJANGO_ALLOWED_HOSTS to the names clients use (now {hosts}).", flush=True)
    print(f"Serving http://{addrport}/ with gunicorn (gunicorn.conf.py). Ctrl-C stops.", flush=True)
    return gunicorn_run(addrport=addrport, workers=workers)


if __name__ == "__main__":
    sys.exit(main())
