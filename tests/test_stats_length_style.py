"""Length bias, length-controlled win rates and the style-controlled Bradley-Terry, against hand
counts, scipy, textbook formulas written out, and simulations with a known truth (no database)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from annotations import stats
from annotations.stats.length_style import _binomial_half_p

Z95 = 1.959963984540054


def wilson(p: float, n: int) -> tuple[float, float]:
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 / (1 + Z95**2 / n) * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n))
    return centre - half, centre + half


# --- style features ---------------------------------------------------------------------------

MARKDOWN = """# Title
Some **bold** text and __more__, a #hashtag and 2.5 apples.

## Section
- one
- two
  * nested
1. first
2. second

```python
# a comment, not a header
- not a list item
**not bold**
```
"""


def test_style_features_count_headers_lists_and_bold_outside_code() -> None:
    (row,) = stats.style_features_count(texts=[MARKDOWN])
    length, headers, lists, bold = row.tolist()
    # Counted by hand: "# Title" and "## Section"; five list items; two bold spans. The fenced
    # block's comment, dash line and bold span do not count, "#hashtag" is no header and
    # "2.5 apples" no list item.
    assert (headers, lists, bold) == (2, 5, 2)
    # Whitespace-separated words, code included, counted by hand line by line:
    # 2 + 10 + 2 + (5 list lines x 2) + 1 + 6 + 5 + 2 + 1.
    assert length == 39


def test_style_features_of_plain_prose_are_its_words_only() -> None:
    rows = stats.style_features_count(texts=["one two  three\nfour", "", "**a** and **b**"])
    assert rows.tolist() == [[4, 0, 0, 0], [0, 0, 0, 0], [3, 0, 0, 2]]


# --- length bias ------------------------------------------------------------------------------


def test_length_bias_matches_a_hand_count_and_the_exact_binomial_test() -> None:
    # Ten non-tie judgments of generators 1 vs 2, eight won by the longer output; two ties and
    # one pair of equally long outputs are left out.
    la = [20] * 8 + [5, 5] + [10, 10] + [7]
    lb = [10] * 8 + [9, 9] + [3, 30] + [7]
    scores = [1.0] * 8 + [1.0, 1.0] + [0.5, 0.5] + [1.0]
    report = stats.length_bias_test(
        length_first=la, length_second=lb, scores=scores, first=[1] * 13, second=[2] * 13
    )
    overall = report.overall
    assert (overall.n, overall.n_longer_won) == (10, 8)
    assert overall.share_longer_won == pytest.approx(0.8)
    # Two-sided exact test at 0.5: 2 * (C(10,0) + C(10,1) + C(10,2)) / 2^10 = 112 / 1024.
    assert overall.p_value == pytest.approx(112 / 1024)
    assert (overall.ci_low, overall.ci_high) == pytest.approx(wilson(0.8, 10))
    assert (report.n_ties, report.n_same_length) == (2, 1)
    # Per generator, a judgment counts for both of its generators.
    by = {row.generator: row for row in report.by_generator}
    assert (by[1].n, by[1].n_longer_won, by[2].n, by[2].n_longer_won) == (10, 8, 10, 8)


def test_longer_output_losing_counts_against_it() -> None:
    report = stats.length_bias_test(
        length_first=[1, 1, 9], length_second=[5, 5, 2], scores=[1, 1, 0]
    )
    # The shorter first output won twice; the longer first output lost once.
    assert (report.overall.n, report.overall.n_longer_won) == (3, 0)


def test_vectorised_binomial_p_value_is_scipys() -> None:
    for n in (1, 2, 7, 10, 51, 130):
        k = np.arange(n + 1)
        expected = [scipy_stats.binomtest(int(x), n, 0.5).pvalue for x in k]
        assert _binomial_half_p(k, np.full_like(k, n)) == pytest.approx(expected, rel=1e-12)


# --- length-controlled win rates ------------------------------------------------------------


def test_length_controlled_win_rate_of_a_saturated_design_worked_by_hand() -> None:
    # Ten judgments where the candidate was 10 words longer (7 wins, 2 ties, 1 loss: mean 0.8)
    # and ten where it was 10 words shorter (5 wins, 5 losses: mean 0.5). With only two length
    # differences, +d and -d, the model fits both cells exactly: theta + phi u = logit 0.8 and
    # theta - phi u = logit 0.5, so theta = (ln 4 + 0) / 2 = ln 2 and the rate is 2/3, against
    # a raw win rate of 13/20.
    scores = [1.0] * 7 + [0.5] * 2 + [0.0] + [1.0] * 5 + [0.0] * 5
    fit = stats.length_controlled_win_rates(
        scores=scores,
        length_candidate=[110] * 10 + [90] * 10,
        length_baseline=[100] * 20,
        groups=["m"] * 20,
    )
    row = fit.by_group["m"]
    assert row.win_rate == pytest.approx(2 / 3, abs=1e-4)
    assert row.intercept == pytest.approx(math.log(2), abs=1e-4)
    assert fit.length_scale == pytest.approx(np.std([10] * 10 + [-10] * 10, ddof=1))
    # The robust variance of a cell's logit is sum (s - p)^2 / (n p (1 - p))^2; theta is the
    # mean of two independent cells' logits; each judgment is its own cluster (C = 20), with
    # the C / (C - 1) correction.
    v_long = (7 * 0.2**2 + 2 * 0.3**2 + 0.8**2) / (10 * 0.8 * 0.2) ** 2
    v_short = (10 * 0.5**2) / (10 * 0.25) ** 2
    se = math.sqrt((v_long + v_short) / 4 * 20 / 19)
    assert row.se == pytest.approx(se, rel=1e-3)
    assert (row.ci_low, row.ci_high) == pytest.approx(
        (expit(math.log(2) - Z95 * se), expit(math.log(2) + Z95 * se)), rel=1e-3
    )


def test_without_length_differences_the_controlled_rate_is_the_raw_one() -> None:
    scores = [1.0, 1.0, 0.5, 0.0, 1.0, 0.0, 0.0]
    fit = stats.length_controlled_win_rates(
        scores=scores,
        length_candidate=[50] * 7,
        length_baseline=[50] * 7,
        groups=[1, 1, 1, 1, 2, 2, 2],
    )
    assert fit.by_group[1].win_rate == pytest.approx(2.5 / 4, abs=1e-4)
    assert fit.by_group[2].win_rate == pytest.approx(1 / 3, abs=1e-4)
    assert fit.by_group[1].n == 4


def _lc_data(seed: int, effects: list[float], phi: float, prompts: int = 300) -> dict:
    """Candidates (one per effect) against a baseline on `prompts` prompts, three judgments a
    comparison; candidate g's outputs run longer than the baseline's by about 40 + 30 g words."""
    rng = np.random.default_rng(seed)
    rows = []
    for g, _ in enumerate(effects):
        delta = rng.normal(40 + 30 * g, 50, prompts)
        for p in range(prompts):
            rows.append((g, p, g * prompts + p, delta[p]))
    group, prompt, item, delta = (np.array(c) for c in zip(*rows, strict=True))
    sd = np.std(delta, ddof=1)
    truth = np.array(effects)[group] + phi * np.tanh(delta / sd)
    group, prompt, item, delta, truth = (
        np.repeat(v, 3) for v in (group, prompt, item, delta, truth)
    )
    # Ties with probability tau = 0.4 min(p, 1 - p), wins with p - tau / 2: the expected score
    # (a tie counting half) is exactly p = expit(truth), the fractional logistic model.
    p = expit(truth)
    tau = 0.4 * np.minimum(p, 1 - p)
    u = rng.random(len(truth))
    scores = np.where(u < p - tau / 2, 1.0, np.where(u < p + tau / 2, 0.5, 0.0))
    base = rng.integers(100, 300, len(delta))
    return {
        "scores": scores,
        "length_candidate": base + delta,
        "length_baseline": base,
        "groups": group,
        "clusters": prompt,
        "items": item,
    }


def _raw_ci(scores: np.ndarray, clusters: np.ndarray) -> tuple[float, float]:
    estimate = stats.win_rate_estimate(scores=scores, clusters=clusters, method="cluster")
    return estimate.ci_low, estimate.ci_high


def test_verdicts_driven_by_length_alone_leave_the_controlled_rate_at_one_half() -> None:
    data = _lc_data(seed=1, effects=[0.0, 0.0, 0.0], phi=1.5)
    fit = stats.length_controlled_win_rates(**data)
    for g in range(3):
        mine = data["groups"] == g
        raw = float(data["scores"][mine].mean())
        low, _ = _raw_ci(data["scores"][mine], data["clusters"][mine])
        assert raw > 0.6 and low > 0.55  # the longer candidate looks clearly better
        row = fit.by_group[g]
        assert row.ci_low < 0.5 < row.ci_high  # the controlled rate does not
        assert abs(row.win_rate - 0.5) < 0.06
    assert fit.length_coefficient == pytest.approx(1.5, abs=0.3)


def test_a_true_model_effect_survives_length_control() -> None:
    effects = [0.8, 0.0, -0.6]
    data = _lc_data(seed=2, effects=effects, phi=1.0)
    fit = stats.length_controlled_win_rates(**data)
    for g, effect in enumerate(effects):
        row = fit.by_group[g]
        assert row.ci_low < expit(effect) < row.ci_high
        assert row.win_rate == pytest.approx(expit(effect), abs=0.06)
    # The raw rate of the model with no effect is clearly above one half; its controlled rate
    # (just checked) is not.
    mine = data["groups"] == 1
    low, _ = _raw_ci(data["scores"][mine], data["clusters"][mine])
    assert float(data["scores"][mine].mean()) > 0.6 and low > 0.55


def test_length_controlled_fit_matches_scipy_and_the_textbook_sandwich() -> None:
    data = _lc_data(seed=3, effects=[0.3, -0.2], phi=0.7, prompts=60)
    fit = stats.length_controlled_win_rates(**data)
    # The same objective, written out and maximised by scipy.
    s, g, c = data["scores"], data["groups"], data["clusters"]
    delta = data["length_candidate"] - data["length_baseline"]
    x = np.tanh(delta / np.std(delta, ddof=1))
    design = np.column_stack([g == 0, g == 1, x]).astype(float)

    def objective(v: np.ndarray) -> float:
        eta = design @ v
        return -float(np.sum(s * log_expit(eta) + (1 - s) * log_expit(-eta))) + 0.5e-4 * v @ v

    best = minimize(objective, np.zeros(3), method="BFGS", options={"gtol": 1e-9}).x
    assert [fit.by_group[0].intercept, fit.by_group[1].intercept] == pytest.approx(
        best[:2], abs=1e-4
    )
    assert fit.length_coefficient == pytest.approx(best[2], abs=1e-4)
    # V = C/(C-1) H^-1 (sum over prompts of g_c g_c^T) H^-1 with the full design matrix.
    p = expit(design @ best)
    hessian = design.T @ (design * (p * (1 - p))[:, None]) + 1e-4 * np.eye(3)
    per_prompt = np.zeros((c.max() + 1, 3))
    np.add.at(per_prompt, c, design * (s - p)[:, None])
    bread = np.linalg.inv(hessian)
    n_c = len(np.unique(c))
    cov = bread @ per_prompt.T @ per_prompt @ bread * n_c / (n_c - 1)
    assert [fit.by_group[0].se, fit.by_group[1].se, fit.length_coefficient_se] == pytest.approx(
        np.sqrt(np.diag(cov)), rel=1e-3
    )


def test_length_controlled_intervals_cover_the_truth_about_95_percent_of_the_time() -> None:
    covered = 0
    runs = 200
    effects = [0.5, -0.3]
    for seed in range(runs):
        data = _lc_data(seed=100 + seed, effects=effects, phi=1.0, prompts=80)
        fit = stats.length_controlled_win_rates(**data)
        covered += sum(
            fit.by_group[g].ci_low < expit(e) < fit.by_group[g].ci_high
            for g, e in enumerate(effects)
        )
    assert 0.91 <= covered / (runs * len(effects)) <= 0.985


def test_a_model_that_won_everything_stays_finite() -> None:
    fit = stats.length_controlled_win_rates(
        scores=[1.0, 1.0, 1.0],
        length_candidate=[10, 20, 30],
        length_baseline=[15, 15, 15],
        groups=[7, 7, 7],
        clusters=[1, 2, 3],
    )
    row = fit.by_group[7]
    assert 0.99 < row.win_rate <= 1.0 and math.isfinite(row.intercept)


# --- style-controlled Bradley-Terry -----------------------------------------------------------


def _bt_data(seed: int, g: int, n: int, prompts: int) -> dict:
    rng = np.random.default_rng(seed)
    first = rng.integers(0, g, n)
    second = (first + rng.integers(1, g, n)) % g
    return {
        "rng": rng,
        "first": first,
        "second": second,
        "clusters": rng.integers(0, prompts, n),
    }


def _arena_z(fa: np.ndarray, fb: np.ndarray) -> np.ndarray:
    """Chatbot Arena's style preprocessing, written out: (a - b) / (a + b + 1), then each
    column to mean 0 and sd 1 over the battles."""
    diff = (fa - fb) / (fa + fb + 1.0)
    return (diff - diff.mean(axis=0)) / diff.std(axis=0)


def test_without_style_differences_the_style_fit_is_the_plain_bradley_terry() -> None:
    data = _bt_data(seed=5, g=6, n=1500, prompts=200)
    strength = np.array([0.0, 0.4, -0.3, 0.8, 0.1, -0.6])
    won = data["rng"].random(1500) < expit(strength[data["first"]] - strength[data["second"]])
    scores = np.where(data["rng"].random(1500) < 0.2, 0.5, won.astype(float))
    same = np.full((1500, 4), 12.0)
    common = {"first": data["first"], "second": data["second"], "scores": scores, "baseline": 0}
    styled = stats.bradley_terry_style_fit(
        **common, features_first=same, features_second=same, clusters=data["clusters"]
    )
    plain = stats.bradley_terry_fit(**common, clusters=data["clusters"], ci="sandwich")
    for g in range(6):
        a, b = styled.rating_of(g), plain.rating_of(g)
        assert a.rating == pytest.approx(b.rating, abs=1e-6)
        assert (a.ci_low, a.ci_high) == pytest.approx((b.ci_low, b.ci_high), abs=1e-4)
    assert [c.coefficient for c in styled.coefficients] == pytest.approx([0.0] * 4, abs=1e-12)


@pytest.mark.parametrize("g", [6, 45])  # the dense solve and the conjugate-gradient one
def test_style_fit_matches_scipy(g: int) -> None:
    n = 40 * g + 1000
    data = _bt_data(seed=g, g=g, n=n, prompts=300)
    rng = data["rng"]
    fa = rng.poisson([200, 2, 5, 1], (n, 4)).astype(float)
    fb = rng.poisson([150, 1, 4, 1], (n, 4)).astype(float)
    z = _arena_z(fa, fb)
    strength = rng.normal(0, 0.5, g)
    eta = strength[data["first"]] - strength[data["second"]] + z @ [0.6, 0.2, 0.0, -0.3]
    scores = np.where(rng.random(n) < 0.15, 0.5, (rng.random(n) < expit(eta)).astype(float))
    fit = stats.bradley_terry_style_fit(
        first=data["first"],
        second=data["second"],
        scores=scores,
        features_first=fa,
        features_second=fb,
        baseline=0,
        clusters=data["clusters"],
    )
    a, b = data["first"], data["second"]

    def objective(v: np.ndarray) -> float:
        e = v[a] - v[b] + z @ v[g:]
        return -float(np.sum(scores * log_expit(e) + (1 - scores) * log_expit(-e))) + 0.5e-4 * (
            v @ v
        )

    best = minimize(objective, np.zeros(g + 4), method="L-BFGS-B", options={"gtol": 1e-10}).x
    ratings = [fit.rating_of(i).rating for i in range(g)]
    expected = 1000 + stats.ELO_PER_NAT * (best[:g] - best[0])
    assert ratings == pytest.approx(expected, abs=0.05)
    assert [c.coefficient for c in fit.coefficients] == pytest.approx(best[g:], abs=1e-3)


def test_style_control_removes_a_length_advantage_and_recovers_the_truth() -> None:
    # Model 1 writes far longer answers; raters like length (coefficient 1 per sd). The plain
    # Bradley-Terry credits model 1 with the length; the style-controlled fit does not.
    g, n = 4, 12_000
    data = _bt_data(seed=11, g=g, n=n, prompts=2000)
    rng = data["rng"]
    words = np.array([100.0, 400.0, 120.0, 90.0])
    fa = np.column_stack(
        [rng.poisson(words[data["first"]]), rng.poisson(1, n), rng.poisson(3, n), rng.poisson(1, n)]
    ).astype(float)
    fb = np.column_stack(
        [
            rng.poisson(words[data["second"]]),
            rng.poisson(1, n),
            rng.poisson(3, n),
            rng.poisson(1, n),
        ]
    ).astype(float)
    z = _arena_z(fa, fb)
    strength = np.array([0.0, 0.0, 0.5, -0.4])
    eta = strength[data["first"]] - strength[data["second"]] + 1.0 * z[:, 0]
    scores = (rng.random(n) < expit(eta)).astype(float)
    common = {"first": data["first"], "second": data["second"], "scores": scores, "baseline": 0}
    fit = stats.bradley_terry_style_fit(
        **common, features_first=fa, features_second=fb, clusters=data["clusters"]
    )
    plain = stats.bradley_terry_fit(**common, clusters=data["clusters"], ci="sandwich")
    truth = 1000 + stats.ELO_PER_NAT * strength
    assert plain.rating_of(1).ci_low > 1050  # length passes for quality
    for i in range(g):
        row = fit.rating_of(i)
        assert row.ci_low <= truth[i] <= row.ci_high
        assert row.rating == pytest.approx(truth[i], abs=25)
    length = fit.coefficients[0]
    assert length.feature == "length"
    assert length.ci_low < 1.0 < length.ci_high
    assert all(c.ci_low < 0 < c.ci_high for c in fit.coefficients[1:])


def test_judgments_summed_per_item_give_the_same_fit() -> None:
    # Three judgments on each of a few comparisons: per-item totals are exact.
    first = np.repeat([0, 0, 1, 2, 1], 3)
    second = np.repeat([1, 2, 2, 0, 0], 3)
    scores = np.array([1, 0.5, 0, 1, 1, 0, 0, 0, 1, 1, 0.5, 1, 0, 1, 1], dtype=float)
    fa = np.repeat([[10, 0, 1, 0], [30, 1, 0, 0], [12, 0, 2, 1], [8, 2, 0, 0], [50, 0, 0, 3]], 3, 0)
    fb = np.repeat([[20, 1, 0, 0], [10, 0, 0, 1], [12, 1, 1, 0], [9, 0, 3, 0], [5, 0, 1, 0]], 3, 0)
    clusters = np.repeat([1, 1, 2, 3, 3], 3)
    common = {
        "first": first,
        "second": second,
        "scores": scores,
        "features_first": fa,
        "features_second": fb,
        "baseline": 0,
        "clusters": clusters,
    }
    each = stats.bradley_terry_style_fit(**common)
    summed = stats.bradley_terry_style_fit(**common, items=np.repeat([5, 6, 7, 8, 9], 3))
    for i in range(3):
        assert summed.rating_of(i).rating == pytest.approx(each.rating_of(i).rating, abs=1e-6)
        assert summed.rating_of(i).ci_high == pytest.approx(each.rating_of(i).ci_high, abs=1e-4)
