"""Start (or reuse) the embedded PostgreSQL server used when DATABASE_URL is unset."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

# pgserver keeps the server running after this process exits (cleanup_mode=None), so later
# commands and test runs reuse it instead of paying the start-up again.
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / ".pgdata"


def embedded_database_url(data_dir: Path | None = None) -> str:
    """Return a postgresql:// URL for the embedded server, starting it if needed."""
    # platformdirs (used by pgserver) warns when XDG_RUNTIME_DIR is unset, as under CI and cron;
    # the fallback it picks is fine, so the warning is noise on every command.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver  # imported lazily: only needed when no DATABASE_URL is given

    path = Path(os.environ.get("PGSERVER_DATA_DIR") or data_dir or DEFAULT_DATA_DIR)
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
