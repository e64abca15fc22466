"""Test helpers for rater access: crowd accounts and members, made through the services."""

from __future__ import annotations

from django.test import Client

from annotations.models import Study, User
from annotations.services.access import Arrival, crowd_sign_in, invite_create, membership_add


def crowd_user(study: Study, platform_id: str = "crowd1") -> User:
    """A Prolific account that arrived through an invite link to `study` (so a member)."""
    invite, _ = invite_create(study=study)
    arrival = Arrival(platform="prolific", platform_id=platform_id, session_id="sess")
    return crowd_sign_in(invite=invite, arrival=arrival)


def member_add(study: Study, user: User) -> None:
    membership_add(study=study, user=user)


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client
