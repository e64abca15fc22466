"""API throttles whose rates come from settings.API_THROTTLE_RATES, read on every request."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import caches
from django.utils.connection import ConnectionProxy
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

# Per process, in memory (CACHES["throttle"]): the shared default cache is a database table,
# which would cost queries on every API request. Counts stay per gunicorn worker (README).
_throttle_cache = ConnectionProxy(caches, "throttle")


def _rate(scope: str) -> str | None:
    rate = (settings.API_THROTTLE_RATES.get(scope) or "").strip()
    # DRF lets a request through when its throttle has no rate.
    return None if rate.lower() in ("", "off", "none", "0") else rate


class AnonymousThrottle(AnonRateThrottle):
    """Anonymous clients, counted per address (DRF's AnonRateThrottle)."""

    cache = _throttle_cache

    def get_rate(self) -> str | None:
        return _rate(self.scope)


class AuthenticatedThrottle(UserRateThrottle):
    """Logged-in clients (session or token), counted per user."""

    cache = _throttle_cache

    def get_rate(self) -> str | None:
        return _rate(self.scope)
