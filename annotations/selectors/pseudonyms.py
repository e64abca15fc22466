"""Pseudonymous rater ids: what exports and results show instead of a rater's account."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.db import connection

from annotations.models import Study


def rater_pseudonym(*, study_id: int, user_id: int) -> str:
    """A rater's id in exports: stable within a study, different across studies, not reversible
    without the server's SECRET_KEY, and never the username."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"{study_id}:{user_id}".encode(), hashlib.sha256
    ).hexdigest()
    return "r-" + digest[:10]


def study_rater_ids(*, study: Study) -> list[int]:
    """Ids of every user who has judged in the study.

    Raters are few and judgments many: the distinct raters of the whole table come from a
    skip scan of the (rater_id, created_at) index, one probe per rater, and each is then
    checked for a judgment in this study, instead of reading all of the study's judgments.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH RECURSIVE r(id) AS ("
            " (SELECT rater_id FROM annotations_judgment ORDER BY rater_id LIMIT 1)"
            " UNION ALL"
            " SELECT (SELECT j.rater_id FROM annotations_judgment j WHERE j.rater_id > r.id"
            " ORDER BY j.rater_id LIMIT 1) FROM r WHERE r.id IS NOT NULL)"
            " SELECT r.id FROM r WHERE r.id IS NOT NULL AND EXISTS (SELECT 1"
            " FROM annotations_judgment j JOIN annotations_comparison c ON c.id = j.comparison_id"
            " WHERE j.rater_id = r.id AND c.study_id = %s)",
            [study.pk],
        )
        return [row[0] for row in cursor.fetchall()]


def study_rater_pseudonyms(*, study: Study) -> dict[int, str]:
    """user id -> pseudonymous rater id, for every rater of the study."""
    return {
        uid: rater_pseudonym(study_id=study.pk, user_id=uid) for uid in study_rater_ids(study=study)
    }


class RaterPseudonyms(dict):
    """user id -> pseudonymous rater id of one study, each computed the first time it is asked
    for: exports need no pass over the study's judgments before the first byte."""

    def __init__(self, *, study_id: int) -> None:
        super().__init__()
        self.study_id = study_id

    def __missing__(self, user_id: int) -> str:
        pseudonym = self[user_id] = rater_pseudonym(study_id=self.study_id, user_id=user_id)
        return pseudonym
