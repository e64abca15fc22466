"""Length and style: the longer output's share of wins, length-controlled win rates (AlpacaEval
2.0) and a style-controlled Bradley-Terry (Chatbot Arena), with prompt-clustered intervals.

Every model here is a logistic regression of a judgment's score s (1 if the first output won,
0.5 tie, 0 if the second won) with s as a fractional outcome: the log-likelihood
sum s log p + (1 - s) log(1 - p) is what AlpacaEval's and Chatbot Arena's fits maximise (Arena
writes a tie as one win each way, which is the same thing), and with no covariate it gives back
the plain win rate with ties counted half. Judgments of one item (a comparison: the same two
outputs) share their covariates, so the fits run on per-item totals: exact, and cheaper.
Intervals are prompt-clustered robust (sandwich) ones, V = C/(C-1) H^-1 (sum_c g_c g_c^T) H^-1,
as the Bradley-Terry default: one pass over the data and no refits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy import stats
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from annotations.stats._common import as_scores, check_length, py_value, z_value
from annotations.stats.bootstrap import dense_codes
from annotations.stats.bradley_terry import (
    _DENSE_MAX_GENERATORS,
    BASELINE_RATING,
    DEFAULT_BT_REGULARIZATION,
    ELO_PER_NAT,
    GeneratorRating,
    _Graph,
    _pcg,
)
from annotations.stats.position_bias import P_VALUE_BINOMIAL
from annotations.stats.win_rate import wilson_interval

# The style features of an output, in this order everywhere (columns of style_features_count).
STYLE_FEATURES: tuple[str, ...] = ("length", "headers", "lists", "bold")
# One length measure for the whole module: words (whitespace-separated), a tokenizer-free
# stand-in for Arena's tokens. AlpacaEval counts characters; standardising makes the scale moot.
LENGTH_UNIT = "words"

# Markdown as Chatbot Arena counts it (fastchat's count_markdown_elements), after removing
# fenced code, whose "# comment" lines are no headers: ATX headers of any level, ordered and
# unordered list items, bold spans written ** or __.
_CODE_BLOCK = re.compile(r"```[^`]*```")
_HEADER = re.compile(r"^#{1,6}\s", re.MULTILINE)
_LIST_ITEM = re.compile(r"^[ \t]*(?:\d+\.|[-*+])[ \t]", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")

# Newton on at most a few parameters per group: a bound, never reached on real data.
_MAX_NEWTON = 100
_TOLERANCE = 1e-10


def style_features_count(*, texts: Sequence[str]) -> npt.NDArray[np.int64]:
    """Style features of each text as an (n, 4) array in STYLE_FEATURES order: words, then
    markdown headers, list items and bold spans outside fenced code blocks."""
    rows = []
    for text in texts:
        # The substring tests skip a regular-expression scan for most outputs: plain prose
        # has no fence, no '#', no '**' and no '__'.
        markdown = _CODE_BLOCK.sub("", text) if "```" in text else text
        rows.append(
            (
                len(text.split()),
                len(_HEADER.findall(markdown)) if "#" in markdown else 0,
                len(_LIST_ITEM.findall(markdown)),
                len(_BOLD.findall(markdown)) if "**" in markdown or "__" in markdown else 0,
            )
        )
    # One conversion at the end: assigning rows of a numpy array one by one costs more than
    # the counting.
    return np.array(rows, dtype=np.int64).reshape(len(texts), len(STYLE_FEATURES))


# --- the longer output's share of wins -----------------------------------------------------


@dataclass(frozen=True)
class LengthBias:
    """Share of non-tie judgments (with outputs of different lengths) won by the longer one."""

    generator: Hashable | None
    n: int
    n_longer_won: int
    share_longer_won: float
    ci_low: float
    ci_high: float
    p_value: float
    p_value_method: str = P_VALUE_BINOMIAL


@dataclass(frozen=True)
class LengthBiasReport:
    """Length bias overall and for each generator (a judgment counts for both of its own)."""

    overall: LengthBias
    by_generator: tuple[LengthBias, ...]
    n_ties: int
    n_same_length: int


def _binomial_half_p(k: npt.NDArray[np.int64], n: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """scipy.stats.binomtest(k, n, 0.5).pvalue (two-sided), for many rows at once: at p = 0.5
    the distribution is symmetric, so the outcomes at most as likely as k are the two tails
    beyond min(k, n - k) and max(k, n - k)."""
    low = np.minimum(k, n - k)
    p = np.minimum(1.0, 2.0 * stats.binom.cdf(low, n, 0.5))
    return np.where(n > 0, np.where(2 * k == n, 1.0, p), math.nan)


def _length_rows(
    labels: Sequence[Hashable | None],
    k: npt.NDArray[np.int64],
    n: npt.NDArray[np.int64],
    confidence: float,
) -> list[LengthBias]:
    p_values = _binomial_half_p(k, n)
    rows = []
    for label, k_i, n_i, p_i in zip(labels, k.tolist(), n.tolist(), p_values.tolist(), strict=True):
        share = k_i / n_i if n_i else math.nan
        low, high = wilson_interval(p=share, n=n_i, confidence=confidence)
        rows.append(LengthBias(label, n_i, k_i, share, low, high, p_i))
    return rows


def length_bias_test(
    *,
    length_first: npt.ArrayLike,
    length_second: npt.ArrayLike,
    scores: npt.ArrayLike,
    first: npt.ArrayLike | None = None,
    second: npt.ArrayLike | None = None,
    confidence: float = 0.95,
) -> LengthBiasReport:
    """Share of judgments won by the longer output, overall and per generator.

    Ties (score 0.5) and judgments whose outputs are equally long are left out. Each row has a
    Wilson CI and the exact two-sided binomial test against 0.5, as position bias has
    (scipy.stats.binomtest's p-value, computed for all rows at once). first/second name each
    judgment's generators; per generator, a judgment counts for both of its generators.
    """
    s = as_scores(scores)
    la = np.asarray(length_first, dtype=np.float64).ravel()
    lb = np.asarray(length_second, dtype=np.float64).ravel()
    check_length("length_first", la, len(s))
    check_length("length_second", lb, len(s))
    tie = s == 0.5
    same = (la == lb) & ~tie
    keep = ~tie & ~same
    longer_won = ((la > lb) == (s == 1.0))[keep]
    (overall,) = _length_rows(
        [None], np.array([int(longer_won.sum())]), np.array([len(longer_won)]), confidence
    )
    by_generator: list[LengthBias] = []
    if first is not None and second is not None:
        a = np.asarray(first).ravel()
        b = np.asarray(second).ravel()
        check_length("first", a, len(s))
        check_length("second", b, len(s))
        labels, code = dense_codes(np.concatenate([a[keep], b[keep]]))
        both = np.concatenate([longer_won, longer_won])
        n = np.bincount(code, minlength=len(labels))
        k = np.bincount(code, weights=both, minlength=len(labels)).astype(np.int64)
        by_generator = _length_rows([py_value(x) for x in labels], k, n, confidence)
    return LengthBiasReport(
        overall=overall,
        by_generator=tuple(by_generator),
        n_ties=int(tie.sum()),
        n_same_length=int(same.sum()),
    )


# --- per-item totals and weighted moments ---------------------------------------------------


@dataclass(frozen=True)
class _Items:
    """Judgments summed per item: games n, score total s, and each item's first row."""

    row: npt.NDArray[np.intp]
    games: npt.NDArray[np.float64]
    wins: npt.NDArray[np.float64]

    @classmethod
    def of(cls, scores: npt.NDArray[np.float64], items: npt.ArrayLike | None) -> _Items:
        if items is None:
            n = np.ones(len(scores))
            return cls(row=np.arange(len(scores)), games=n, wins=scores.copy())
        item = np.asarray(items).ravel()
        check_length("items", item, len(scores))
        _, code = dense_codes(item)
        count = int(code.max()) + 1 if len(code) else 0
        first = np.full(count, len(code), dtype=np.intp)
        np.minimum.at(first, code, np.arange(len(code)))
        return cls(
            row=first,
            games=np.bincount(code, minlength=count).astype(np.float64),
            wins=np.bincount(code, weights=scores, minlength=count),
        )


def _weighted_std(
    values: npt.NDArray[np.float64], weights: npt.NDArray[np.float64], ddof: int = 0
) -> tuple[float, float]:
    total = float(weights.sum())
    if total - ddof <= 0:
        return math.nan, math.nan
    mean = float(np.dot(weights, values) / total)
    var = float(np.dot(weights, (values - mean) ** 2) / (total - ddof))
    return mean, math.sqrt(max(var, 0.0))


# --- length-controlled win rates ------------------------------------------------------------


@dataclass(frozen=True)
class LengthControlledWinRate:
    """A generator's win rate against the baseline predicted at zero length difference."""

    group: Hashable
    n: int
    n_clusters: int
    win_rate: float
    ci_low: float
    ci_high: float
    intercept: float  # theta, logit scale: the win rate is expit(theta)
    se: float  # of theta, prompt-clustered sandwich


@dataclass(frozen=True)
class LengthControlled:
    """Length-controlled win rates of every group and the length term they share."""

    by_group: dict[Hashable, LengthControlledWinRate]
    length_coefficient: float  # phi, logit per unit of tanh(d / length_scale)
    length_coefficient_se: float
    length_scale: float  # sd of the length difference d that standardises it
    n: int
    n_clusters: int
    confidence: float


LC_METHOD = (
    "length-controlled (AlpacaEval 2.0): logistic regression of the score (ties half) on a "
    "per-model term and tanh(length difference / its sd), one length coefficient for all "
    "models, predicted at zero length difference; prompt-clustered sandwich CI on the logit "
    "scale"
)


def length_controlled_win_rates(
    *,
    scores: npt.ArrayLike,
    length_candidate: npt.ArrayLike,
    length_baseline: npt.ArrayLike,
    groups: npt.ArrayLike,
    clusters: npt.ArrayLike | None = None,
    items: npt.ArrayLike | None = None,
    confidence: float = 0.95,
    regularization: float = DEFAULT_BT_REGULARIZATION,
) -> LengthControlled:
    """Length-controlled win rate of each group (a candidate generator) against the baseline.

    logit P(candidate wins) = theta_group + phi * tanh(d / sd(d)), d the candidate's length
    minus the baseline's and sd(d) its standard deviation over all the judgments (ddof 1, as
    AlpacaEval's pandas code takes it); the length-controlled win rate is expit(theta_group),
    the prediction at d = 0 (Dubois et al. 2024). AlpacaEval fits one model at a time on 805
    instructions; here one length coefficient phi is shared by all groups, so that it is
    learnt from how verdicts move with length within every model: with a few prompts per
    model, a slope of its own is confounded with the model's quality and its prediction at
    d = 0 an extrapolation. Scores are fractional outcomes (a tie counts half, as in the raw win
    rate): with phi = 0, expit(theta) is the raw win rate exactly. A Gaussian prior of
    precision `regularization` keeps a group that won or lost everything finite. CIs:
    expit(theta -/+ z se), se the prompt-clustered sandwich standard error (NaN with fewer than
    two prompts). items: judgments of one item (comparison) share their outputs and are summed.
    """
    s = as_scores(scores)
    lc = np.asarray(length_candidate, dtype=np.float64).ravel()
    lb = np.asarray(length_baseline, dtype=np.float64).ravel()
    g_raw = np.asarray(groups).ravel()
    for name, values in (("length_candidate", lc), ("length_baseline", lb), ("groups", g_raw)):
        check_length(name, values, len(s))
    c_raw = np.arange(len(s)) if clusters is None else np.asarray(clusters).ravel()
    check_length("clusters", c_raw, len(s))
    if not len(s):
        return LengthControlled({}, math.nan, math.nan, math.nan, 0, 0, confidence)
    it = _Items.of(s, items)
    labels, g = dense_codes(g_raw[it.row])
    _, c = dense_codes(c_raw[it.row])
    m = len(labels)
    delta = (lc - lb)[it.row]
    games, wins = it.games, it.wins
    _, scale = _weighted_std(delta, games, ddof=1)
    # No spread (or one judgment): there is no length difference to control for.
    has_spread = math.isfinite(scale) and scale > 0
    x = np.tanh(delta / scale) if has_spread else np.zeros(len(delta))

    # The negative Hessian is an arrow: a diagonal over the groups' terms, one row and column
    # for phi. Its Schur complement is a scalar, so each Newton step is closed-form.
    theta = np.zeros(m)
    phi = 0.0
    lam = regularization

    def blocks(theta: npt.NDArray[np.float64], phi: float) -> tuple[npt.NDArray[np.float64], ...]:
        p = expit(theta[g] + phi * x)
        w = games * p * (1.0 - p)
        r = wins - games * p
        diag = np.bincount(g, weights=w, minlength=m) + lam
        cross = np.bincount(g, weights=w * x, minlength=m)
        corner = np.array([float(np.dot(w, x * x)) + lam])
        return r, diag, cross, corner

    for _ in range(_MAX_NEWTON):
        r, diag, cross, corner = blocks(theta, phi)
        grad_t = np.bincount(g, weights=r, minlength=m) - lam * theta
        grad_p = float(np.dot(r, x)) - lam * phi
        schur = float(corner[0] - np.dot(cross, cross / diag))
        d_phi = (grad_p - float(np.dot(cross, grad_t / diag))) / schur
        d_theta = (grad_t - cross * d_phi) / diag
        biggest = max(float(np.abs(d_theta).max()), abs(d_phi))
        # Cap each move at 2 nats, as the Bradley-Terry fit does: far from the optimum (a
        # group that won everything) a full Newton step overshoots.
        cap = min(1.0, 2.0 / max(biggest, 1e-300))
        theta += cap * d_theta
        phi += cap * d_phi
        if biggest < _TOLERANCE:
            break

    # Sandwich: H^-1 = diag(1/D, 0) + v v^T / S with v = (D^-1 b, -1), S the Schur complement;
    # the meat is U^T U, U the per-prompt scores (prompts x (groups + 1)), kept sparse.
    r, diag, cross, corner = blocks(theta, phi)
    schur = float(corner[0] - np.dot(cross, cross / diag))
    v = np.append(cross / diag, -1.0)
    n_c = int(c.max()) + 1
    rows = np.concatenate([c, c])
    cols = np.concatenate([g, np.full(len(g), m)])
    per_prompt = sp.csr_matrix((np.concatenate([r, r * x]), (rows, cols)), shape=(n_c, m + 1))
    per_prompt.sum_duplicates()
    uv = per_prompt @ v  # U v
    mv = per_prompt.T @ uv  # M v
    inv_diag = np.append(1.0 / diag, 0.0)
    # diag(A M A) + 2 (A M v) v / S + v^2 (v^T M v) / S^2, A = diag(1/D, 0)
    ama = np.asarray(per_prompt.multiply(per_prompt).sum(axis=0)).ravel() * inv_diag**2
    variance = ama + 2.0 * inv_diag * mv * v / schur + v * v * float(np.dot(uv, uv)) / schur**2
    variance *= n_c / (n_c - 1.0) if n_c > 1 else math.nan
    # The groups' own prompts: fewer than two and its interval is undefined.
    prompts_of = np.bincount(np.unique(g * n_c + c) // n_c, minlength=m)
    z = z_value(confidence)
    n_of = np.bincount(g, weights=games, minlength=m)
    by_group: dict[Hashable, LengthControlledWinRate] = {}
    for k, label in enumerate(labels):
        se = math.sqrt(max(float(variance[k]), 0.0)) if prompts_of[k] >= 2 else math.nan
        by_group[py_value(label)] = LengthControlledWinRate(
            group=py_value(label),
            n=int(np.rint(n_of[k])),
            n_clusters=int(prompts_of[k]),
            win_rate=float(expit(theta[k])),
            ci_low=float(expit(theta[k] - z * se)),
            ci_high=float(expit(theta[k] + z * se)),
            intercept=float(theta[k]),
            se=se,
        )
    phi_variance = float(variance[m])
    return LengthControlled(
        by_group=by_group,
        length_coefficient=phi,
        length_coefficient_se=math.sqrt(max(phi_variance, 0.0)) if n_c > 1 else math.nan,
        length_scale=float(scale),
        n=int(np.rint(games.sum())),
        n_clusters=n_c,
        confidence=confidence,
    )


# --- style-controlled Bradley-Terry ---------------------------------------------------------


@dataclass(frozen=True)
class StyleCoefficient:
    """One style feature's coefficient: logit per standard deviation of its normalised
    difference (a - b) / (a + b + 1); positive means the side with more of it tends to win."""

    feature: str
    coefficient: float
    se: float
    ci_low: float
    ci_high: float
    mean: float  # of the normalised difference, before standardising
    sd: float


@dataclass(frozen=True)
class StyleControlledBradleyTerry:
    """Bradley-Terry ratings with style covariates, baseline anchored at 1000."""

    ratings: tuple[GeneratorRating, ...]
    coefficients: tuple[StyleCoefficient, ...]
    baseline: Hashable
    n_judgments: int
    n_clusters: int
    confidence: float
    regularization: float
    method: str = (
        "Bradley-Terry with style covariates (Chatbot Arena's style control): logistic "
        "regression of the score (ties half) on the two models and the standardised "
        "normalised differences (a - b) / (a + b + 1) of words, headers, list items and bold "
        "spans; prompt-clustered sandwich CIs"
    )

    def rating_of(self, generator: Hashable) -> GeneratorRating:
        for row in self.ratings:
            if row.generator == generator:
                return row
        raise KeyError(generator)


@dataclass(frozen=True)
class _StyleDesign:
    """Per-item design of the style-controlled fit."""

    a: npt.NDArray[np.intp]  # generator codes of each item's two sides
    b: npt.NDArray[np.intp]
    x: npt.NDArray[np.float64]  # items x K standardised style differences
    games: npt.NDArray[np.float64]
    wins: npt.NDArray[np.float64]
    pair_a: npt.NDArray[np.intp]  # compared pairs, a < b, and each item's pair
    pair_b: npt.NDArray[np.intp]
    pair: npt.NDArray[np.intp]
    g_count: int


def _style_hessian_blocks(
    design: _StyleDesign, w: npt.NDArray[np.float64], regularization: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Pair weights of the generator block, the generator x style block B and the style
    block C of the negative Hessian (with the prior's precision on C)."""
    d, g = design, design.g_count
    pair_w = np.bincount(d.pair, weights=w, minlength=len(d.pair_a))
    wx = w[:, None] * d.x
    cross = np.empty((g, d.x.shape[1]))
    for k in range(d.x.shape[1]):
        cross[:, k] = np.bincount(d.a, weights=wx[:, k], minlength=g) - np.bincount(
            d.b, weights=wx[:, k], minlength=g
        )
    style = d.x.T @ wx + regularization * np.eye(d.x.shape[1])
    return pair_w, cross, style


def _laplacian(
    pair_a: npt.NDArray[np.intp],
    pair_b: npt.NDArray[np.intp],
    pair_w: npt.NDArray[np.float64],
    g: int,
    regularization: float,
) -> npt.NDArray[np.float64]:
    lap = np.zeros((g, g))
    np.add.at(lap, (pair_a, pair_b), -pair_w)
    np.add.at(lap, (pair_b, pair_a), -pair_w)
    lap[np.diag_indices(g)] += np.bincount(pair_a, weights=pair_w, minlength=g)
    lap[np.diag_indices(g)] += np.bincount(pair_b, weights=pair_w, minlength=g)
    lap[np.diag_indices(g)] += regularization
    return lap


def _style_newton(
    design: _StyleDesign, regularization: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """MAP log-strengths and style coefficients by Newton steps on the Schur complement.

    The generator block A = D^T W D + reg I is a weighted graph Laplacian: it is solved
    densely for few generators and by the Bradley-Terry fit's conjugate gradients over the
    compared pairs (_pcg) for many, for the gradient and the K style columns at once; the
    K x K Schur complement C - B^T A^-1 B then gives the style step.
    """
    d, g = design, design.g_count
    k_count = d.x.shape[1]
    theta = np.zeros(g)
    beta = np.zeros(k_count)
    graph = _Graph.of(d.pair_a, d.pair_b, g) if g > _DENSE_MAX_GENERATORS else None
    for _ in range(_MAX_NEWTON):
        p = expit(theta[d.a] - theta[d.b] + d.x @ beta)
        w = d.games * p * (1.0 - p)
        r = d.wins - d.games * p
        grad_t = (
            np.bincount(d.a, weights=r, minlength=g)
            - np.bincount(d.b, weights=r, minlength=g)
            - regularization * theta
        )
        grad_b = d.x.T @ r - regularization * beta
        pair_w, cross, style = _style_hessian_blocks(d, w, regularization)
        rhs = np.column_stack([grad_t, cross])
        if graph is None:
            solved = np.linalg.solve(_laplacian(d.pair_a, d.pair_b, pair_w, g, regularization), rhs)
        else:
            diagonal = graph.degree_t @ pair_w + regularization
            solved = _pcg(graph, pair_w[:, None], diagonal[:, None], rhs, regularization, 1e-8)
        schur = style - cross.T @ solved[:, 1:]
        step_b = np.linalg.solve(schur, grad_b - cross.T @ solved[:, 0])
        step_t = solved[:, 0] - solved[:, 1:] @ step_b
        biggest = max(float(np.abs(step_t).max(initial=0.0)), float(np.abs(step_b).max()))
        cap = min(1.0, 2.0 / max(biggest, 1e-300))
        theta += cap * step_t
        beta += cap * step_b
        # As in the Bradley-Terry fit, a common shift of all strengths changes no rating.
        moving = float(np.abs(step_t - step_t.mean()).max(initial=0.0)) if g else 0.0
        if max(moving, float(np.abs(step_b).max())) < 1e-9:
            break
    return theta, beta


def _style_sandwich(
    design: _StyleDesign,
    cluster: npt.NDArray[np.intp],
    theta: npt.NDArray[np.float64],
    beta: npt.NDArray[np.float64],
    base: int,
    compared: npt.NDArray[np.bool_],
    regularization: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Prompt-clustered sandwich standard errors of t_i - t_baseline (nats) and of beta.

    The free parameters are every compared generator but the baseline, plus the style
    coefficients; a generator outside the baseline's component is fixed only by the prior
    (its variance is huge and its rating reported as NaN), which leaves the others' intact.
    """
    d, g = design, design.g_count
    k_count = d.x.shape[1]
    se_t = np.full(g, math.nan)
    se_t[base] = 0.0
    n_clusters = int(cluster.max()) + 1 if len(cluster) else 0
    free = np.flatnonzero(compared)
    free = free[free != base]
    if n_clusters < 2:
        return se_t, np.full(k_count, math.nan)
    p = expit(theta[d.a] - theta[d.b] + d.x @ beta)
    w = d.games * p * (1.0 - p)
    r = d.wins - d.games * p
    pair_w, cross, style = _style_hessian_blocks(d, w, regularization)
    lap = _laplacian(d.pair_a, d.pair_b, pair_w, g, regularization)
    m = len(free)
    hessian = np.empty((m + k_count, m + k_count))
    hessian[:m, :m] = lap[np.ix_(free, free)]
    hessian[:m, m:] = cross[free]
    hessian[m:, :m] = cross[free].T
    hessian[m:, m:] = style
    pos = np.full(g, -1, dtype=np.intp)
    pos[free] = np.arange(m)
    ca, cb = pos[d.a], pos[d.b]
    on_a, on_b = ca >= 0, cb >= 0
    n_items = len(r)
    rows = np.concatenate([cluster[on_a], cluster[on_b], np.repeat(cluster, k_count)])
    cols = np.concatenate([ca[on_a], cb[on_b], np.tile(np.arange(m, m + k_count), n_items)])
    vals = np.concatenate([r[on_a], -r[on_b], (r[:, None] * d.x).ravel()])
    scores = sp.csr_matrix((vals, (rows, cols)), shape=(n_clusters, m + k_count))
    meat = (scores.T @ scores).toarray()
    bread = np.linalg.inv(hessian)
    cov = bread @ meat @ bread * (n_clusters / (n_clusters - 1.0))
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    se_t[free] = se[:m]
    return se_t, se[m:]


def bradley_terry_style_fit(
    *,
    first: npt.ArrayLike,
    second: npt.ArrayLike,
    scores: npt.ArrayLike,
    features_first: npt.ArrayLike,
    features_second: npt.ArrayLike,
    baseline: Hashable,
    clusters: npt.ArrayLike | None = None,
    items: npt.ArrayLike | None = None,
    generators: npt.ArrayLike | None = None,
    feature_names: Sequence[str] = STYLE_FEATURES,
    confidence: float = 0.95,
    regularization: float = DEFAULT_BT_REGULARIZATION,
) -> StyleControlledBradleyTerry:
    """Style-controlled Bradley-Terry ratings on the Elo scale (Chatbot Arena's style control).

    logit P(first wins) = t_first - t_second + sum_k beta_k z_k, z_k the k-th style feature's
    normalised difference (f_first - f_second) / (f_first + f_second + 1), standardised to mean
    0 and sd 1 over the judgments (Arena's preprocessing; a feature with no spread gets z = 0).
    Scores: 1 first won, 0.5 tie, 0 second won, fitted as fractional outcomes. Ratings are
    1000 + 400 / ln(10) * (t_i - t_baseline): what the ratings would be between outputs of
    equal style. MAP with the Bradley-Terry fit's weak Gaussian prior on t and beta. CIs: rating
    (or beta) +/- z * the prompt-clustered sandwich standard error. Generators not connected
    to the baseline get NaN. items: judgments of one item (comparison) share their outputs,
    and the fit sums them.
    """
    s = as_scores(scores)
    a_raw = np.asarray(first).ravel()
    b_raw = np.asarray(second).ravel()
    fa_raw = np.asarray(features_first)
    fb_raw = np.asarray(features_second)
    check_length("first", a_raw, len(s))
    check_length("second", b_raw, len(s))
    names = tuple(feature_names)
    if fa_raw.shape != (len(s), len(names)) or fb_raw.shape != fa_raw.shape:
        raise ValueError(
            f"features need {len(s)} rows of {len(names)} columns ({', '.join(names)}) a side"
        )
    c_raw = np.arange(len(s)) if clusters is None else np.asarray(clusters).ravel()
    check_length("clusters", c_raw, len(s))
    # Everything below works on items (one row per comparison when `items` is given).
    it = _Items.of(s, items)
    a_item, b_item = a_raw[it.row], b_raw[it.row]
    fa = fa_raw[it.row].astype(np.float64)
    fb = fb_raw[it.row].astype(np.float64)
    extra = [] if generators is None else list(np.asarray(generators).ravel())
    labels = np.unique(np.concatenate([a_item, b_item, np.asarray([*extra, baseline])]))
    g_count = len(labels)
    base = int(np.searchsorted(labels, np.asarray([baseline]))[0])
    ia = np.searchsorted(labels, a_item)
    ib = np.searchsorted(labels, b_item)
    if np.any(ia == ib):
        raise ValueError("a judgment compares a generator with itself")
    _, cluster = dense_codes(c_raw[it.row])

    diff = (fa - fb) / (fa + fb + 1.0)
    x = np.zeros_like(diff)
    moments = []
    for k in range(len(names)):
        mean, sd = _weighted_std(diff[:, k], it.games)
        moments.append((mean, sd))
        if math.isfinite(sd) and sd > 1e-12:
            x[:, k] = (diff[:, k] - mean) / sd

    lo, hi = np.minimum(ia, ib), np.maximum(ia, ib)
    pair_keys, pair = dense_codes(lo * g_count + hi)
    design = _StyleDesign(
        a=ia,
        b=ib,
        x=x,
        games=it.games,
        wins=it.wins,
        pair_a=(pair_keys // g_count).astype(np.intp),
        pair_b=(pair_keys % g_count).astype(np.intp),
        pair=pair,
        g_count=g_count,
    )
    n_comparisons = np.bincount(ia, weights=it.games, minlength=g_count) + np.bincount(
        ib, weights=it.games, minlength=g_count
    )
    adjacency = sp.coo_matrix(
        (np.ones(len(pair_keys)), (design.pair_a, design.pair_b)), shape=(g_count, g_count)
    )
    _, component = connected_components(adjacency, directed=False)
    compared = n_comparisons > 0
    connected = (component == component[base]) & compared

    if len(s):
        theta, beta = _style_newton(design, regularization)
        se_t, se_b = _style_sandwich(design, cluster, theta, beta, base, compared, regularization)
    else:
        theta, beta = np.zeros(g_count), np.zeros(len(names))
        se_t, se_b = np.full(g_count, math.nan), np.full(len(names), math.nan)
    z = z_value(confidence)
    ratings = BASELINE_RATING + ELO_PER_NAT * (theta - theta[base])
    half = z * ELO_PER_NAT * se_t
    rows = []
    for i, label in enumerate(labels):
        ok = bool(connected[i])
        rows.append(
            GeneratorRating(
                generator=py_value(label),
                rating=float(ratings[i]) if ok else math.nan,
                ci_low=float(ratings[i] - half[i]) if ok else math.nan,
                ci_high=float(ratings[i] + half[i]) if ok else math.nan,
                n_comparisons=int(np.rint(n_comparisons[i])),
                connected=ok,
            )
        )
    coefficients = tuple(
        StyleCoefficient(
            feature=name,
            coefficient=float(beta[k]),
            se=float(se_b[k]),
            ci_low=float(beta[k] - z * se_b[k]),
            ci_high=float(beta[k] + z * se_b[k]),
            mean=moments[k][0],
            sd=moments[k][1],
        )
        for k, name in enumerate(names)
    )
    return StyleControlledBradleyTerry(
        ratings=tuple(rows),
        coefficients=coefficients,
        baseline=py_value(labels[base]),
        n_judgments=len(s),
        n_clusters=int(cluster.max()) + 1 if len(cluster) else 0,
        confidence=confidence,
        regularization=regularization,
    )
