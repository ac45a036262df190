"""The behaviour and failure parts of ``escai analyze SESSION_ID``: attribution, loops, anomaly and patterns.

The failure attribution comes with the session's analysis (:func:`~escai.analysis.session_analysis.analyse_session`
runs it when the session failed or shows failure signals). Loops are detected on the fly from the session's
events. The anomaly score and the significant patterns come from the last stored behaviour analysis
(``escai analyze --patterns``); when there is none for the session, one line says how to run it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from escai.analysis.behaviour.loops import Loop, detect_loops
from escai.analysis.behaviour.sequences import abstract_session
from escai.analysis.causal.attribution import rank_agents
from escai.model.events import AgentEvent
from escai.model.records import FailureAttribution
from escai.store.pattern_store import (
    PatternFilter,
    StoredPattern,
    StoredSessionAnomaly,
    get_session_anomaly,
    list_patterns,
)
from escai.store.queries import MAX_PAGE_SIZE

SIGNIFICANCE = 0.05
"""Largest BH-corrected p-value of a pattern shown as significant."""
MAX_CANDIDATE_ROWS = 5
MAX_LOOP_ROWS = 10
MAX_PATTERN_ROWS = 10
MAX_PATTERN_PAGES = 20
"""Significant patterns read at most (pages of MAX_PAGE_SIZE): more would not be read by anyone anyway."""
PATTERNS_HINT = "no behaviour analysis stored for this session: run 'escai analyze --patterns' to score it"


@dataclass(frozen=True, slots=True)
class SessionBehaviour:
    """A session's loops (detected now) and what the last stored behaviour analysis says about it."""

    loops: list[Loop]
    anomaly: StoredSessionAnomaly | None
    """None when no stored behaviour analysis covered the session."""
    patterns: list[StoredPattern]
    """Stored significant patterns that occur in the session, most significant first."""


def find_loops(events: Sequence[AgentEvent], session_id: str) -> list[Loop]:
    """The loops of a session: :func:`detect_loops` over the steps its events abstract to."""
    return detect_loops(abstract_session(events, session_id=session_id).steps)


async def read_session_behaviour(
    engine: AsyncEngine, session_id: str, events: Sequence[AgentEvent]
) -> SessionBehaviour:
    """Detect the session's loops and read its stored anomaly score and the significant patterns it contains."""
    loops = find_loops(events, session_id)
    patterns: list[StoredPattern] = []
    async with engine.connect() as connection:
        anomaly = await get_session_anomaly(connection, session_id)
        for page in range(MAX_PATTERN_PAGES):
            found, total = await list_patterns(
                connection, PatternFilter(max_p_adjusted=SIGNIFICANCE), MAX_PAGE_SIZE, page * MAX_PAGE_SIZE
            )
            patterns.extend(pattern for pattern in found if session_id in pattern.session_ids)
            if (page + 1) * MAX_PAGE_SIZE >= total:
                break
    return SessionBehaviour(loops, anomaly, patterns)


def loop_json(loop: Loop) -> dict[str, Any]:
    """A loop as JSON-ready values (the same shape the behaviour tables store)."""
    return {**asdict(loop), "actions": list(loop.actions), "event_ids": list(loop.event_ids), "length": loop.length}


def pattern_summary(pattern: StoredPattern) -> dict[str, Any]:
    """A stored pattern's sequence, scope and outcome statistics as JSON-ready values."""
    return {
        "id": pattern.id,
        "agent_id": pattern.agent_id,
        "sequence": pattern.sequence,
        "support": pattern.support,
        "sessions_analysed": pattern.sessions_analysed,
        "success_rate": pattern.success_rate,
        "lift_toward_failure": pattern.lift_toward_failure,
        "p_value_adjusted": pattern.p_value_adjusted,
        "direction": pattern.direction,
    }


def behaviour_document(behaviour: SessionBehaviour) -> dict[str, Any]:
    """The loops, stored anomaly and patterns as one JSON-ready object (``stored`` False: no analysis covered it)."""
    anomaly = behaviour.anomaly
    return {
        "loops": [loop_json(loop) for loop in behaviour.loops],
        "stored": anomaly is not None,
        "anomaly": None
        if anomaly is None
        else {
            "score": anomaly.score,
            "is_anomalous": anomaly.is_anomalous,
            "explanation": anomaly.explanation,
            "unusual_features": anomaly.unusual_features,
            "cluster": anomaly.cluster,
            "analysed_at": anomaly.created_at.isoformat(),
        },
        "patterns": [pattern_summary(pattern) for pattern in behaviour.patterns],
    }


def format_rate(value: float | None) -> str:
    """A share as a percentage, or ``-`` when unknown."""
    return "-" if value is None else f"{value:.0%}"


def format_number(value: float | None, digits: int = 2) -> str:
    """A number with ``digits`` decimals, or ``-`` when unknown."""
    return "-" if value is None else f"{value:.{digits}f}"


def format_p(value: float | None) -> str:
    """A p-value in a readable width (scientific below 0.001), or ``-`` when untested."""
    if value is None:
        return "-"
    return f"{value:.3f}" if value >= 0.001 else f"{value:.1e}"


def _shorten_ids(event_ids: Sequence[str], session_id: str, limit: int = 4) -> str:
    # Imported event ids repeat the session id; drop it (as the explanations do) so the ids that matter fit.
    shown = []
    for event_id in event_ids[:limit]:
        rest = event_id.removeprefix(session_id)
        shown.append(rest if rest != event_id and rest[:1] in ("#", "/", ":", "-", ".") else event_id)
    more = f" +{len(event_ids) - limit}" if len(event_ids) > limit else ""
    return ", ".join(shown) + more or "-"


def render_attribution(attribution: FailureAttribution | None, target: Console) -> None:
    """Print the ranked (agent, step) failure candidates with confidence, reason and cited events."""
    if attribution is None:
        target.print("[bold]Failure attribution[/bold]: none (the session neither failed nor shows failure signals)")
        return
    if not attribution.candidates:
        target.print(f"[bold]Failure attribution[/bold] ({attribution.method}): no candidate turns to blame")
        return
    agents = ", ".join(f"{agent} {confidence:.2f}" for agent, confidence in rank_agents(attribution.candidates))
    table = Table(
        title=f"Failure attribution ({attribution.method}; label-free)",
        title_justify="left",
        caption=f"by agent: {agents}",
    )
    for column in ("rank", "agent", "step", "conf"):
        table.add_column(column, no_wrap=True)
    for column in ("reason", "cites"):
        table.add_column(column, overflow="fold")
    for rank, candidate in enumerate(attribution.candidates[:MAX_CANDIDATE_ROWS], start=1):
        table.add_row(
            str(rank),
            candidate.agent_id,
            str(candidate.step_index),
            f"{candidate.confidence:.2f}",
            candidate.reason or "-",
            _shorten_ids(candidate.evidence_event_ids, attribution.session_id),
        )
    target.print(table)


def _render_loops(loops: Sequence[Loop], session_id: str, target: Console) -> None:
    if not loops:
        target.print("[bold]Loops[/bold]: none (no action or short cycle repeats back to back)")
        return
    table = Table(title=f"Loops ({len(loops)})", title_justify="left")
    for column in ("start", "kind", "reps", "errors"):
        table.add_column(column, no_wrap=True)
    for column in ("description", "cites"):
        table.add_column(column, overflow="fold")
    for loop in loops[:MAX_LOOP_ROWS]:
        table.add_row(
            str(loop.start),
            f"{loop.kind}{' (exact)' if loop.exact else ''}",
            str(loop.repetitions),
            str(loop.errors),
            loop.description,
            _shorten_ids(loop.event_ids, session_id, limit=3),
        )
    if len(loops) > MAX_LOOP_ROWS:
        table.caption = f"first {MAX_LOOP_ROWS} of {len(loops)} (--json lists all)"
    target.print(table)


def render_behaviour(behaviour: SessionBehaviour, session_id: str, target: Console) -> None:
    """Print the session's loops, its stored anomaly score and sentence, and the significant patterns in it."""
    _render_loops(behaviour.loops, session_id, target)
    anomaly = behaviour.anomaly
    if anomaly is None:
        target.print(f"[yellow]{PATTERNS_HINT}[/yellow]")
        return
    verdict = "[red]anomalous[/red]" if anomaly.is_anomalous else "typical"
    target.print(
        f"[bold]Anomaly score[/bold] {anomaly.score:.2f} ({verdict}; behaviour analysis of "
        f"{anomaly.created_at:%Y-%m-%d %H:%M}): {anomaly.explanation}"
    )
    if not behaviour.patterns:
        target.print(f"[bold]Significant patterns[/bold]: none stored (corrected p < {SIGNIFICANCE}) occur here")
        return
    table = Table(title=f"Significant patterns in this session ({len(behaviour.patterns)})", title_justify="left")
    table.add_column("pattern", overflow="fold")
    for column in ("support", "success", "lift", "p adj", "toward"):
        table.add_column(column, no_wrap=True)
    for pattern in behaviour.patterns[:MAX_PATTERN_ROWS]:
        table.add_row(
            " → ".join(pattern.sequence),
            f"{pattern.support}/{pattern.sessions_analysed}",
            format_rate(pattern.success_rate),
            format_number(pattern.lift_toward_failure),
            format_p(pattern.p_value_adjusted),
            pattern.direction,
        )
    target.print(table)
