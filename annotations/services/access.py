"""Who may judge a study: memberships, invite links, crowd-platform sign-in, completion.

The access rule itself is SQL, in selectors/judging.py (MAY_JUDGE_SQL), so that every lookup a
rater makes carries it in the statement it already runs.

Invite links: a token of secrets.token_urlsafe(32) (256 random bits) is shown once; only its
SHA-256 is stored, so a copy of the database opens no study. A link may have a number of uses
(each new member through it takes one, counted down atomically) and an expiry.

Crowd sign-in: a person arriving through a link with a platform's URL parameters gets the
account "<platform>:<id>" (no password; the same id gets the same account back) and a
membership holding the platform's ids, with no form to fill in.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from annotations.models import Invite, Membership, Platform, Role, Study, User
from annotations.selectors.judging import rater_progress
from annotations.services.users import user_create_or_update, user_role_flags_apply

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
# What a platform may send as an id: the ids Prolific and MTurk issue fit, and nothing that
# could smuggle markup, paths or another parameter into a username or a page.
PLATFORM_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,100}")
# MTurk opens the task with this assignmentId while the worker only previews the HIT.
MTURK_PREVIEW = "ASSIGNMENT_ID_NOT_AVAILABLE"
# Each platform's URL parameters: (person id, session id, study id), in the platform's names.
PLATFORM_PARAMS: dict[str, tuple[str, str | None, str | None]] = {
    Platform.PROLIFIC: ("PROLIFIC_PID", "SESSION_ID", "STUDY_ID"),
    Platform.MTURK: ("workerId", "assignmentId", "hitId"),
    Platform.PARTICIPANT: ("participant", None, None),
}
MAX_MEMBER_ROWS = 10_000


class InviteGone(ValidationError):
    """The invite link expired or has no uses left (410 Gone)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"This invite link {reason}.", code="gone")


def invite_base_url() -> str:
    """Where links point by default: settings.BASE_URL ($DJANGO_BASE_URL), else local."""
    base = settings.BASE_URL
    return (base or DEFAULT_BASE_URL).rstrip("/")


def token_hash(*, token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_url(*, token: str, base_url: str | None = None) -> str:
    """The link of an invite token: <base-url>/join/<token>/."""
    return (base_url or invite_base_url()).rstrip("/") + reverse("join", args=[token])


# The session key that limits a crowd account's session to the study whose link signed it in.
CROWD_SESSION_KEY = "crowd_study_id"

# The uses column is a 32-bit integer; ten years is longer than any study runs.
MAX_INVITE_USES = 2**31 - 1
MAX_INVITE_DAYS = 3650


def invite_create(
    *, study: Study, uses: int | None = None, days: float | None = None
) -> tuple[Invite, str]:
    """A new invite link to `study`: (invite, token). The token is shown now or never."""
    if uses is not None and not 1 <= uses <= MAX_INVITE_USES:
        raise ValidationError(
            {"uses": f"must be from 1 to {MAX_INVITE_USES:,} (leave it out for no limit)"}
        )
    # `not (0 < days <= ...)` also refuses NaN, which compares false with everything.
    if days is not None and not 0 < days <= MAX_INVITE_DAYS:
        raise ValidationError(
            {
                "days": f"must be more than 0 and at most {MAX_INVITE_DAYS} "
                "(leave it out for no expiry)"
            }
        )
    token = secrets.token_urlsafe(32)
    expires_at = timezone.now() + timedelta(days=days) if days is not None else None
    invite = Invite.objects.create(
        study=study, token_hash=token_hash(token=token), uses_left=uses, expires_at=expires_at
    )
    return invite, token


def invite_find(*, token: str) -> Invite | None:
    """The invite of a token, with its study, whether or not it can still be used."""
    if len(token) > 200:
        return None
    return Invite.objects.select_related("study").filter(token_hash=token_hash(token=token)).first()


def invite_check(*, invite: Invite, new_member: bool = True) -> None:
    """Refuse a `new_member` with InviteGone when the link has expired or has no uses left.

    The study's members come back through it whatever its count or age: for a crowd account
    the link is the only way back to work it is being paid for. A newcomer's use is taken, and
    checked again, atomically when the membership is made (_invite_take).
    """
    if not new_member:
        return
    if invite.expires_at is not None and invite.expires_at <= timezone.now():
        raise InviteGone("has expired")
    if invite.uses_left is not None and invite.uses_left <= 0:
        raise InviteGone("has been used up")


def _invite_take(*, invite: Invite) -> None:
    """Take one use of the link, atomically (a conditional UPDATE), or refuse with InviteGone."""
    now = timezone.now()
    live = Invite.objects.filter(pk=invite.pk).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    if invite.uses_left is None:
        if not live.exists():
            raise InviteGone("has expired")
        return
    if not live.filter(uses_left__gt=0).update(uses_left=F("uses_left") - 1):
        invite.refresh_from_db()
        invite_check(invite=invite)
        raise InviteGone("has been used up")


@dataclass(frozen=True)
class Arrival:
    """A person arriving from a crowd platform, with that platform's ids."""

    platform: str
    platform_id: str
    session_id: str = ""
    study_id: str = ""
    preview: bool = False

    @property
    def username(self) -> str:
        return f"{self.platform}:{self.platform_id}"


def arrival_parse(*, params: Mapping[str, str]) -> Arrival | None:
    """The crowd platform and ids in a link's query parameters; None when there are none.

    Raises ValidationError (field: the parameter) for an id that is not 1-100 letters, digits,
    '_' or '-'. MTurk's preview (assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE) is an arrival with
    preview set: the worker sees the instructions and no account is made.
    """
    # MTurk's preview may come without a workerId: the assignment id alone says it.
    if params.get("assignmentId") == MTURK_PREVIEW:
        return Arrival(platform=Platform.MTURK, platform_id="", preview=True)
    for platform, (person, session, study) in PLATFORM_PARAMS.items():
        if person not in params:
            continue
        values = {}
        for name in (person, session, study):
            if name is None:
                continue
            value = params.get(name, "")
            if (name == person or value) and not PLATFORM_ID_RE.fullmatch(value):
                raise ValidationError(
                    {name: "must be 1 to 100 letters, digits, '_' or '-'"}, code="bad_id"
                )
            values[name] = value
        return Arrival(
            platform=platform,
            platform_id=values[person],
            session_id=values.get(session, "") if session else "",
            study_id=values.get(study, "") if study else "",
        )
    return None


def membership_add(
    *, study: Study, user: User, invite: Invite | None = None, arrival: Arrival | None = None
) -> tuple[Membership, bool]:
    """Make `user` a member of `study` (no-op when they are); (membership, created).

    Through an invite, a new member takes one of the link's uses (InviteGone when none is
    left); a crowd arrival's session and study ids are kept, the latest ones on a return.
    """
    with transaction.atomic():
        membership = Membership.objects.select_for_update().filter(study=study, user=user).first()
        created = membership is None
        if membership is None:
            if invite is not None:
                _invite_take(invite=invite)
            membership = Membership(study=study, user=user, invite=invite)
        if arrival is not None:
            membership.platform = arrival.platform
            membership.platform_id = arrival.platform_id
            membership.platform_session_id = arrival.session_id
            membership.platform_study_id = arrival.study_id
        try:
            with transaction.atomic():
                membership.save()
        except IntegrityError:
            membership = None
        if membership is None:
            # A concurrent arrival of the same person made it first: theirs stands, and the use
            # this one took goes back (one person, one use).
            if created and invite is not None and invite.uses_left is not None:
                Invite.objects.filter(pk=invite.pk).update(uses_left=F("uses_left") + 1)
            return Membership.objects.get(study=study, user=user), False
    return membership, created


def membership_remove(*, study: Study, user: User) -> bool:
    """Take `user` out of `study`'s members; whether they were one."""
    deleted, _ = Membership.objects.filter(study=study, user=user).delete()
    return bool(deleted)


def crowd_sign_in(*, invite: Invite, arrival: Arrival) -> User:
    """The crowd account of `arrival`, made on the first visit, a member of the link's study.

    The account has no usable password (it comes back through the link) and may judge only
    the studies it joined. A name of that form held by anything but an active rater is refused.
    """
    # Uses are counted when the membership is made (a returning person takes none).
    invite_check(invite=invite, new_member=False)
    with transaction.atomic():
        user, _ = User.objects.get_or_create(
            username=arrival.username,
            defaults={"role": Role.RATER, "password": make_password(None)},
        )
        if not user.is_rater or not user.is_active:
            raise ValidationError("This account cannot judge.", code="not_rater")
        membership_add(study=invite.study, user=user, invite=invite, arrival=arrival)
    return user


def rater_sign_up(*, invite: Invite, username: str, password: str, email: str = "") -> User:
    """A new rater account from the link's sign-up form, a member of the link's study.

    Username and password pass Django's rules (the password its validators, with their
    messages); errors are keyed by field. An existing name is refused, never updated.
    """
    invite_check(invite=invite)
    username = (username or "").strip()
    candidate = User(username=username, email=email, role=Role.RATER)
    errors: dict[str, list[str]] = {}
    try:
        candidate.clean_fields(exclude=["password"])
        candidate.validate_unique()
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    candidate.set_password(password)
    user_role_flags_apply(user=candidate)
    try:
        with transaction.atomic():
            # An insert, never an update: a name taken meanwhile fails here.
            candidate.save(force_insert=True)
            membership_add(study=invite.study, user=candidate, invite=invite)
    except IntegrityError as exc:
        taken = ValidationError({"username": "A user with that username already exists."})
        raise taken from exc
    return candidate


def member_join(*, invite: Invite, user: User) -> Membership:
    """A logged-in rater opening a link becomes a member of its study."""
    if not user.is_rater:
        raise ValidationError("Invite links are for raters.", code="not_rater")
    invite_check(invite=invite, new_member=False)
    return membership_add(study=invite.study, user=user, invite=invite)[0]


def password_set_link(*, user: User, base_url: str | None = None) -> str:
    """A one-time link for `user` to set their password (Django's password-reset token: it
    stops working once the password is set, and after PASSWORD_RESET_TIMEOUT)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    path = reverse("password-set", args=[uid, default_token_generator.make_token(user)])
    return (base_url or invite_base_url()).rstrip("/") + path


_ALL_BUT_NAME_AND_EMAIL = [f.name for f in User._meta.fields if f.name not in ("username", "email")]


@dataclass(frozen=True)
class MemberRow:
    username: str
    created: bool
    link: str | None


def members_import(
    *, study: Study, data: bytes | str, base_url: str | None = None
) -> list[MemberRow]:
    """Add the raters of a CSV of usernames (and optional e-mails) to `study`'s members.

    One row per person: username[,email]; a header row "username,email" is skipped. Missing
    accounts are made as raters without a password. Every listed rater who has no usable
    password gets a one-time set-password link. All rows are checked before any is written.
    """
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    rows = [row for row in csv.reader(io.StringIO(text)) if row and any(c.strip() for c in row)]
    if rows and rows[0][0].strip().lower() == "username":
        rows = rows[1:]
    if len(rows) > MAX_MEMBER_ROWS:
        raise ValidationError(f"at most {MAX_MEMBER_ROWS} rows per file (got {len(rows)})")
    problems = []
    wanted: dict[str, str] = {}
    for line, row in enumerate(rows, start=1):
        username = row[0].strip()
        email = row[1].strip() if len(row) > 1 else ""
        probe = User(username=username, email=email)
        try:
            probe.clean_fields(exclude=_ALL_BUT_NAME_AND_EMAIL)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                problems.append(f"row {line}, {field} {username!r}: {' '.join(messages)}")
        wanted.setdefault(username, email)
    existing = {u.username: u for u in User.objects.filter(username__in=list(wanted))}
    for username, user in existing.items():
        if not user.is_rater:
            problems.append(f"{username!r} is a {user.role}, not a rater")
    if problems:
        raise ValidationError(problems)
    result = []
    with transaction.atomic():
        for username, email in wanted.items():
            user = existing.get(username)
            created = user is None
            if user is None:
                user = user_create_or_update(username=username, role=Role.RATER, email=email).user
            membership_add(study=study, user=user)
            link = (
                None
                if user.has_usable_password()
                else password_set_link(user=user, base_url=base_url)
            )
            result.append(MemberRow(username=username, created=created, link=link))
    return result


def completion_record(*, study: Study, rater: User) -> bool:
    """Record that `rater` completed `study` when they have; whether they have.

    Only a member's completion is stored (on their membership): making a membership for a rater
    of an open study would let them into it after it turned invite-only. The roster shows a
    non-member's last judgment time instead.
    """
    if not rater.is_rater or not rater_progress(study=study, rater=rater)["complete"]:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            _COMPLETION_SQL, {"study": study.pk, "user": rater.pk, "now": timezone.now()}
        )
    return True


# One statement, so that concurrent completions of the same rater cannot clash; the first
# completion time stands.
_COMPLETION_SQL = """
UPDATE annotations_membership
   SET completed_at = coalesce(completed_at, %(now)s)
 WHERE study_id = %(study)s AND user_id = %(user)s"""
