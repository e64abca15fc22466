"""manage.py pause_rater: serve a rater nothing more for now."""

from __future__ import annotations

from annotations.management.rater_actions import RaterActionCommand
from annotations.services.quality import rater_pause


class Command(RaterActionCommand):
    help = "Pause a rater: they are served nothing more for now, and their open lease is released."
    action = staticmethod(rater_pause)
    done = "paused"
    unchanged = "already paused"
    reason_required = False
