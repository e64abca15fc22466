"""Collection with a target (issue 13), without the server: the two samplings' stopping rules
simulated in process on the design of bench/adaptive_sim.py, for many replicates.

Each replicate draws, for every candidate, a population of `--prompts` per-prompt rates (the
same model as adaptive_sim.py: ties with probability `--ties`, otherwise a win with
p_i ~ Beta(c q, c (1 - q)), c = 8, so that the mean score is the true win rate w), serves the
prompts in a random order, and has k raters judge each: one observation per comparison, the
mean of its k scores. Then:

- adaptive: each candidate stops at the first observation at which the app's rule is met
  (stats.confidence_sequences.observations_until: half-width at most the target, or the
  interval excludes 50%); it gets that many comparisons;
- uniform: every candidate is judged evenly until the last one meets its rule, so each gets as
  many comparisons as the slowest needs (or all its prompts).

It prints the judgments each uses (k x comparisons), adaptive's share of uniform's, and how
often each candidate's final anytime-valid interval (the app's confidence_sequence) covers its
true win rate. There is no refresh lag and no lease in flight here, so adaptive_sim.py's
figures (through the API) should lie a little above these; the coverage here is the
construction's own, on exactly the data model the API benchmark uses.

    python bench/collection_coverage.py [--replicates 500] [--prompts 300]
        [--win-rates 0.5,0.55,0.2,0.8,0.9] [--ties 0.1] [--overlap 3]
        [--target-half-width 0.1] [--no-stop-on-decision] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annotations.stats.confidence_sequences import (  # noqa: E402
    confidence_sequence,
    observations_until,
)
from bench.adaptive_sim import PROMPT_CONCENTRATION  # noqa: E402 - the same data model
from bench.machine import machine_line  # noqa: E402


def observations(
    rng: np.random.Generator, *, w: float, prompts: int, ties: float, k: int
) -> np.ndarray:
    """One candidate's observations in serving order: a population of prompts, shuffled."""
    q = (w - ties / 2) / (1 - ties)
    c = PROMPT_CONCENTRATION
    p = rng.permutation(rng.beta(c * q, c * (1 - q), size=prompts))
    tie = rng.random((prompts, k)) < ties
    win = rng.random((prompts, k)) < p[:, None]
    return np.where(tie, 0.5, win.astype(float)).mean(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicates", type=int, default=500)
    parser.add_argument("--prompts", type=int, default=300)
    parser.add_argument("--win-rates", default="0.5,0.55,0.2,0.8,0.9")
    parser.add_argument("--ties", type=float, default=0.1)
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--target-half-width", type=float, default=0.1)
    parser.add_argument("--no-stop-on-decision", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rates = [float(v) for v in args.win_rates.split(",")]
    target, k = args.target_half_width, args.overlap
    decide = not args.no_stop_on_decision
    rng = np.random.default_rng(args.seed)
    print(f"machine: {machine_line()}")
    print(
        f"design: {args.prompts} prompts x candidates {rates}, ties {args.ties}, k = {k}, "
        f"target half-width {target}, stop on decision {decide}; "
        f"{args.replicates} replicates, seed {args.seed}"
    )
    started = time.perf_counter()
    used = {"uniform": [], "adaptive": []}
    misses = {"uniform": np.zeros(len(rates)), "adaptive": np.zeros(len(rates))}
    for _ in range(args.replicates):
        xs = [observations(rng, w=w, prompts=args.prompts, ties=args.ties, k=k) for w in rates]
        needed = [
            observations_until(values=x, target_half_width=target, stop_on_decision=decide)
            or len(x)
            for x in xs
        ]
        stops = {"adaptive": needed, "uniform": [max(needed)] * len(rates)}
        for sampling, ns in stops.items():
            used[sampling].append(k * sum(ns))
            for i, (w, x, n) in enumerate(zip(rates, xs, ns, strict=True)):
                cs = confidence_sequence(values=x[:n], target_half_width=target)
                misses[sampling][i] += not (cs.low <= w <= cs.high)
    seconds = time.perf_counter() - started

    r = args.replicates
    uniform, adaptive = np.array(used["uniform"]), np.array(used["adaptive"])
    ratio = adaptive / uniform
    print(f"\njudgments used (of {k * args.prompts * len(rates)} for judging everything):")
    for name, values in (("uniform", uniform), ("adaptive", adaptive)):
        low, median, high = np.percentile(values, [5, 50, 95])
        print(
            f"  {name:<8} mean {values.mean():7.1f}  median {median:6.0f}"
            f"  5-95% {low:.0f}-{high:.0f}"
        )
    low, median, high = np.percentile(ratio, [5, 50, 95])
    print(
        f"  adaptive / uniform: mean of the totals {adaptive.mean() / uniform.mean():.1%}; "
        f"per replicate median {median:.1%}, 5-95% {low:.1%}-{high:.1%}, "
        f"share at most 60% {np.mean(ratio <= 0.6):.1%}"
    )
    print("\ncoverage of the final anytime-valid 95% interval:")
    header = "  candidate " + "".join(f"{'w=' + format(w, 'g'):>10}" for w in rates) + "       all"
    print(header)
    for sampling in ("uniform", "adaptive"):
        cover = 1 - misses[sampling] / r
        overall = 1 - misses[sampling].sum() / (r * len(rates))
        print(f"  {sampling:<9} " + "".join(f"{c:10.1%}" for c in cover) + f"{overall:10.1%}")
    print(f"\n{seconds:.1f} s")


if __name__ == "__main__":
    main()
