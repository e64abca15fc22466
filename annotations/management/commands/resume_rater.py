"""manage.py resume_rater: lift a rater's pause (recorded)."""

from __future__ import annotations

from annotations.management.rater_actions import RaterActionCommand
from annotations.services.quality import rater_resume


class Command(RaterActionCommand):
    help = "Lift a rater's pause (recorded)."
    action = staticmethod(rater_resume)
    done = "resumed"
    unchanged = "was not paused"
    reason_required = False
