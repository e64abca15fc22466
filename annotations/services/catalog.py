"""Admin edits made through the API: a generator's plot metadata, a user's role and access."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from annotations.models import Generator, Role, User
from annotations.services.users import user_create_or_update

_UNSET: Any = object()


def generator_update(
    *, generator: Generator, family: str | None = _UNSET, size: int | None = _UNSET
) -> Generator:
    """Set a generator's `family` and/or parameter `size` (None clears the size)."""
    changed: list[str] = []
    if family is not _UNSET:
        generator.family = (family or "").strip()
        changed.append("family")
    if size is not _UNSET:
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ValidationError({"size": "must be a positive whole number of parameters"})
        generator.size = size
        changed.append("size")
    if changed:
        generator.full_clean(exclude=["study"], validate_unique=False)
        generator.save(update_fields=changed)
    return generator


def user_update(
    *, user: User, acting: User, role: str | None = None, is_active: bool | None = None
) -> User:
    """Change `user`'s role and/or active flag, as the admin `acting`.

    An admin cannot demote or deactivate themselves: that is how a site loses its last admin.
    """
    if user.pk == acting.pk:
        if role is not None and role != Role.ADMIN:
            raise ValidationError({"role": "you cannot remove your own admin role"})
        if is_active is False:
            raise ValidationError({"is_active": "you cannot deactivate yourself"})
    with transaction.atomic():
        if role is not None:
            user = user_create_or_update(username=user.username, role=role).user
        if is_active is not None and user.is_active != is_active:
            user.is_active = is_active
            user.save(update_fields=["is_active"])
    return user
