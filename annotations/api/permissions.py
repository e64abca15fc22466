"""Who may call what in the API: one permission class per role rule."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


def _user(request: Request) -> object | None:
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


class IsAdminRole(BasePermission):
    """Admins only (role admin, or a Django superuser)."""

    message = "Only admins can do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = _user(request)
        return bool(user and user.is_admin_role)


class IsResearcherOrAdmin(BasePermission):
    """Researchers and admins; raters never see study contents, results or exports."""

    message = "Only researchers and admins can see this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = _user(request)
        return bool(user and user.can_see_results)


class ReadResearcherWriteAdmin(BasePermission):
    """Reads for researchers and admins, writes for admins."""

    message = "Only researchers and admins can read this, and only admins can change it."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = _user(request)
        if user is None:
            return False
        if request.method in SAFE_METHODS:
            return bool(user.can_see_results)
        return bool(user.is_admin_role)


class IsRater(BasePermission):
    """Raters only: taking and judging assignments (the rater API's fast lane repeats this)."""

    message = "Only raters can take and judge assignments."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = _user(request)
        return bool(user and user.is_rater)
