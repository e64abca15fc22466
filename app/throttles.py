"""API throttles whose rates come from settings.API_THROTTLE_RATES, read on every request."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


def _rate(scope: str) -> str | None:
    rate = (settings.API_THROTTLE_RATES.get(scope) or "").strip()
    # DRF lets a request through when its throttle has no rate.
    return None if rate.lower() in ("", "off", "none", "0") else rate


class AnonymousThrottle(AnonRateThrottle):
    """Anonymous clients, counted per address (DRF's AnonRateThrottle)."""

    def get_rate(self) -> str | None:
        return _rate(self.scope)


class AuthenticatedThrottle(UserRateThrottle):
    """Logged-in clients (session or token), counted per user."""

    def get_rate(self) -> str | None:
        return _rate(self.scope)
