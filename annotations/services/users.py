"""Creating users of each role and their API tokens."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from annotations.models import Role, User


@dataclass(frozen=True)
class UserResult:
    user: User
    created: bool
    token: str


def user_role_flags_apply(*, user: User) -> None:
    """Admins get Django's staff and superuser flags (the admin pages); other roles lose them."""
    user.is_staff = user.role == Role.ADMIN
    user.is_superuser = user.role == Role.ADMIN


def user_password_validate(*, password: str, user: User) -> None:
    """Run settings.AUTH_PASSWORD_VALIDATORS on `password` for `user`; their messages name it.

    Every place that sets a password calls this (the service below, and so add_user and the
    API; the admin's and Django's own password forms run the same validators).
    """
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc


def user_self_change_check(
    *, user: User, acting: User, role: str | None = None, is_active: bool | None = None
) -> None:
    """Refuse an admin demoting or deactivating themselves: that is how a site loses its last
    admin. Raises ValidationError naming the field."""
    if user.pk is None or user.pk != acting.pk:
        return
    if role is not None and role != Role.ADMIN:
        raise ValidationError({"role": "you cannot remove your own admin role"})
    if is_active is False:
        raise ValidationError({"is_active": "you cannot deactivate yourself"})


def user_create_or_update(
    *, username: str, role: str, password: str | None = None, email: str = ""
) -> UserResult:
    """Create `username` with `role` (or update it) and return it with its API token.

    Admins get Django's staff and superuser flags so they can use the admin pages.
    Without a password a new user cannot log in with one (tokens still work). A password must
    pass the password validators (settings.AUTH_PASSWORD_VALIDATORS).
    """
    username = (username or "").strip()
    if not username:
        raise ValidationError({"username": "a username is required"})
    if role not in Role.values:
        choices = ", ".join(Role.values)
        raise ValidationError({"role": f"unknown role {role!r}; choose from {choices}"})
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username).first()
        created = user is None
        if user is None:
            user = User(username=username)
        user.role = role
        user_role_flags_apply(user=user)
        if email:
            user.email = email
        if password:
            user_password_validate(password=password, user=user)
            user.set_password(password)
        elif created:
            user.set_unusable_password()
        # An existing name is not checked again: imported raters are named "ext:<id>", which the
        # username rules refuse on purpose so that no one can register it.
        user.full_clean(exclude=["password"] if created else ["password", "username"])
        user.save()
        token, _ = Token.objects.get_or_create(user=user)
    return UserResult(user=user, created=created, token=token.key)


def user_update(
    *, user: User, acting: User, role: str | None = None, is_active: bool | None = None
) -> User:
    """Change `user`'s role and/or active flag, as the admin `acting` (user_self_change_check)."""
    user_self_change_check(user=user, acting=acting, role=role, is_active=is_active)
    with transaction.atomic():
        if role is not None:
            user = user_create_or_update(username=user.username, role=role).user
        if is_active is not None and user.is_active != is_active:
            user.is_active = is_active
            user.save(update_fields=["is_active"])
    return user
