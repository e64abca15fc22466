"""gunicorn's configuration (read by `gunicorn` from this folder, and by `run.py serve`)."""

from __future__ import annotations

import os
from pathlib import Path

wsgi_app = "app.wsgi:application"
# This machine only, unless told otherwise (`--bind 0.0.0.0:8000` behind a load balancer).
bind = ["127.0.0.1:8000"]

# Threaded workers: a rater's request mostly waits on PostgreSQL, so threads overlap those
# waits, and a slow client (a 200 MB upload on a slow link) holds one thread, not a process.
# Each thread keeps at most one database connection (persistent, below), so PostgreSQL sees at
# most workers x threads connections from the app: 4 x 8 = 32 on a 2-core machine.
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", str(min(2 * (os.cpu_count() or 1), 8))))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))

# Keep connections across requests: the thread pool above bounds them, and the rater's
# prepared statements live per connection. Health checks (app.middleware) drop one that the
# server closed. DJANGO_CONN_MAX_AGE=0 opens one per request instead.
os.environ.setdefault("DJANGO_CONN_MAX_AGE", "600")

# The threaded worker's main loop answers the arbiter's heartbeat while requests run in its
# threads, so `timeout` only catches a worker that is stuck as a whole; it is generous so a
# process parsing a 200 MB upload under load (or a sync worker, if someone switches) is not
# killed mid-load. A graceful stop or reload (SIGTERM, SIGHUP) lets running requests finish
# for up to `graceful_timeout`, enough for an upload that is being loaded.
timeout = 300
graceful_timeout = 60
# Longer than a load balancer's idle timeout (60 s on most), so the balancer, not gunicorn,
# closes idle keep-alive connections and never sends a request on one being closed. Idle
# connections wait in the worker's poller, not in a thread.
keepalive = 75

# Recycle a worker after many requests (one at a time, staggered) to bound memory growth.
max_requests = 20000
max_requests_jitter = 2000

# The heartbeat file is touched every second; keep it in memory where there is /dev/shm.
_SHM = Path("/dev/shm")  # noqa: S108 - gunicorn makes its own private file in it
worker_tmp_dir = str(_SHM) if _SHM.is_dir() else None
# The control socket is one path per user: several servers on one machine would fight over it.
control_socket_disable = True

# Errors to stderr; the access log when GUNICORN_ACCESS_LOG names a file (or "-" for stdout).
errorlog = "-"
loglevel = "info"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
