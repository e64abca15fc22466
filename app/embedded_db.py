"""Start (or reuse) the embedded PostgreSQL server used when DATABASE_URL is unset."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

# pgserver keeps the server running after this process exits (cleanup_mode=None), so later
# commands and test runs reuse it instead of paying the start-up again.
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / ".pgdata"


def embedded_data_dir(data_dir: Path | None = None) -> Path:
    """Where the embedded server keeps its data: PGSERVER_DATA_DIR, `data_dir` or .pgdata/."""
    return Path(os.environ.get("PGSERVER_DATA_DIR") or data_dir or DEFAULT_DATA_DIR)


def embedded_server_running(data_dir: Path | None = None) -> bool:
    """Whether an embedded server is running on the data folder (its postmaster.pid is live)."""
    pid_file = embedded_data_dir(data_dir) / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def embedded_server_stop(data_dir: Path | None = None) -> None:
    """Stop the embedded server on the data folder (fast shutdown: running queries end)."""
    path = embedded_data_dir(data_dir)
    if not embedded_server_running(path):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    # pgserver runs PostgreSQL as the user "pgserver" when started by root.
    user = "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=path, user=user)


def embedded_database_url(data_dir: Path | None = None) -> str:
    """Return a postgresql:// URL for the embedded server, starting it if needed."""
    # platformdirs (used by pgserver) warns when XDG_RUNTIME_DIR is unset, as under CI and cron;
    # the fallback it picks is fine, so the warning is noise on every command.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver  # imported lazily: only needed when no DATABASE_URL is given

    path = embedded_data_dir(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(path, cleanup_mode=None)
    # pgserver's URI puts the socket directory in the query string (?host=/path); Django and
    # dj-database-url read the host from the netloc, so spell it there, percent-encoded.
    uri = urlsplit(server.get_uri())
    socket_dir = parse_qs(uri.query).get("host", [""])[0]
    if not socket_dir:
        return server.get_uri()
    user = uri.username or "postgres"
    database = uri.path.lstrip("/") or "postgres"
    return f"postgresql://{user}@{quote(socket_dir, safe='')}/{database}"
