"""Django settings: every deploy-varying value comes from the environment."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _env_bool("DJANGO_DEBUG", False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off "
            "(set DJANGO_DEBUG=1 for local development)."
        )
    # Only ever used with DEBUG on, on a developer's machine.
    SECRET_KEY = "insecure-development-key-do-not-deploy"  # noqa: S105

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")
    if h.strip()
]
# The site's public address, for links the app prints (invite links); empty: http://127.0.0.1:8000.
BASE_URL = os.environ.get("DJANGO_BASE_URL", "").strip()
# HTTPS-only behaviour (redirect, secure cookies, HSTS) is on as soon as the site answers to a
# name other than this machine's loopback: plain HTTP on 127.0.0.1 works out of the box, and a
# real deployment cannot forget it. DJANGO_HTTPS=0 or 1 says it explicitly.
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}
HTTPS = _env_bool(
    "DJANGO_HTTPS", any(h not in _LOOPBACK_HOSTS and h != ".localhost" for h in ALLOWED_HOSTS)
)
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "annotations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Oversized bodies get a 413 (JSON under /api/) before anything reads them, on every path.
    "app.middleware.BodySizeLimitMiddleware",
    # Static files are answered here, before sessions, users or the database are touched.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A persistent connection that PostgreSQL closed (restart, failover) is dropped up front.
    "app.middleware.DatabaseHealthMiddleware",
    # Every page gets a strict CSP unless its view set its own.
    "app.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A crowd account signed in by a study's link judges only that study in this session.
    "app.middleware.CrowdSessionLimit",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns a login refused for too many failures into the lock-out page; must come last.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "app.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "app.wsgi.application"
ASGI_APPLICATION = "app.asgi.application"

# PostgreSQL only. DATABASE_URL when set; otherwise the embedded server (pgserver), whose data
# lives in the git-ignored .pgdata/ folder and is reused across runs.
_database_url = os.environ.get("DATABASE_URL", "").strip()
if not _database_url:
    from app.embedded_db import embedded_database_url

    _database_url = embedded_database_url()
# Connections are not kept by default (runserver opens a thread, and so a connection, per
# request). The committed gunicorn config turns persistent connections on: its workers run a
# fixed number of threads, each holding at most one connection, which bounds the total at
# workers x threads (README, Deploying). Health checks make the first request after a database
# restart reconnect instead of failing.
DATABASES = {
    "default": dj_database_url.parse(
        _database_url,
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "0")),
        conn_health_checks=True,
    )
}
# An unreachable server fails fast (the API answers 503) instead of holding a worker thread.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
    "connect_timeout", int(os.environ.get("DJANGO_DB_CONNECT_TIMEOUT", "5"))
)
# Lets several test runs share one server without clashing on the test database's name.
if os.environ.get("DJANGO_TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["DJANGO_TEST_DB_NAME"]}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://...).")

AUTH_USER_MODEL = "annotations.User"

# django-axes watches every password check (the login page, the admin's login) and locks an
# account, and separately an address, out after DJANGO_LOGIN_FAILURE_LIMIT failures within
# DJANGO_LOGIN_LOCKOUT_MINUTES; `manage.py axes_reset` unlocks (README, Logins).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("DJANGO_LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("DJANGO_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A success does not wipe the failures: axes would wipe those of the address too, so 9 guesses
# at one account and a login to another, repeated, would never lock either. Failures age out
# after the cool-off instead.
AXES_RESET_ON_SUCCESS = False
# Failures are recorded; successful logins are not (the sessions table already says who is in).
AXES_DISABLE_ACCESS_LOG = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "app.middleware.client_ip"
# Behind N trusted proxies the client's address is the Nth from the right in X-Forwarded-For.
TRUSTED_PROXY_COUNT = int(os.environ.get("DJANGO_TRUSTED_PROXY_COUNT", "0"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
# WhiteNoise serves the collected files itself, compressed and with hashed names (cached for a
# year by browsers); `run.py serve` runs collectstatic first. With debug on, files are served
# from static/ as they are, so runserver needs no collectstatic.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Computed results are shared by every gunicorn worker and host: Django's database cache in
# the app's own PostgreSQL (table `cache_table`, made by the migrations), so a new judgment
# costs one recomputation in all, not one per worker. Keys change with the study's judgments,
# so a stale entry is never read; app.cache turns a missing table or a database failure into
# a miss (the results are then computed) instead of an error. The API throttles count in
# each process's memory ("throttle"), as before: no database round trips per API request.
CACHES = {
    "default": {
        "BACKEND": "app.cache.SharedDatabaseCache",
        "LOCATION": "cache_table",
        "TIMEOUT": 24 * 3600,
        # Past this many entries a third of them go (expired ones first) on the next write.
        "OPTIONS": {"MAX_ENTRIES": 500, "CULL_FREQUENCY": 3},
    },
    "throttle": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "prefeval-throttle",
        "OPTIONS": {"MAX_ENTRIES": 2000},
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Uploads of prompt sets and judgments: files above this size are refused with a clear message.
MAX_UPLOAD_BYTES = int(os.environ.get("DJANGO_MAX_UPLOAD_BYTES", str(200 * 1024 * 1024)))
# Every other request body (JSON, forms, the login page) is small; it is read into memory.
# app.middleware refuses larger bodies from their Content-Length, or while a chunked one streams.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DJANGO_MAX_BODY_BYTES", str(1024 * 1024)))
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

REST_FRAMEWORK = {
    # Token first: an anonymous caller gets 401 with a WWW-Authenticate header, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only: DRF's browsable API would answer HTML (errors included) to a browser's Accept.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "annotations.api.parsers.JSONOnlyNegotiation",
    "DEFAULT_PARSER_CLASSES": [
        "annotations.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "annotations.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "app.throttles.AnonymousThrottle",
        "app.throttles.AuthenticatedThrottle",
    ],
}
# Requests per client per second/minute/hour ("50/s"); "off" turns a limit off. The rater's
# judging requests take a path of their own that throttling does not slow, and a fast rater
# makes a few requests a second; counts are per gunicorn worker (README, Logins).
API_THROTTLE_RATES = {
    "anon": os.environ.get("DJANGO_API_THROTTLE_ANON", "120/min"),
    "user": os.environ.get("DJANGO_API_THROTTLE_USER", "50/s"),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "PrefEval API",
    "DESCRIPTION": (
        "Pairwise human-preference evaluation: studies, models, uploads, the rater's "
        "assignments and judgments, results, exports and users. Authenticate with a session "
        "(and the CSRF token) or `Authorization: Token <key>`. Every error answers "
        '`{"detail", "errors": [{"field", "message", "line"?}]}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and docs are public (they describe the API, not its data).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "annotations.api.schema.error_responses_add",
    ],
    # The docs page's scripts and styles are served from here: nothing loads from elsewhere.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

if not DEBUG and HTTPS:
    SESSION_COOKIE_SECURE = _env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = _env_bool("DJANGO_SECURE_COOKIES", True)
    SECURE_SSL_REDIRECT = _env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # The TLS-terminating proxy says the original scheme; it must overwrite this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
    # A wrong Host header is a scanner's everyday probe: answered 400, not worth a traceback.
    "loggers": {
        "django.security.DisallowedHost": {"handlers": [], "level": "CRITICAL", "propagate": False}
    },
}
