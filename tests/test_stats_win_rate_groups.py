"""Win rates of many groups at once: each group's bootstrap is the prompt-clustered bootstrap of
its own judgments (checked against the exact bootstrap distribution, enumerated), groups of one
size share their draws without changing anything a group's interval can show, and the shared
draws' float32 products are exact."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from annotations import stats
from annotations.stats import _grouped
from annotations.stats._grouped import ClusterCells, grouped_ratio_resamples


def _exact_bootstrap(sums: list[float], counts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Every outcome of drawing C prompts with replacement (Multinomial(C, 1/C) weights) as
    (ratio, probability), by enumeration."""
    c = len(sums)
    ratios, probs = [], []
    for weights in itertools.product(range(c + 1), repeat=c):
        if sum(weights) != c:
            continue
        coef = math.factorial(c)
        for w in weights:
            coef //= math.factorial(w)
        total = sum(w * s for w, s in zip(weights, sums, strict=True))
        n = sum(w * k for w, k in zip(weights, counts, strict=True))
        ratios.append(total / n)
        probs.append(coef / c**c)
    return np.array(ratios), np.array(probs)


def _judgments(sums: list[float], counts: list[int], prompt0: int) -> tuple[list, list]:
    """Judgment scores and prompt ids whose per-prompt totals are (sums, counts)."""
    scores, prompts = [], []
    for p, (s, k) in enumerate(zip(sums, counts, strict=True)):
        wins, half = int(s), s - int(s)
        row = [1.0] * wins + ([0.5] if half else []) + [0.0] * (k - wins - (1 if half else 0))
        scores += row
        prompts += [prompt0 + p] * k
    return scores, prompts


# Two groups of 4 prompts (the same size: shared draws) and one of 5, unequal prompt sizes.
GROUPS = {
    "a": ([2.0, 0.5, 3.0, 1.0], [3, 1, 4, 2]),
    "b": ([0.0, 1.5, 1.0, 2.0], [1, 2, 3, 2]),
    "c": ([1.0, 0.0, 2.5, 1.0, 0.5], [1, 2, 3, 1, 2]),
}


def _study(groups: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scores, prompts, labels = [], [], []
    for i, (label, (sums, counts)) in enumerate(groups.items()):
        s, p = _judgments(sums, counts, prompt0=100 * i)
        scores += s
        prompts += p
        labels += [label] * len(s)
    return np.array(scores), np.array(prompts), np.array(labels)


def test_each_groups_bootstrap_has_the_exact_bootstrap_distribution_of_its_prompts() -> None:
    scores, prompts, labels = _study(GROUPS)
    resamples = 40_000
    result = stats.win_rates_by_group(
        scores=scores, groups=labels, clusters=prompts, n_resamples=resamples, seed=3
    )
    for label, (sums, counts) in GROUPS.items():
        ratios, probs = _exact_bootstrap(sums, counts)
        mean = float(probs @ ratios)
        sd = math.sqrt(float(probs @ (ratios - mean) ** 2))
        w = result[label]
        assert w.win_rate == pytest.approx(sum(sums) / sum(counts))
        assert w.n_clusters == len(sums) and w.n_resamples == resamples
        # The SD of R draws estimates the exact SD with relative SE ~ 1 / sqrt(2R) = 0.35%.
        assert w.se == pytest.approx(sd, rel=0.02), label
        # Percentiles of a discrete distribution: the exact CDF just below and at each bound
        # straddles 2.5% (97.5%), up to the Monte Carlo error of a 40,000-draw quantile.
        for bound, q in ((w.ci_low, 0.025), (w.ci_high, 0.975)):
            below = float(probs[ratios < bound - 1e-12].sum())
            at = float(probs[ratios <= bound + 1e-12].sum())
            assert below <= q + 0.004 and at >= q - 0.004, (label, bound, below, at)


def test_a_large_group_keeps_its_own_stream_and_the_exact_bootstrap_variance() -> None:
    # 300 prompts of one judgment each (above the shared-draw size): the bootstrap variance of
    # a mean of C draws with replacement is sum((v - mean)^2) / C^2.
    rng = np.random.default_rng(8)
    scores = rng.choice([0.0, 0.5, 1.0], p=[0.3, 0.2, 0.5], size=300)
    prompts = np.arange(300)
    w = stats.win_rate_estimate(scores=scores, clusters=prompts, n_resamples=40_000, seed=1)
    exact_sd = math.sqrt(float(np.sum((scores - scores.mean()) ** 2)) / 300**2)
    assert w.se == pytest.approx(exact_sd, rel=0.02)


def test_adding_groups_of_the_same_or_another_size_leaves_a_groups_interval_unchanged() -> None:
    alone = {"a": GROUPS["a"]}
    more = {**GROUPS, "d": ([1.0, 1.0, 0.5, 0.0], [1, 2, 1, 1])}  # "d": 4 prompts, like "a"
    first = stats.win_rates_by_group(
        scores=_study(alone)[0], groups=_study(alone)[2], clusters=_study(alone)[1], seed=5
    )["a"]
    scores, prompts, labels = _study(more)
    second = stats.win_rates_by_group(scores=scores, groups=labels, clusters=prompts, seed=5)
    assert (first.ci_low, first.ci_high, first.se) == (
        second["a"].ci_low,
        second["a"].ci_high,
        second["a"].se,
    )
    # ... and a different seed gives different draws (4 prompts have only 35 distinct
    # resamples, so the bounds may agree; the spread of 2,000 draws does not).
    other = stats.win_rates_by_group(scores=scores, groups=labels, clusters=prompts, seed=6)
    assert other["a"].se != first.se


def test_a_group_has_the_interval_of_its_judgments_alone() -> None:
    scores, prompts, labels = _study(GROUPS)
    by_group = stats.win_rates_by_group(scores=scores, groups=labels, clusters=prompts, seed=2)
    mine = labels == "c"
    alone = stats.win_rate_estimate(scores=scores[mine], clusters=prompts[mine], seed=2)
    assert by_group["c"] == alone


@pytest.mark.parametrize("largest", [7, 3_000_000])  # float32 products, then float64
def test_shared_draw_totals_are_exact(largest: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(4)
    n_groups, size, resamples = 5, 3, 50
    counts = rng.integers(1, largest + 1, size=n_groups * size).astype(np.float64)
    counts[0] = largest
    sums = np.floor(rng.random(len(counts)) * (2 * counts + 1)) / 2
    cells = ClusterCells(
        group=np.repeat(np.arange(n_groups), size),
        sums=sums,
        counts=counts,
        bounds=np.arange(0, n_groups * size + 1, size),
    )
    dtypes = []
    real = _grouped._resample_counts

    def spy(n_clusters: int, n_resamples: int, seed: int, dtype: type) -> np.ndarray:
        dtypes.append(dtype)
        return real(n_clusters, n_resamples, seed, dtype)

    monkeypatch.setattr(_grouped, "_resample_counts", spy)
    ratios = grouped_ratio_resamples(
        cells=cells,
        which=np.arange(n_groups),
        n_resamples=resamples,
        seed=9,
        seed_of=lambda g: np.random.SeedSequence(g),
    )
    assert dtypes == [np.float32 if largest < 1000 else np.float64]
    weights = real(size, resamples, 9, np.float64).astype(int)
    assert weights.sum(axis=1).tolist() == [size] * resamples  # C prompts per resample
    for g in range(n_groups):
        s = [Fraction(x) for x in sums[g * size : (g + 1) * size]]
        k = [int(x) for x in counts[g * size : (g + 1) * size]]
        for r in range(resamples):
            w = weights[r].tolist()
            exact = sum(wi * si for wi, si in zip(w, s, strict=True)) / sum(
                wi * ki for wi, ki in zip(w, k, strict=True)
            )
            assert ratios[g, r] == float(exact)


def test_many_small_groups_cover_their_true_win_rates() -> None:
    # 30 models per study, each judged on 20 prompts x 4 judgments with prompt effects: every
    # model's bootstrap uses the shared draws of size 20. True win rate of model m: E[q] of
    # its Beta(a_m, 2) prompt win probabilities with 20% ties = 0.8 a / (a + 2) + 0.1.
    models, prompts_per, judgments_per, replicates = 30, 20, 4, 60
    a = np.linspace(1.0, 4.0, models)
    truth = 0.8 * a / (a + 2.0) + 0.1
    covered = 0
    for rep in range(replicates):
        rng = np.random.default_rng([61, rep])
        q = rng.beta(a[:, None], 2.0, size=(models, prompts_per))
        prompt = np.arange(models * prompts_per).reshape(models, prompts_per)
        q_j = np.repeat(q.ravel(), judgments_per)
        model = np.repeat(np.repeat(np.arange(models), prompts_per), judgments_per)
        scores = np.where(rng.random(len(q_j)) < q_j, 1.0, 0.0)
        scores[rng.random(len(q_j)) < 0.2] = 0.5
        result = stats.win_rates_by_group(
            scores=scores,
            groups=model,
            clusters=np.repeat(prompt.ravel(), judgments_per),
            n_resamples=1000,
            seed=rep,
        )
        covered += sum(result[m].ci_low <= truth[m] <= result[m].ci_high for m in range(models))
    share = covered / (models * replicates)
    # 1,800 intervals: a true 95% has binomial SD 0.5 points; percentile intervals over 20
    # prompts run about 1-2 points short (bench/stats_coverage.py: 93.1% at 20 prompts).
    assert 0.915 <= share <= 0.975, share


def test_slicing_the_groups_to_bound_memory_changes_no_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(12)
    sizes = rng.integers(2, 300, size=25)  # shared-draw sizes and per-group streams
    prompts = np.concatenate([np.repeat(np.arange(s) + 1000 * g, 2) for g, s in enumerate(sizes)])
    groups = np.concatenate([np.full(2 * s, g) for g, s in enumerate(sizes)])
    scores = rng.choice([0.0, 0.5, 1.0], size=len(groups))
    whole = stats.win_rates_by_group(scores=scores, groups=groups, clusters=prompts, seed=4)
    from annotations.stats import win_rate

    monkeypatch.setattr(win_rate, "_RATIOS_AT_ONCE", 3 * 2000)  # three groups at a time
    sliced = stats.win_rates_by_group(scores=scores, groups=groups, clusters=prompts, seed=4)
    assert sliced == whole
    assert len({w.ci_low for w in whole.values()}) > 20  # the groups' intervals do differ
