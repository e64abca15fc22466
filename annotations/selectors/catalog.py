"""Reads behind the API's studies, generators and users resources."""

from __future__ import annotations

from django.db.models import QuerySet

from annotations.models import Generator, Study, User


def study_list() -> QuerySet[Study]:
    return Study.objects.select_related("baseline").order_by("slug")


def study_get(*, slug: str) -> Study | None:
    return study_list().filter(slug=slug).first()


def generator_list(*, study: Study) -> QuerySet[Generator]:
    return Generator.objects.filter(study=study).order_by("name", "id")


def generator_get(*, study: Study, generator_id: int) -> Generator | None:
    return generator_list(study=study).filter(pk=generator_id).first()


def user_list() -> QuerySet[User]:
    # People who log in; raters created by judgment imports (external ids) are listed too,
    # since an admin may need to deactivate them.
    return User.objects.order_by("username")


def user_get(*, username: str) -> User | None:
    return User.objects.filter(username=username).first()
