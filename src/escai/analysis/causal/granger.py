"""Granger causality on per-step series within sessions, pooled across sessions.

Each session becomes a few series indexed by the agent's actions (tool calls and handoffs): did the action fail,
did it repeat an earlier action, how much the agent reasoned before it, how many tokens it used, plus any series
the caller adds (for example the epistemic confidence at each step). For an ordered pair (X, Y) and a lag p, the
pooled regression

    Y[s, t] = a_s + d t + sum_k b_k Y[s, t-k] + sum_k c_k X[s, t-k] + e

is fitted over every session s and step t (never across a session boundary). The session level a_s is removed by
recursive demeaning: every value is taken relative to the mean of its series over the session's earlier steps, so
sessions that are simply worse at everything do not make X look predictive of Y, and (unlike subtracting the
whole-session mean, which biases short dynamic panels) no later value leaks into the regressors. A linear term in
the step position t in both models keeps two series that merely drift along a run (the context grows, say) from
looking related either. X Granger-causes Y when the c_k are jointly non-zero (an F test of the models with and
without the X lags). p is chosen per pair by BIC on a common sample, before the test; p-values of all pairs are
corrected together with Benjamini-Hochberg.

A known residual bias: the earlier-steps mean in the target is itself a function of the past, so with feedback
(X depends on Y's past) a weak reverse effect of order 1/t can appear in short sessions; compare strengths, not
only confidences, when both directions of a pair are reported.

What a relationship says: ``method`` is ``granger``, ``lag`` the chosen p, ``strength`` the sum of the c_k in
standard deviations of Y per standard deviation of X (signed), and ``confidence`` is 1 minus the BH-adjusted
p-value. Granger causality is predictive precedence, not intervention: a hidden state that drives X one step
before it drives Y looks the same.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import statsmodels.api as sm  # type: ignore[import-untyped, unused-ignore]
from numpy.typing import NDArray
from scipy.stats import f as f_distribution
from statsmodels.stats.multitest import multipletests  # type: ignore[import-untyped, unused-ignore]

from escai.analysis.causal.features import extract_actions
from escai.model.events import AgentEvent
from escai.model.records import CausalRelationship

GRANGER_METHOD = "granger"
"""Method name of a Granger relationship."""

TOOL_ERROR = "tool_error"
"""1 when the action's result was an error."""
REPETITION = "repetition"
"""1 when the action repeats an earlier action of the session (same tool, same arguments)."""
REASONING = "reasoning"
"""Characters of thought or plan text written before the action (log scale)."""
STEP_TOKENS = "step_tokens"
"""Tokens of the LLM turns that led to the action (log scale)."""

STEP_SERIES = (TOOL_ERROR, REPETITION, REASONING, STEP_TOKENS)

Vector = NDArray[np.float64]
Matrix = NDArray[np.float64]
Panel = Mapping[str, Mapping[str, Vector]]
"""session id -> series name -> one value per action (NaN where unknown)."""


@dataclass(frozen=True, slots=True)
class GrangerSettings:
    """Largest lag tried, false-discovery rate, and how many actions a session needs to take part."""

    max_lag: int = 3
    alpha: float = 0.05
    min_actions: int | None = None
    """Sessions with fewer actions are left out; default ``max_lag + 2``."""


@dataclass(frozen=True, slots=True)
class GrangerTest:
    """The test of one ordered pair at its chosen lag."""

    cause: str
    effect: str
    lag: int
    f_statistic: float
    p_value: float
    q_value: float
    """Benjamini-Hochberg adjusted p-value over all pairs tested."""
    strength: float
    observations: int
    sessions: int


@dataclass(frozen=True, slots=True)
class GrangerResult:
    """All tests, the significant ones as relationships, and what the panel held."""

    relationships: list[CausalRelationship]
    tests: list[GrangerTest]
    series: tuple[str, ...]
    """Series tested (those that varied within at least one session)."""
    sessions: int
    """Sessions long enough to take part."""
    seconds: float = 0.0
    skipped_series: tuple[str, ...] = field(default_factory=tuple)


def build_step_series(
    events: Sequence[AgentEvent], extra: Mapping[str, Mapping[int, float]] | None = None
) -> dict[str, Vector]:
    """One value per action for each series; ``extra`` maps a name to values by step index (carried forward)."""
    actions = extract_actions(events)
    series: dict[str, Vector] = {
        TOOL_ERROR: np.array([float(action.failed) for action in actions]),
        REPETITION: np.array([float(action.repeated) for action in actions]),
        REASONING: np.array([math.log1p(action.reasoning_chars) for action in actions]),
        STEP_TOKENS: np.array([math.log1p(action.tokens) for action in actions]),
    }
    for name, by_step in (extra or {}).items():
        known = sorted(by_step.items())
        values: list[float] = []
        for action in actions:
            step = action.event.step_index
            # The latest value stated at or before the action's step: the state the agent acted in.
            earlier = [value for index, value in known if step is not None and index <= step]
            values.append(earlier[-1] if earlier else math.nan)
        series[name] = np.array(values, dtype=np.float64)
    return series


def past_means(series: Vector) -> Vector:
    """At each step t the mean of the series' known values before t (NaN at t = 0 or when none is known)."""
    known = ~np.isnan(series)
    sums = np.concatenate([[0.0], np.cumsum(np.where(known, series, 0.0))[:-1]])
    counts = np.concatenate([[0.0], np.cumsum(known)[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        means: Vector = sums / counts
    return means


def _lagged_rows(panel: Panel, cause: str, effect: str, lag: int, first_step: int) -> tuple[Vector, Matrix, int]:
    """Effect, [1, effect lags, step position, cause lags] over steps t >= first_step (complete rows), sessions.

    Every value is taken relative to its own series' mean over the session's steps before t (recursive demeaning):
    an additive session level cancels, and unlike the whole-session mean nothing after t leaks into the regressors.
    """
    targets: list[Vector] = []
    designs: list[Matrix] = []
    for session in panel.values():
        effect_series, cause_series = session.get(effect), session.get(cause)
        if effect_series is None or cause_series is None or len(effect_series) <= first_step:
            continue
        steps = np.arange(first_step, len(effect_series))
        effect_level, cause_level = past_means(effect_series)[steps], past_means(cause_series)[steps]
        columns = [np.ones(len(steps))]
        columns += [effect_series[steps - k] - effect_level for k in range(1, lag + 1)]
        columns.append(steps.astype(np.float64))
        columns += [cause_series[steps - k] - cause_level for k in range(1, lag + 1)]
        design = np.column_stack(columns)
        target = effect_series[steps] - effect_level
        complete = ~(np.isnan(target) | np.isnan(design).any(axis=1))
        targets.append(target[complete])
        designs.append(design[complete])
    if not targets:
        return np.empty(0), np.empty((0, 2 * lag + 2)), 0
    return np.concatenate(targets), np.vstack(designs), sum(1 for rows in targets if len(rows))


def _fit_ssr(target: Vector, design: NDArray[np.float64]) -> tuple[float, Vector]:
    fitted = sm.OLS(target, design).fit()
    return float(fitted.ssr), np.asarray(fitted.params, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class _PairFit:
    lag: int
    f_statistic: float
    p_value: float
    strength: float
    observations: int
    sessions: int


def _test_pair(panel: Panel, cause: str, effect: str, settings: GrangerSettings) -> _PairFit | None:
    best: tuple[float, int] | None = None
    for lag in range(1, settings.max_lag + 1):
        target, design, _ = _lagged_rows(panel, cause, effect, lag, settings.max_lag)
        if len(target) <= 2 * lag + 4:
            continue
        ssr, _ = _fit_ssr(target, design)
        # BIC on the same rows for every lag (all start at max_lag), so the lags are compared fairly.
        bic = len(target) * math.log(max(ssr, 1e-12) / len(target)) + (2 * lag + 2) * math.log(len(target))
        if best is None or bic < best[0]:
            best = (bic, lag)
    if best is None:
        return None
    lag = best[1]
    target, design, sessions = _lagged_rows(panel, cause, effect, lag, lag)
    residual_df = len(target) - design.shape[1]
    kept = lag + 2  # the intercept, the effect's own lags and the step position stay in the restricted model
    if residual_df <= 0 or not np.any(design[:, kept:]):
        return None
    full_ssr, params = _fit_ssr(target, design)
    restricted_ssr, _ = _fit_ssr(target, design[:, :kept])
    if full_ssr <= 0:
        return None
    f_statistic = max(0.0, (restricted_ssr - full_ssr) / lag) / (full_ssr / residual_df)
    p_value = float(f_distribution.sf(f_statistic, lag, residual_df))
    spread = float(np.std(design[:, kept])) / max(float(np.std(target)), 1e-12)
    strength = float(np.sum(params[kept:])) * spread
    return _PairFit(lag, f_statistic, p_value, strength, len(target), sessions)


def _varies(panel: Panel, name: str) -> bool:
    for session in panel.values():
        values = session.get(name)
        if values is not None and np.unique(values[~np.isnan(values)]).size > 1:
            return True
    return False


def granger_panel(panel: Panel, settings: GrangerSettings | None = None) -> GrangerResult:
    """Test every ordered pair of series of the panel; relationships for the pairs significant after BH."""
    settings = settings or GrangerSettings()
    started = time.perf_counter()
    min_actions = settings.min_actions if settings.min_actions is not None else settings.max_lag + 2
    usable = {session_id: series for session_id, series in panel.items() if _length(series) >= min_actions}
    names = sorted({name for series in usable.values() for name in series})
    tested = tuple(name for name in names if _varies(usable, name))
    skipped = tuple(name for name in names if name not in tested)
    fits = [
        (cause, effect, fit)
        for cause in tested
        for effect in tested
        if cause != effect and (fit := _test_pair(usable, cause, effect, settings)) is not None
    ]
    q_values = multipletests([fit.p_value for _, _, fit in fits], method="fdr_bh")[1] if fits else []
    tests = [
        GrangerTest(
            cause,
            effect,
            fit.lag,
            fit.f_statistic,
            fit.p_value,
            float(q_value),
            fit.strength,
            fit.observations,
            fit.sessions,
        )
        for (cause, effect, fit), q_value in zip(fits, q_values, strict=True)
    ]
    tests.sort(key=lambda test: (test.q_value, test.cause, test.effect))
    relationships = [
        CausalRelationship(
            cause=test.cause,
            effect=test.effect,
            strength=round(test.strength, 4),
            confidence=round(1.0 - test.q_value, 4),
            method=GRANGER_METHOD,
            lag=test.lag,
        )
        for test in tests
        if test.q_value <= settings.alpha
    ]
    return GrangerResult(relationships, tests, tested, len(usable), time.perf_counter() - started, skipped)


def _length(series: Mapping[str, Vector]) -> int:
    return max((len(values) for values in series.values()), default=0)


def granger_from_sessions(
    sessions: Mapping[str, Sequence[AgentEvent]],
    extra: Mapping[str, Mapping[str, Mapping[int, float]]] | None = None,
    settings: GrangerSettings | None = None,
) -> GrangerResult:
    """Build each session's step series (``extra``: session id -> name -> step index -> value) and test them."""
    extra = extra or {}
    panel = {
        session_id: build_step_series(events, extra.get(session_id)) for session_id, events in sorted(sessions.items())
    }
    return granger_panel(panel, settings)
