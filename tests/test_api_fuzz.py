"""Schema-driven fuzzing of the API (schemathesis): no 5xx, and every answer matches the schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from annotations.models import Assignment
from annotations.services.assignment import assignment_next
from app.wsgi import application
from tests.api_support import token_client
from tests.judging_support import judging_study, make_user

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Bounded and reproducible: a few examples per operation and mode, the same ones every run.
FUZZ = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(autouse=True)
def keep_test_connection() -> Iterator[None]:
    """Calls through the real WSGI handler must not close the test's transaction's connection
    when a request ends (Django's test client disconnects the same signal handlers)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def world() -> dict:
    """A study with comparisons, a rater holding a lease in it, and tokens for each role."""
    study = judging_study(slug="fuzz", prompts=4, criteria=["helpful"], flags=["hallucination"])
    rater = make_user("fuzz-rater")
    assignment = assignment_next(study=study, rater=rater)
    return {
        "slug": study.slug,
        "assignment": assignment.pk,
        "generator": study.baseline_id,
        "rater_token": token_client("fuzz-rater", "rater")._credentials["HTTP_AUTHORIZATION"],
        "admin_token": token_client("fuzz-admin", "admin")._credentials["HTTP_AUTHORIZATION"],
        "username": "fuzz-rater",
    }


def _operations() -> list:
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(operation, world: dict, token: str) -> int:
    """Run one operation's positive and negative examples; return how many were sent."""
    real = {
        "slug": world["slug"],
        "id": world["assignment"] if "assignments" in operation.path else world["generator"],
        "username": world["username"],
    }
    sent = 0
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @FUZZ
    @given(case=strategy, use_real=st.booleans())
    def run(case, use_real: bool) -> None:
        nonlocal sent
        # Half the examples aim at real objects, so the views get past their 404s.
        if use_real and case.path_parameters:
            for name in case.path_parameters:
                if name in real:
                    case.path_parameters[name] = real[name]
        case.call_and_validate(headers={"Authorization": token}, checks=CHECKS)
        sent += 1

    run()
    return sent


def test_fuzz_every_operation_as_an_admin(world) -> None:
    operations = _operations()
    assert len(operations) >= 15
    sent = sum(_fuzz(op, world, world["admin_token"]) for op in operations)
    assert sent >= 15 * 20


def test_fuzz_the_rater_operations_as_a_rater(world) -> None:
    operations = _operations()
    sent = sum(_fuzz(op, world, world["rater_token"]) for op in operations)
    assert sent >= len(operations) * 10
    # The rater's own lease is still theirs: nothing the fuzzer sent broke its ownership.
    assert Assignment.objects.get(pk=world["assignment"]).rater.username == "fuzz-rater"
