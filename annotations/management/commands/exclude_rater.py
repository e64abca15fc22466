"""manage.py exclude_rater: exclude a rater from a study."""

from __future__ import annotations

from annotations.management.rater_actions import RaterActionCommand
from annotations.services.quality import rater_exclude


class Command(RaterActionCommand):
    help = (
        "Exclude a rater from a study. Their judgments leave results, exports and the overlap k "
        "(their pairs are judged again by others), and they are served nothing more. --reason is "
        "required and recorded."
    )
    action = staticmethod(rater_exclude)
    done = "excluded"
    unchanged = "already excluded"
    reason_required = True
