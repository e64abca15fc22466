"""Reads behind the studies overview and the API's studies, generators and users resources."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet

from annotations.models import Generator, Study, User


def study_list() -> QuerySet[Study]:
    return Study.objects.select_related("baseline").order_by("slug")


def study_get(*, slug: str) -> Study | None:
    return study_list().filter(slug=slug).first()


@dataclass(frozen=True)
class StudyOverview:
    study: Study
    prompts: int
    generators: int
    comparisons: int
    judgments: int
    # Comparisons that have reached the study's overlap target k.
    complete: int

    @property
    def complete_share(self) -> float | None:
        return self.complete / self.comparisons if self.comparisons else None


# Counts per study from the indexes that lead with study_id; judgments are summed from the
# comparisons' judgment_count (kept in step with every judgment write), not counted row by row.
_OVERVIEW_SQL = """
SELECT s.id,
       (SELECT count(*) FROM annotations_prompt p WHERE p.study_id = s.id),
       (SELECT count(*) FROM annotations_generator g WHERE g.study_id = s.id),
       c.n, c.judgments, c.complete
  FROM annotations_study s
  LEFT JOIN LATERAL (
        SELECT count(*) AS n, coalesce(sum(judgment_count), 0) AS judgments,
               count(*) FILTER (WHERE judgment_count >= s.overlap) AS complete
          FROM annotations_comparison WHERE study_id = s.id) c ON true
"""


def study_overview_list() -> list[StudyOverview]:
    """Every study with its size and how far judging has come, for researchers and admins."""
    with connection.cursor() as cursor:
        cursor.execute(_OVERVIEW_SQL)
        counts = {row[0]: row[1:] for row in cursor.fetchall()}
    return [
        StudyOverview(study, *(int(v) for v in counts.get(study.pk, (0, 0, 0, 0, 0))))
        for study in study_list()
    ]


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
