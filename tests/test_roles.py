"""Every URL of the app, requested as anonymous, rater, researcher and admin: the role table.

A URL pattern without an entry here fails the test, so no endpoint can be added without
deciding who may use it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from annotations.models import Generator
from annotations.selectors.pseudonyms import rater_pseudonym
from annotations.services.access import invite_create
from annotations.services.assignment import assignment_next
from tests.judging_support import BASELINE, CANDIDATE, judging_study, make_user

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "rater", "researcher", "admin")


@dataclass(frozen=True)
class Probe:
    """One request and the status each role gets: (anonymous, rater, researcher, admin)."""

    method: str
    url: str
    expect: tuple[int, int, int, int]
    data: Any = None
    kind: str = "json"
    note: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _prompts_file() -> dict[str, Any]:
    record = {"key": "extra", "prompt": "One more?", "outputs": {BASELINE: "b", CANDIDATE: "c"}}
    return {"file": SimpleUploadedFile("p.jsonl", (json.dumps(record) + "\n").encode())}


def _gold_file() -> dict[str, Any]:
    record = {"key": "att-1", "prompt": "2 + 2?", "better_output": "4", "worse_output": "5"}
    return {"file": SimpleUploadedFile("g.jsonl", (json.dumps(record) + "\n").encode())}


def _judgments_file() -> dict[str, Any]:
    csv_text = f"key,left,right,winner,rater\np1,{CANDIDATE},{BASELINE},left,ext-role\n"
    return {"file": SimpleUploadedFile("j.csv", csv_text.encode())}


# Anonymous API callers get 401 (token authentication answers first); anonymous page
# visitors are redirected to the login page (302).
TABLE: dict[str, list[Probe]] = {
    # Pages.
    "": [Probe("get", "/", (302, 200, 200, 200))],
    "login/": [Probe("get", "/login/", (200, 200, 200, 200))],
    "logout/": [Probe("post", "/logout/", (302, 302, 302, 302))],
    # Invite links: the sign-up form for visitors; a rater joins at once; other roles are
    # told the link is for raters. A platform's parameters sign in whoever opens it.
    "join/<str:token>/": [
        Probe("get", "/join/{token}/", (200, 302, 403, 403)),
        # Signed in already: a page asks before switching to the crowd account.
        Probe(
            "get", "/join/{token}/?PROLIFIC_PID=p1&STUDY_ID=s&SESSION_ID=x", (302, 200, 200, 200)
        ),
        Probe(
            "get",
            "/join/{token}/?workerId=w1&assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=h",
            (200,) * 4,
            note="MTurk preview",
        ),
        Probe("get", "/join/{token}/?participant=bad%20id", (400,) * 4),
        Probe("get", "/join/not-a-token/", (404,) * 4),
    ],
    "reset/<uidb64>/<token>/": [
        Probe("get", "/reset/MQ/bad-token/", (200,) * 4, note="an invalid link says so"),
    ],
    "studies/<slug:slug>/judge/": [
        Probe("get", "/studies/{slug}/judge/", (302, 200, 403, 403), note="raters only")
    ],
    "studies/<slug:slug>/results/": [
        Probe("get", "/studies/{slug}/results/", (302, 403, 200, 200))
    ],
    "studies/<slug:slug>/raters/<str:rater>/<str:action>/": [
        Probe(
            "post",
            "/studies/{slug}/raters/{other_rater}/pause/",
            (302, 403, 403, 302),
            note="admins; back to the raters page",
        ),
        Probe("get", "/studies/{slug}/raters/{other_rater}/pause/", (302, 405, 405, 405)),
        Probe("post", "/studies/{slug}/raters/{other_rater}/fly/", (302, 403, 403, 404)),
    ],
    "studies/<slug:slug>/raters/": [
        Probe("get", "/studies/{slug}/raters/", (302, 403, 200, 200)),
        Probe("get", "/studies/no-such-study/raters/", (302, 403, 404, 404)),
    ],
    "studies/<slug:slug>/results/figure.<str:fmt>": [
        Probe("get", "/studies/{slug}/results/figure.svg", (302, 403, 200, 200))
    ],
    "studies/<slug:slug>/results/version": [
        Probe("get", "/studies/{slug}/results/version", (302, 403, 200, 200))
    ],
    # API: schema and docs are public (they describe the API, not its data).
    "api/schema/": [Probe("get", "/api/schema/", (200, 200, 200, 200))],
    "api/docs/": [Probe("get", "/api/docs/", (200, 200, 200, 200))],
    "api/me": [Probe("get", "/api/me", (401, 200, 200, 200))],
    "api/studies": [
        Probe("get", "/api/studies", (401, 403, 200, 200)),
        Probe("post", "/api/studies", (401, 403, 403, 201), {"slug": "made", "baseline": "b"}),
    ],
    "api/studies/<slug:slug>": [
        Probe("get", "/api/studies/{slug}", (401, 403, 200, 200)),
        Probe("patch", "/api/studies/{slug}", (401, 403, 403, 200), {"overlap": 3}),
    ],
    "api/studies/<slug:slug>/generators": [
        Probe("get", "/api/studies/{slug}/generators", (401, 403, 200, 200))
    ],
    "api/studies/<slug:slug>/generators/<int:pk>": [
        Probe("get", "/api/studies/{slug}/generators/{generator}", (401, 403, 200, 200)),
        Probe(
            "patch",
            "/api/studies/{slug}/generators/{generator}",
            (401, 403, 403, 200),
            {"family": "fam"},
        ),
    ],
    "api/studies/<slug:slug>/prompts": [
        Probe("post", "/api/studies/{slug}/prompts", (401, 403, 403, 200), _prompts_file, "file")
    ],
    "api/studies/<slug:slug>/judgments": [
        Probe(
            "post", "/api/studies/{slug}/judgments", (401, 403, 403, 200), _judgments_file, "file"
        )
    ],
    "api/users": [
        Probe("get", "/api/users", (401, 403, 403, 200)),
        Probe("post", "/api/users", (401, 403, 403, 201), {"username": "new", "role": "rater"}),
    ],
    "api/users/<str:username>": [
        Probe("get", "/api/users/role-rater", (401, 403, 403, 200)),
        Probe("patch", "/api/users/role-rater", (401, 403, 403, 200), {"is_active": True}),
    ],
    "api/studies/<slug:slug>/export": [
        Probe("get", "/api/studies/{slug}/export?format=judgments-csv", (401, 403, 200, 200)),
        Probe("get", "/api/studies/{slug}/export?format=dpo", (401, 403, 200, 200)),
        Probe(
            "get",
            "/api/studies/{slug}/export?format=raters-csv",
            (401, 403, 403, 200),
            note="names people: admins only",
        ),
    ],
    "api/studies/<slug:slug>/results": [
        Probe("get", "/api/studies/{slug}/results", (401, 403, 200, 200))
    ],
    # The rater API: raters only, and only their own assignments (others' are 404).
    "api/studies/<slug:slug>/assignments/next": [
        Probe("post", "/api/studies/{slug}/assignments/next", (401, 200, 403, 403))
    ],
    "api/studies/<slug:slug>/progress": [
        Probe("get", "/api/studies/{slug}/progress", (401, 200, 403, 403))
    ],
    "api/studies/<slug:slug>/raters": [
        Probe("get", "/api/studies/{slug}/raters", (401, 403, 200, 200))
    ],
    "api/assignments/<int:pk>/judgment": [
        Probe("post", "/api/assignments/{own}/judgment", (401, 201, 403, 403), {"winner": "left"}),
        Probe(
            "post",
            "/api/assignments/{others}/judgment",
            (401, 404, 403, 403),
            {"winner": "left"},
            note="another rater's assignment",
        ),
    ],
    "api/assignments/<int:pk>/revision": [
        # The judgment probe above has judged {own} by now: its revision is allowed.
        Probe("post", "/api/assignments/{own}/revision", (401, 200, 403, 403), {"winner": "left"}),
        Probe(
            "post", "/api/assignments/{others}/revision", (401, 404, 403, 403), {"winner": "left"}
        ),
    ],
    "api/assignments/<int:pk>/skip": [
        Probe("post", "/api/assignments/{own_skip}/skip", (401, 200, 403, 403)),
        Probe("post", "/api/assignments/{others}/skip", (401, 404, 403, 403)),
    ],
    # Quality control (admins): gold pairs, and actions on a rater by pseudonymous id.
    "api/studies/<slug:slug>/gold": [
        Probe("post", "/api/studies/{slug}/gold", (401, 403, 403, 200), _gold_file, "file")
    ],
    "api/studies/<slug:slug>/raters/<str:rater>/pause": [
        Probe("post", "/api/studies/{slug}/raters/{other_rater}/pause", (401, 403, 403, 200))
    ],
    "api/studies/<slug:slug>/raters/<str:rater>/resume": [
        Probe("post", "/api/studies/{slug}/raters/{other_rater}/resume", (401, 403, 403, 200))
    ],
    "api/studies/<slug:slug>/raters/<str:rater>/exclude": [
        Probe(
            "post",
            "/api/studies/{slug}/raters/{other_rater}/exclude",
            (401, 403, 403, 200),
            {"reason": "role test"},
        ),
        Probe(
            "post",
            "/api/studies/{slug}/raters/r-0000000000/exclude",
            (401, 403, 403, 404),
            {"reason": "role test"},
            note="no such rater",
        ),
    ],
    "api/studies/<slug:slug>/raters/<str:rater>/include": [
        Probe("post", "/api/studies/{slug}/raters/{other_rater}/include", (401, 403, 403, 200))
    ],
}

# The Django admin is one group: every admin URL goes through AdminSite.admin_view, which lets
# in active staff only (admins; raters and researchers are not staff) and sends everyone else
# to the admin login. Probing its index, a model list, a change page and our upload page shows
# that gate and our own additions; its hundreds of generated model URLs share the same gate.
ADMIN_PREFIX = "admin/"
ADMIN_PROBES = [
    Probe("get", "/admin/", (302, 302, 302, 200)),
    Probe("get", "/admin/annotations/study/", (302, 302, 302, 200)),
    Probe("get", "/admin/annotations/study/{study_id}/change/", (302, 302, 302, 200)),
    Probe("get", "/admin/annotations/user/", (302, 302, 302, 200)),
    Probe("get", "/admin/annotations/study/upload/", (302, 302, 302, 200)),
    Probe("get", "/admin/annotations/raterevent/", (302, 302, 302, 200)),
    Probe("get", "/admin/annotations/raterstanding/", (302, 302, 302, 200)),
    Probe("get", "/admin/annotations/golditem/", (302, 302, 302, 200)),
    Probe("get", "/admin/annotations/study/{study_id}/invite/", (302, 302, 302, 200)),
    Probe("get", "/admin/annotations/study/{study_id}/members/", (302, 302, 302, 200)),
    Probe("get", "/admin/login/", (200, 200, 200, 302)),
]


def _routes(patterns: list, prefix: str = "") -> list[str]:
    routes: list[str] = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            routes += _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            routes.append(prefix + str(pattern.pattern))
    return routes


def _world() -> dict[str, Any]:
    # Overlap 1: the other rater's lease is on another pair, so undoing {own} stays allowed
    # (a pair served to someone else just before or after the judgment cannot be revised).
    study = judging_study(slug="roles", prompts=3, overlap=1)
    second = judging_study(slug="roles-skip", prompts=1)
    rater = make_user("role-rater", "rater")
    other = make_user("role-other", "rater")
    own = assignment_next(study=study, rater=rater)
    own_skip = assignment_next(study=second, rater=rater)
    others = assignment_next(study=study, rater=other)
    users = {
        "anonymous": None,
        "rater": rater,
        "researcher": make_user("role-researcher", "researcher"),
        "admin": make_user("role-admin", "admin"),
    }
    ids = {
        "slug": study.slug,
        "study_id": study.pk,
        "generator": Generator.objects.get(study=study, name=CANDIDATE).pk,
        "own": own.pk,
        "own_skip": own_skip.pk,
        "others": others.pk,
        "token": invite_create(study=study)[1],
        "other_rater": rater_pseudonym(study_id=study.pk, user_id=other.pk),
    }
    return {"users": users, "ids": ids}


def _request(probe: Probe, user: Any, ids: dict[str, Any]) -> int:
    client = Client()
    if user is not None:
        client.force_login(user)
    url = probe.url.format(**ids)
    call = getattr(client, probe.method)
    if probe.kind == "file":
        response = call(url, probe.data())
    elif probe.data is not None:
        response = call(url, json.dumps(probe.data), content_type="application/json")
    else:
        response = call(url)
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)
    return response.status_code


def test_every_url_pattern_has_a_role_entry_and_each_role_gets_its_status() -> None:
    routes = _routes(get_resolver().url_patterns)
    app_routes = [r for r in routes if not r.startswith(ADMIN_PREFIX)]
    missing = sorted(set(app_routes) - set(TABLE))
    assert not missing, f"URL patterns without a role entry in tests/test_roles.py: {missing}"
    stale = sorted(set(TABLE) - set(app_routes))
    assert not stale, f"role entries for URL patterns that no longer exist: {stale}"
    assert any(r.startswith(ADMIN_PREFIX) for r in routes)

    world = _world()
    wrong = []
    probes = [p for entries in TABLE.values() for p in entries] + ADMIN_PROBES
    for probe in probes:
        for role, expected in zip(ROLES, probe.expect, strict=True):
            got = _request(probe, world["users"][role], world["ids"])
            if got != expected:
                wrong.append(f"{probe.method.upper()} {probe.url} as {role}: {got} != {expected}")
    assert not wrong, "\n".join(wrong)
