"""``escai analyze --patterns``: behaviour patterns, anomalies, clusters and causal relationships over stored sessions.

Both analyses run over the stored sessions with a known outcome (of one agent, with ``--agent-id``) and store what
they find, replacing the earlier results of the same scope and methods: the behaviour analysis
(:func:`~escai.analysis.behaviour.stored.analyse_stored_sessions`) mines patterns that separate failed from
successful runs, scores every session's anomaly and clusters them; causal discovery (PC and Granger) relates the
sessions' features to their outcome. ``escai analyze SESSION_ID`` then shows a session's part of it.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from escai.analysis.behaviour.analyser import pattern_json, separating_patterns
from escai.analysis.behaviour.stored import NotEnoughSessionsError, StoredAnalysis, analyse_stored_sessions
from escai.analysis.causal.discovery import PC_METHOD, PC_UNDIRECTED_METHOD
from escai.analysis.causal.granger import GRANGER_METHOD
from escai.analysis.causal.runner import CausalRun, CausalRunSettings, discover
from escai.cli.analyze_behaviour import format_number, format_p, format_rate
from escai.model.records import CausalRelationship
from escai.settings import Settings
from escai.store.causal_store import load_step_confidence, save_relationships
from escai.store.engine import create_engine
from escai.store.pattern_store import load_labelled_sessions

TOP_PATTERNS = 10
TOP_ANOMALIES = 10
TOP_RELATIONSHIPS = 10
TEXT_WIDTH = 110


@dataclass(frozen=True, slots=True)
class PatternsOverview:
    """One ``--patterns`` run: the stored behaviour analysis and the causal discovery over the same sessions."""

    behaviour: StoredAnalysis
    causal: CausalRun


async def discover_over_labelled(engine: AsyncEngine, agent_id: str | None) -> CausalRun:
    """Run PC and Granger over the stored sessions with a known outcome (of ``agent_id``, when given) and store
    the relationships, replacing the earlier cross-session results of both methods."""
    settings = CausalRunSettings()
    started = time.perf_counter()
    async with engine.connect() as connection:
        labelled = await load_labelled_sessions(connection, agent_id)
        confidence = await load_step_confidence(connection, [session.session_id for session in labelled])
    sessions = {session.session_id: session.events for session in labelled}
    outcomes = {session.session_id: session.success for session in labelled}
    # PC's bootstrap and the Granger tests take seconds of CPU: keep them off the event loop.
    pc_result, granger_result = await asyncio.to_thread(discover, sessions, outcomes, settings, confidence)
    relationships = [
        *(pc_result.relationships if pc_result else []),
        *(granger_result.relationships if granger_result else []),
    ]
    async with engine.begin() as connection:
        stored = await save_relationships(
            connection, relationships, replace_methods=[PC_METHOD, PC_UNDIRECTED_METHOD, GRANGER_METHOD]
        )
    return CausalRun(len(sessions), relationships, pc_result, granger_result, stored, time.perf_counter() - started)


async def run_patterns_overview(engine: AsyncEngine, agent_id: str | None) -> PatternsOverview:
    """Analyse behaviour, then discover causal relationships, over the stored sessions with outcomes.

    Raises :class:`~escai.analysis.behaviour.stored.NotEnoughSessionsError` when too few sessions have outcomes.
    """
    behaviour = await analyse_stored_sessions(engine, agent_id=agent_id)
    causal = await discover_over_labelled(engine, agent_id)
    return PatternsOverview(behaviour, causal)


def strongest_relationships(relationships: list[CausalRelationship], top: int) -> list[CausalRelationship]:
    """The ``top`` relationships, most confident first, then the strongest."""
    return sorted(relationships, key=lambda found: (-found.confidence, -abs(found.strength)))[:top]


def patterns_document(overview: PatternsOverview) -> dict[str, Any]:
    """The run as one JSON-ready object: behaviour summary, separating patterns, anomalies, clusters, causal."""
    report = overview.behaviour.report
    anomalies = sorted(report.session_anomalies.values(), key=lambda anomaly: -anomaly.score)
    clusters = [] if report.clustering is None else list(report.clustering.clusters)
    return {
        "behaviour": overview.behaviour.summary(),
        "top_patterns": [
            {**pattern_json(pattern), "session_ids": report.pattern_session_ids(pattern)}
            for pattern in separating_patterns(report.patterns, TOP_PATTERNS)
        ],
        "anomalous_sessions": [
            {"session_id": anomaly.key, "score": anomaly.score, "explanation": anomaly.explanation}
            for anomaly in anomalies
            if anomaly.is_anomalous
        ],
        "clusters": [
            {
                "label": cluster.label,
                "size": cluster.size,
                "success_rate": cluster.success_rate,
                "description": cluster.description,
                "session_ids": list(cluster.session_ids),
            }
            for cluster in clusters
        ],
        "causal": {
            **{key: value for key, value in overview.causal.summary().items() if key != "relationships"},
            "relationships": len(overview.causal.relationships),
            "top_relationships": [
                found.model_dump(mode="json")
                for found in strongest_relationships(overview.causal.relationships, TOP_RELATIONSHIPS)
            ],
        },
    }


def _shorten(text: str, width: int = TEXT_WIDTH) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _patterns_table(document: dict[str, Any]) -> Table:
    table = Table(title="Patterns that separate failed from successful runs", title_justify="left")
    table.add_column("pattern", overflow="fold")
    for column in ("support", "success", "lift", "p adj", "toward"):
        table.add_column(column, no_wrap=True)
    for pattern in document["top_patterns"]:
        table.add_row(
            " → ".join(pattern["sequence"]),
            str(pattern["support"]),
            format_rate(pattern["success_rate"]),
            format_number(pattern["lift_toward_failure"]),
            format_p(pattern["p_value_adjusted"]),
            pattern["direction"],
        )
    return table


def _clusters_table(document: dict[str, Any]) -> Table:
    table = Table(title=f"Behaviour clusters ({len(document['clusters'])})", title_justify="left")
    for column in ("cluster", "size", "success"):
        table.add_column(column, no_wrap=True)
    table.add_column("description", overflow="fold")
    for cluster in document["clusters"]:
        table.add_row(
            str(cluster["label"]),
            str(cluster["size"]),
            format_rate(cluster["success_rate"]),
            _shorten(cluster["description"]),
        )
    return table


def _causal_table(document: dict[str, Any]) -> Table:
    causal = document["causal"]
    table = Table(
        title=f"Strongest causal relationships ({causal['relationships']} found over {causal['sessions']} sessions)",
        title_justify="left",
    )
    for column in ("cause", "effect", "method", "lag", "strength", "conf"):
        table.add_column(column, no_wrap=column not in ("cause", "effect"))
    for found in causal["top_relationships"]:
        table.add_row(
            found["cause"],
            found["effect"],
            found["method"],
            str(found["lag"]),
            f"{found['strength']:.2f}",
            f"{found['confidence']:.2f}",
        )
    return table


def render_patterns(overview: PatternsOverview, target: Console) -> None:
    """Print the separating patterns, anomalous sessions, clusters and strongest causal relationships."""
    document = patterns_document(overview)
    summary = document["behaviour"]
    scope = summary["agent_id"] or "all agents"
    target.print(
        f"[bold]Behaviour analysis[/bold] of {summary['labelled_sessions']} sessions with outcomes ({scope}; "
        f"{summary['failed_sessions']} failed): {summary['patterns']} patterns, "
        f"{summary['significant_patterns']} significant (corrected p < 0.05), {summary['stored_patterns']} stored"
    )
    if document["top_patterns"]:
        target.print(_patterns_table(document))
    else:
        target.print("no pattern could be tested against outcomes (every session succeeded, or every one failed)")
    anomalous = document["anomalous_sessions"]
    target.print(f"[bold]Anomalous sessions[/bold]: {len(anomalous)}")
    for anomaly in anomalous[:TOP_ANOMALIES]:
        target.print(f"  {anomaly['session_id']}  score {anomaly['score']:.2f}: {_shorten(anomaly['explanation'])}")
    if document["clusters"]:
        target.print(_clusters_table(document))
    else:
        target.print("[bold]Behaviour clusters[/bold]: too few sessions to cluster")
    if document["causal"]["top_relationships"]:
        target.print(_causal_table(document))
    else:
        target.print(f"[bold]Causal relationships[/bold]: none found over {document['causal']['sessions']} sessions")
    target.print("A session's part of this: escai analyze SESSION_ID")


async def _run_patterns(settings: Settings, agent_id: str | None) -> PatternsOverview:
    engine = create_engine(settings.resolved_database_url)
    try:
        return await run_patterns_overview(engine, agent_id)
    finally:
        await engine.dispose()


def show_patterns(settings: Settings, agent_id: str | None, as_json: bool, target: Console) -> None:
    """Run ``--patterns`` on the settings' database and print the result (``as_json``: one JSON object); exits 1
    with a clear message when too few sessions have outcomes."""
    try:
        if as_json:
            overview = asyncio.run(_run_patterns(settings, agent_id))
        else:
            with target.status("mining patterns and discovering causal relationships over stored sessions ..."):
                overview = asyncio.run(_run_patterns(settings, agent_id))
    except NotEnoughSessionsError as error:
        target.print(f"[red]error:[/red] {error} (import or record more runs with outcomes, e.g. escai import)")
        raise typer.Exit(1) from None
    except DBAPIError as error:
        target.print(f"[red]error:[/red] database: {error.orig} (run 'escai db upgrade' for a new database)")
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(patterns_document(overview)))
        return
    render_patterns(overview, target)
