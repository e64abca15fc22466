"""manage.py include_rater: undo an exclusion."""

from __future__ import annotations

from annotations.management.rater_actions import RaterActionCommand
from annotations.services.quality import rater_include


class Command(RaterActionCommand):
    help = "Undo an exclusion: the rater's judgments count again (recorded)."
    action = staticmethod(rater_include)
    done = "included again"
    unchanged = "was not excluded"
    reason_required = False
