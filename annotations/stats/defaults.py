"""Defaults shared by the statistics and by every caller that offers them as options."""

# Bootstrap resamples of every interval: win rates and Bradley-Terry ratings alike. The
# Bradley-Terry bootstrap costs about R x (prompt, pair) cells even when vectorised;
# bench/stats_coverage.py times it at 100,000 prompts. This module imports nothing, so the URL
# configuration and the commands read the default without loading numpy or scipy.
DEFAULT_RESAMPLES = 2000

# The win-rate interval methods, with the description every output names (the one list).
CI_METHOD_DESCRIPTIONS: dict[str, str] = {
    "bootstrap": "prompt-clustered percentile bootstrap",
    "wilson": "Wilson score interval (judgments taken as independent)",
    "cluster": "cluster-robust standard error by prompt (Miller 2024)",
}

# Below these, a win rate is marked `reliable: false`: with fewer judgments or prompts the
# interval itself is unreliable (a bootstrap over 3 prompts, a 0/0/3 record with a CI of
# 0%-0%), so the page says so instead of showing false precision.
MIN_RELIABLE_JUDGMENTS = 30
MIN_RELIABLE_PROMPTS = 10
