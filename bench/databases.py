"""The throwaway databases benchmarks run on: the server to use, a database's URL, admin SQL."""

from __future__ import annotations

import os


def server_url() -> str:
    """DATABASE_URL, or the project's embedded PostgreSQL (started if need be)."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        from app.embedded_db import embedded_database_url

        url = embedded_database_url()
    return url


def database_url(url: str, name: str) -> str:
    """`url` with its database replaced by `name`, keeping any query string (socket paths)."""
    base, _, last = url.rpartition("/")
    query = "?" + last.split("?", 1)[1] if "?" in last else ""
    return f"{base}/{name}{query}"


def server_execute(url: str, sql: str) -> None:
    """Run one statement outside a transaction (CREATE or DROP DATABASE)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)
