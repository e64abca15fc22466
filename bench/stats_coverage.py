"""Coverage of the 95% win-rate intervals on simulated clustered data, and bootstrap timings.

Part 1 draws many synthetic studies with a known true win rate (prompt random effects, rater
effects, ties) and reports how often each interval method (bootstrap, wilson, cluster) covers
the truth. Part 2 times the vectorised prompt-clustered bootstrap of win rates and of
Bradley-Terry ratings at 1,000,000 judgments over 100,000 prompts for 30 generators. Prints the
machine it ran on (CPU model, cores, load, Python/numpy/scipy versions). Part 3
(`--part bt-coverage`) draws studies with known Bradley-Terry ratings and prompt-clustered noise
and reports how often each Bradley-Terry interval (bootstrap, sandwich) covers the truth.
`--part group-coverage` draws studies of 40 models, each judged on its own prompts, and reports
how often the models' bootstrap intervals from one win_rates_by_group call cover the truth.

    .venv/bin/python bench/stats_coverage.py [--replicates 2000] [--resamples 2000] [--quick]
        [--part all|coverage|group-coverage|timing|bt-coverage] [--paired-with REV]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy
from scipy import integrate
from scipy import stats as sstats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

METHODS = ("bootstrap", "wilson", "cluster")


@dataclass(frozen=True)
class Scenario:
    """One data-generating process: prompts, judgments per prompt, effect sizes."""

    name: str
    n_prompts: int
    per_prompt: int
    beta: tuple[float, float]  # per-prompt win probability q ~ Beta(a, b)
    rater_shift: float  # each rater shifts logit q by +/- this, equally likely
    n_raters: int = 100
    tie_share: float = 0.2


SCENARIOS = (
    Scenario(
        "strong clustering: 60 prompts x 10 judgments, q ~ Beta(0.6, 0.4)", 60, 10, (0.6, 0.4), 0.3
    ),
    Scenario(
        "moderate clustering: 200 prompts x 5 judgments, q ~ Beta(3, 2)", 200, 5, (3.0, 2.0), 0.3
    ),
    Scenario("few prompts: 20 prompts x 20 judgments, q ~ Beta(0.6, 0.4)", 20, 20, (0.6, 0.4), 0.3),
    Scenario("no clustering: 500 prompts x 1 judgment, q ~ Beta(3, 2)", 500, 1, (3.0, 2.0), 0.3),
)


def machine() -> str:
    model = platform.processor() or "unknown"
    try:
        pairs = (ln.split(":", 1) for ln in Path("/proc/cpuinfo").read_text().splitlines())
        info = {k.strip(): v.strip() for k, v in (p for p in pairs if len(p) == 2)}
        model = (
            f"{info.get('model name', model)} (family {info.get('cpu family', '?')}, "
            f"model {info.get('model', '?')}, {info.get('cpu MHz', '?')} MHz)"
        )
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"CPU: {model}; cores: {os.cpu_count()} (usable {usable}); load average: {load}\n"
        f"Python {platform.python_version()} ({platform.platform()}); numpy {np.__version__}; "
        f"scipy {scipy.__version__}"
    )


def true_win_rate(sc: Scenario) -> float:
    """E[s] = (1 - t) E_q[(f(q, +d) + f(q, -d)) / 2] + t / 2 by quadrature, f = shifted odds."""
    a, b = sc.beta
    up, down = math.exp(sc.rater_shift), math.exp(-sc.rater_shift)

    def integrand(q: float) -> float:
        shifted = 0.5 * (q * up / (1 - q + q * up) + q * down / (1 - q + q * down))
        return shifted * sstats.beta.pdf(q, a, b)

    mean_win, _ = integrate.quad(integrand, 0, 1, limit=200)
    return (1 - sc.tie_share) * mean_win + sc.tie_share / 2


def simulate(sc: Scenario, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    q = rng.beta(*sc.beta, size=sc.n_prompts)
    shift = rng.choice([-sc.rater_shift, sc.rater_shift], size=sc.n_raters)
    prompts = np.repeat(np.arange(sc.n_prompts), sc.per_prompt)
    raters = rng.integers(0, sc.n_raters, size=len(prompts))
    odds = q[prompts] / (1 - q[prompts]) * np.exp(shift[raters])
    p_win = np.where(q[prompts] >= 1.0, 1.0, odds / (1 + odds))
    tie = rng.random(len(prompts)) < sc.tie_share
    win = rng.random(len(prompts)) < p_win
    return np.where(tie, 0.5, np.where(win, 1.0, 0.0)), prompts


def coverage(replicates: int, resamples: int) -> list[str]:
    from annotations.stats import win_rate_estimate

    lines = [
        "| scenario | true win rate | method | coverage | MC SE | mean CI width |",
        "|---|---|---|---|---|---|",
    ]
    for k, sc in enumerate(SCENARIOS):
        truth = true_win_rate(sc)
        hits = dict.fromkeys(METHODS, 0)
        widths = dict.fromkeys(METHODS, 0.0)
        started = time.perf_counter()
        for rep in range(replicates):
            rng = np.random.default_rng([77, k, rep])
            scores, prompts = simulate(sc, rng)
            for method in METHODS:
                ci = win_rate_estimate(
                    scores=scores, clusters=prompts, method=method, n_resamples=resamples, seed=rep
                )
                hits[method] += ci.ci_low <= truth <= ci.ci_high
                widths[method] += ci.ci_high - ci.ci_low
        for method in METHODS:
            cov = hits[method] / replicates
            se = math.sqrt(cov * (1 - cov) / replicates)
            lines.append(
                f"| {sc.name} | {truth:.4f} | {method} | {100 * cov:.1f}% | {100 * se:.1f} | "
                f"{widths[method] / replicates:.4f} |"
            )
        print(f"  {sc.name}: {time.perf_counter() - started:.1f} s", flush=True)
    return lines


# Many models' win rates from one win_rates_by_group call, each model judged on its own
# prompts by the scenario's process: (scenario, models, prompts per model for each model).
GROUP_SCENARIOS = (
    (SCENARIOS[2], "40 models x 20 prompts x 20 judgments (one size: shared draws)", [20] * 40),
    (
        Scenario("", 0, 5, (3.0, 2.0), 0.3),
        "40 models x 10-88 prompts x 5 judgments, q ~ Beta(3, 2) (sizes 10, 12, ..., 88)",
        [10 + 2 * (m % 40) for m in range(40)],
    ),
)


def _win_rate_module_at(revision: str) -> Any:
    """annotations/stats/win_rate.py as it was at git `revision`, loaded beside the current
    package (it imports the current bootstrap helpers it shares)."""
    import importlib.util
    import subprocess
    import tempfile

    source = subprocess.run(
        ["git", "show", f"{revision}:annotations/stats/win_rate.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location("win_rate_at_revision", handle.name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while made
    spec.loader.exec_module(module)
    os.unlink(handle.name)
    return module


def group_coverage(replicates: int, resamples: int, paired_with: str | None = None) -> list[str]:
    """Coverage of every model's 95% bootstrap interval from one win_rates_by_group call,
    pooled over models and replicates (groups of up to 256 prompts: the shared draws).
    paired_with: a git revision whose win_rates_by_group also runs on the same studies; the
    lines then say how many intervals differ and how many cover differently."""
    from annotations.stats import win_rates_by_group

    other = _win_rate_module_at(paired_with) if paired_with else None
    lines = [
        "| scenario | true win rate | intervals | covering | coverage | MC SE | mean CI width |",
        "|---|---|---|---|---|---|---|",
    ]
    for k, (base, name, sizes) in enumerate(GROUP_SCENARIOS):
        truth = true_win_rate(base)
        hits, width, counted = 0, 0.0, 0
        paired = {"covering": 0, "bounds differ": 0, "cover differently": 0, "low": 0.0}
        started = time.perf_counter()
        for rep in range(replicates):
            rng = np.random.default_rng([78, k, rep])
            scores, prompts, models = [], [], []
            offset = 0
            for m, size in enumerate(sizes):
                one = Scenario("", size, base.per_prompt, base.beta, base.rater_shift)
                s, p = simulate(one, rng)
                scores.append(s)
                prompts.append(p + offset)
                models.append(np.full(len(s), m))
                offset += size
            data = {
                "scores": np.concatenate(scores),
                "groups": np.concatenate(models),
                "clusters": np.concatenate(prompts),
                "n_resamples": resamples,
                "seed": rep,
            }
            result = win_rates_by_group(**data)
            before = other.win_rates_by_group(**data) if other else {}
            for m, w in result.items():
                covers = w.ci_low <= truth <= w.ci_high
                hits += covers
                width += w.ci_high - w.ci_low
                counted += 1
                if m in before:
                    b = before[m]
                    paired["covering"] += b.ci_low <= truth <= b.ci_high
                    paired["bounds differ"] += (b.ci_low, b.ci_high) != (w.ci_low, w.ci_high)
                    paired["cover differently"] += (b.ci_low <= truth <= b.ci_high) != covers
                    paired["low"] += abs(b.ci_low - w.ci_low)
        cov = hits / counted
        # Models of one replicate share draws, so this binomial SE is a lower bound.
        se = math.sqrt(cov * (1 - cov) / counted)
        lines.append(
            f"| {name} | {truth:.4f} | {counted:,} | {hits:,} | {100 * cov:.2f}% | "
            f"{100 * se:.2f} | {width / counted:.4f} |"
        )
        if other:
            lines.append(
                f"|   same studies at {paired_with} | | | {paired['covering']:,} | "
                f"{100 * paired['covering'] / counted:.2f}% | | bounds differ in "
                f"{paired['bounds differ']:,}, mean abs. difference of the lower bound "
                f"{paired['low'] / counted:.4f}; cover differently: "
                f"{paired['cover differently']:,} |"
            )
        print(f"  {name}: {time.perf_counter() - started:.1f} s", flush=True)
    return lines


@dataclass(frozen=True)
class BTScenario:
    """A Bradley-Terry study: random pairs of `n_models`, each prompt shifting every model's
    strength by its own N(0, prompt_sd^2) effect (so judgments on one prompt are correlated)."""

    name: str
    n_models: int
    n_prompts: int
    per_prompt: int
    prompt_sd: float
    spread: float = 0.6  # true log-strengths ~ N(0, spread^2), fixed per scenario
    tie_share: float = 0.2


BT_SCENARIOS = (
    BTScenario("8 models, 40 prompts x 10 judgments, prompt sd 1.0", 8, 40, 10, 1.0),
    BTScenario("8 models, 200 prompts x 5 judgments, prompt sd 0.5", 8, 200, 5, 0.5),
    BTScenario("12 models, 25 prompts x 40 judgments, prompt sd 0.8", 12, 25, 40, 0.8),
    BTScenario("60 models, 150 prompts x 20 judgments, prompt sd 0.7", 60, 150, 20, 0.7),
)


def bt_truth(sc: BTScenario, strength: np.ndarray) -> np.ndarray:
    """The ratings the fit estimates (Elo offsets from model 0): the Bradley-Terry solution of
    the expected win shares. The prompt effects attenuate P(i beats j) to
    E[sigmoid(t_i - t_j + e)], e ~ N(0, 2 sd^2) (Gauss-Hermite), and with every pair equally
    likely the fit's population equations are those of a fit to these expected shares."""
    from annotations.stats.bradley_terry import ELO_PER_NAT, _bt_map

    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    pa, pb = np.triu_indices(sc.n_models, 1)
    d = strength[pa] - strength[pb]
    e = math.sqrt(2.0) * sc.prompt_sd * nodes
    q = (weights * (1 / (1 + np.exp(-(d[:, None] + e[None, :]))))).sum(axis=1) / weights.sum()
    share = (1 - sc.tie_share) * q + sc.tie_share / 2
    games = 1e9  # the prior's weight vanishes next to this many expected games per pair
    theta = _bt_map(
        (share * games)[None],
        np.full((1, len(pa)), games),
        pa,
        pb,
        sc.n_models,
        np.zeros((1, sc.n_models)),
        1e-4,
    )[0]
    return ELO_PER_NAT * (theta - theta[0])


def bt_simulate(
    sc: BTScenario, strength: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, ...]:
    n = sc.n_prompts * sc.per_prompt
    prompts = np.repeat(np.arange(sc.n_prompts), sc.per_prompt)
    first = rng.integers(0, sc.n_models, n)
    second = (first + rng.integers(1, sc.n_models, n)) % sc.n_models
    effect = rng.normal(0, sc.prompt_sd, (sc.n_prompts, sc.n_models))
    logit = strength[first] - strength[second] + effect[prompts, first] - effect[prompts, second]
    won = rng.random(n) < 1 / (1 + np.exp(-logit))
    tie = rng.random(n) < sc.tie_share
    return first, second, np.where(tie, 0.5, won.astype(float)), prompts


def bt_coverage(replicates: int, resamples: int) -> list[str]:
    """Coverage of the 95% Bradley-Terry intervals of every non-baseline model, pooled."""
    from annotations.stats import bradley_terry_fit

    lines = [
        "| scenario | CI | coverage | MC SE | mean CI width (Elo) | time per fit |",
        "|---|---|---|---|---|---|",
    ]
    for k, sc in enumerate(BT_SCENARIOS):
        strength = np.random.default_rng([91, k]).normal(0, sc.spread, sc.n_models)
        truth = bt_truth(sc, strength)
        hits = {"bootstrap": 0, "sandwich": 0}
        widths = dict.fromkeys(hits, 0.0)
        seconds = dict.fromkeys(hits, 0.0)
        counted = 0
        for rep in range(replicates):
            first, second, scores, prompts = bt_simulate(
                sc, strength, np.random.default_rng([92, k, rep])
            )
            for ci in hits:
                started = time.perf_counter()
                fit = bradley_terry_fit(
                    first=first,
                    second=second,
                    scores=scores,
                    baseline=0,
                    clusters=prompts,
                    generators=np.arange(sc.n_models),
                    n_resamples=resamples,
                    seed=rep,
                    ci=ci,
                )
                seconds[ci] += time.perf_counter() - started
                for row in fit.ratings[1:]:
                    true = 1000.0 + truth[int(row.generator)]
                    hits[ci] += row.ci_low <= true <= row.ci_high
                    widths[ci] += row.ci_high - row.ci_low
            counted += sc.n_models - 1
        for ci in hits:
            cov = hits[ci] / counted
            # Intervals of one replicate are correlated, so this binomial SE is a lower bound.
            se = math.sqrt(cov * (1 - cov) / counted)
            lines.append(
                f"| {sc.name} | {ci} | {100 * cov:.1f}% | {100 * se:.1f} | "
                f"{widths[ci] / counted:.0f} | {1000 * seconds[ci] / replicates:.0f} ms |"
            )
        print(f"  {sc.name}: done", flush=True)
    return lines


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float, float]:
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), float(np.median(walls)), float(np.median(cpus))


def timings(resamples: int, repeats: int) -> list[str]:
    from annotations.stats import bradley_terry_fit, win_rates_by_group

    rng = np.random.default_rng(5)
    n, n_prompts, n_generators = 1_000_000, 100_000, 30
    # vs-baseline design: 10 judgments per prompt, each a random candidate (1..29) vs baseline 0
    prompts = np.repeat(np.arange(n_prompts), n // n_prompts)
    candidate = rng.integers(1, n_generators, size=n)
    scores = rng.choice([0.0, 0.5, 1.0], p=[0.35, 0.2, 0.45], size=n)
    baseline = np.zeros(n, dtype=np.int64)
    # all-pairs design: every judgment a random pair of the 30 generators
    first = rng.integers(0, n_generators, size=n)
    second = (first + rng.integers(1, n_generators, size=n)) % n_generators

    rows = [
        (
            "win rate, 29 candidates vs baseline, percentile bootstrap",
            lambda: win_rates_by_group(
                scores=scores, groups=candidate, clusters=prompts, n_resamples=resamples
            ),
        ),
        (
            "Bradley-Terry, vs-baseline pairs (29 pairs)",
            lambda: bradley_terry_fit(
                first=candidate,
                second=baseline,
                scores=scores,
                baseline=0,
                clusters=prompts,
                n_resamples=resamples,
            ),
        ),
        (
            "Bradley-Terry, all pairs of 30 (435 pairs)",
            lambda: bradley_terry_fit(
                first=first,
                second=second,
                scores=scores,
                baseline=0,
                clusters=prompts,
                n_resamples=resamples,
            ),
        ),
    ]
    lines = [
        f"1,000,000 judgments, 100,000 prompts, 30 generators, {resamples} resamples, "
        f"{repeats} runs each:",
        "",
        "| computation | best wall | median wall | median CPU (all threads) |",
        "|---|---|---|---|",
    ]
    for name, fn in rows:
        best, median, cpu = timed(fn, repeats)
        lines.append(f"| {name} | {best:.2f} s | {median:.2f} s | {cpu:.2f} s |")
        print(f"  {name}: best {best:.2f} s", flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3, help="timing runs per computation")
    parser.add_argument("--quick", action="store_true", help="200 replicates, 1 timing run")
    parser.add_argument(
        "--paired-with",
        metavar="REV",
        help="group-coverage: also run win_rate.py of git revision REV on the same studies",
    )
    parser.add_argument(
        "--part",
        choices=("all", "coverage", "group-coverage", "timing", "bt-coverage"),
        default="all",
    )
    args = parser.parse_args()
    if args.quick:
        args.replicates, args.repeats = 200, 1

    print(machine())
    if args.part in ("all", "coverage"):
        print(
            f"\nCoverage of 95% intervals ({args.replicates} replicates, "
            f"{args.resamples} bootstrap resamples):",
            flush=True,
        )
        print("\n".join(coverage(args.replicates, args.resamples)))
    if args.part in ("all", "group-coverage"):
        print(
            f"\nCoverage of 95% bootstrap intervals of many models at once ({args.replicates} "
            f"replicates, {args.resamples} bootstrap resamples):",
            flush=True,
        )
        print("\n".join(group_coverage(args.replicates, args.resamples, args.paired_with)))
    if args.part in ("all", "bt-coverage"):
        print(
            f"\nCoverage of 95% Bradley-Terry intervals ({args.replicates} replicates, "
            f"{args.resamples} bootstrap resamples):",
            flush=True,
        )
        print("\n".join(bt_coverage(args.replicates, args.resamples)))
    if args.part in ("all", "timing"):
        print("\nTimings:", flush=True)
        print("\n".join(timings(args.resamples, args.repeats)))
    print("\n" + machine())


if __name__ == "__main__":
    main()
