"""What each rater endpoint does and answers, written once for the DRF views and the fast lane.

Each function takes an authenticated rater and returns (status, body); neither DRF nor the fast
lane's own request handling is used here, so both paths give the same answers by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from rest_framework import status

from annotations.errors import django_errors, error_body, error_item
from annotations.models import Study, User
from annotations.selectors.judging import (
    assignment_load,
    assignment_view,
    control_check_load,
    judgment_view,
    rater_progress,
    study_form,
    study_judging_get,
)
from annotations.services.assignment import NotYourAssignment, assignment_next, assignment_skip
from annotations.services.judging import (
    LeaseLost,
    RevisionRefused,
    judgment_revise,
    judgment_submit,
)
from annotations.services.quality import control_answer_revise, control_answer_submit, control_skip

# (HTTP status, JSON body or None for an empty 204).
Answer = tuple[int, dict[str, Any] | None]

# What the service refused because the assignment moved on under the rater (409, not 400).
_CONFLICT_CODES = ("skipped", "judged", "busy")


def progress_wanted(request: HttpRequest) -> bool:
    # Progress counts the study's open comparisons, which costs a scan of its index on a large
    # study: only the page, which shows it, asks for it (?progress=1); tools go without.
    return request.GET.get("progress") in ("1", "true")


def not_found() -> Answer:
    return status.HTTP_404_NOT_FOUND, error_body([error_item("Not found.")])


def service_error(exc: ValidationError | PermissionDenied) -> Answer:
    """The answer to what the assignment and judging services raise."""
    if isinstance(exc, (LeaseLost, RevisionRefused)):
        return status.HTTP_409_CONFLICT, error_body(django_errors(exc))
    if isinstance(exc, NotYourAssignment):
        return not_found()
    if isinstance(exc, ValidationError):
        conflict = getattr(exc, "code", None) in _CONFLICT_CODES
        code = status.HTTP_409_CONFLICT if conflict else status.HTTP_400_BAD_REQUEST
        return code, error_body(django_errors(exc))
    return status.HTTP_403_FORBIDDEN, error_body([error_item(str(exc))])


def _with_progress(
    body: dict[str, Any], study: Study, rater: User, progress: bool
) -> dict[str, Any]:
    if progress:
        body["progress"] = rater_progress(study=study, rater=rater)
    return body


def next_answer(*, slug: str, rater: User, progress: bool) -> Answer:
    """POST /api/studies/<slug>/assignments/next: the rater's lease, or 204 when none is left."""
    study = study_judging_get(slug=slug, user=rater)
    if study is None:
        return not_found()
    assignment = assignment_next(study=study, rater=rater)
    if assignment is None:
        return status.HTTP_204_NO_CONTENT, None
    body = {
        **assignment_view(assignment=assignment),
        "study": {"slug": study.slug, "name": study.name},
        "form": study_form(study=study),
    }
    return status.HTTP_200_OK, _with_progress(body, study, rater, progress)


def _item_run(
    assignment_id: int,
    rater: User,
    regular: Callable[[Any], Any],
    control: Callable[[Any], Any],
) -> tuple[Any, Study] | None:
    """Run `regular` on the rater's lease with this id or, when the id is not a lease,
    `control` on their control item with it (services/quality.py: a control item answers the
    same way); (what it returned, the study), or None when the id is neither of the rater's."""
    assignment = assignment_load(assignment_id=assignment_id, rater=rater)
    if assignment is not None:
        return regular(assignment), assignment.study
    check = control_check_load(check_id=assignment_id, rater=rater)
    if check is None:
        return None
    return control(check), check.study


def judgment_answer(
    *,
    assignment_id: int,
    rater: User,
    answer: Callable[[], Mapping[str, Any]],
    progress: bool,
) -> Answer:
    """POST /api/assignments/<id>/judgment: 201 first time, 200 with the same on a repeat.

    `answer` gives the validated input; it is called once the assignment is known to be the
    rater's, so a stranger's id is 404 whatever the body holds.
    """
    found = _item_run(
        assignment_id,
        rater,
        lambda lease: judgment_submit(assignment=lease, rater=rater, **answer()),
        lambda check: control_answer_submit(check=check, rater=rater, **answer()),
    )
    if found is None:
        return not_found()
    (judgment, created), study = found
    body = {**judgment_view(judgment=judgment), "created": created}
    code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return code, _with_progress(body, study, rater, progress)


def skip_answer(
    *, assignment_id: int, rater: User, answer: Callable[[], Mapping[str, Any]], progress: bool
) -> Answer:
    """POST /api/assignments/<id>/skip: the assignment's new status."""

    def check_skip(check: Any) -> Any:
        answer()  # a control item keeps no reason, but the input is validated alike
        return control_skip(check=check, rater=rater)

    found = _item_run(
        assignment_id,
        rater,
        lambda lease: assignment_skip(assignment=lease, rater=rater, reason=answer()["reason"]),
        check_skip,
    )
    if found is None:
        return not_found()
    skipped, study = found
    body = {"assignment": skipped.pk, "status": skipped.status}
    return status.HTTP_200_OK, _with_progress(body, study, rater, progress)


def revision_answer(
    *,
    assignment_id: int,
    rater: User,
    answer: Callable[[], Mapping[str, Any]],
    progress: bool,
) -> Answer:
    """POST /api/assignments/<id>/revision: the judgment with its new verdict (200), or 409
    when it can no longer be revised (another rater was served the pair, a later judgment)."""
    found = _item_run(
        assignment_id,
        rater,
        lambda lease: judgment_revise(assignment=lease, rater=rater, **answer()),
        lambda check: control_answer_revise(check=check, rater=rater, **answer()),
    )
    if found is None:
        return not_found()
    judgment, study = found
    body = {
        **judgment_view(judgment=judgment),
        "revised_at": judgment.revised_at.isoformat() if judgment.revised_at else None,
    }
    return status.HTTP_200_OK, _with_progress(body, study, rater, progress)
