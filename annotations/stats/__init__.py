"""Pure numpy/scipy statistics for preference studies (being split into one module per concern)."""

from annotations.stats.win_rate import *  # noqa: F403
from annotations.stats.win_rate import _dense_codes  # noqa: F401
