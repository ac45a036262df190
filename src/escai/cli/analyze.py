"""``escai analyze SESSION_ID``: run the epistemic analysis of a stored session and show what it found.

Shows the session, its epistemic timeline (long sessions are shortened to the steps where something changed), a
sparkline of confidence over steps per agent, belief revisions, the knowledge graph's size and top entities, the
failure attribution (:mod:`escai.cli.analyze_behaviour`), the session's loops, its stored anomaly score and the
significant patterns it contains, and the explanations with the event ids each sentence cites. ``--json`` prints
the same as one JSON object. ``escai analyze --patterns`` analyses all stored sessions with outcomes instead
(:mod:`escai.cli.analyze_patterns`).
"""

from __future__ import annotations

import asyncio
import enum
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import DBAPIError

from escai.analysis.session_analysis import (
    SessionAnalysis,
    analyse_session,
    compare_sessions,
    explainer_from_settings,
    summarise_knowledge,
)
from escai.analysis.text import TextEmbedder, load_embedder
from escai.cli.analyze_behaviour import (
    SessionBehaviour,
    behaviour_document,
    read_session_behaviour,
    render_attribution,
    render_behaviour,
)
from escai.cli.analyze_patterns import show_patterns
from escai.cli.analyze_prediction import (
    SessionPrediction,
    predict_session,
    prediction_document,
    render_prediction,
)
from escai.cli.common import settings_with
from escai.exceptions import ConfigurationError, NotFoundError
from escai.model.records import BeliefRevision, EpistemicState, Explanation
from escai.settings import Settings
from escai.store.engine import create_engine

console = Console()

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
CHART_WIDTH = 60
MAX_TIMELINE_ROWS = 30
MAX_REVISION_ROWS = 20
MAX_CHART_AGENTS = 8
PLUGIN_OUTPUT_CHARS = 600
TEXT_WIDTH = 70


class MethodChoice(enum.StrEnum):
    """Which sentence-similarity method the extractor uses."""

    AUTO = "auto"
    MINILM = "minilm"
    LIGHT = "light"


def _shorten(text: str, width: int = TEXT_WIDTH) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def sparkline(values: Sequence[float], width: int = CHART_WIDTH) -> str:
    """Values in [0, 1] as block characters on an absolute scale (▁ is 0, █ is 1), averaged into ``width`` columns."""
    if not values:
        return ""
    columns = min(width, len(values))
    # Each column averages an equal share of the values, so a long session keeps its overall shape.
    bounds = [round(column * len(values) / columns) for column in range(columns + 1)]
    averages = [
        sum(values[bounds[column] : bounds[column + 1]]) / (bounds[column + 1] - bounds[column])
        for column in range(columns)
    ]
    top = len(SPARK_BLOCKS) - 1
    return "".join(SPARK_BLOCKS[min(top, max(0, round(value * top)))] for value in averages)


def select_timeline_rows(
    states: Sequence[EpistemicState], revisions: Sequence[BeliefRevision], max_rows: int = MAX_TIMELINE_ROWS
) -> list[int]:
    """Indexes of the states worth a row: all of them when few, else the first, the last, steps with revisions,
    goal status changes and the largest confidence changes, in step order."""
    if len(states) <= max_rows:
        return list(range(len(states)))
    revised = Counter((revision.agent_id, revision.step_index) for revision in revisions)
    previous: dict[str, EpistemicState] = {}
    scores: list[float] = []
    for state in states:
        before = previous.get(state.agent_id)
        score = abs(state.confidence - before.confidence) if before is not None else 1.0
        score += 2.0 * revised[(state.agent_id, state.step_index)]
        if before is not None and [goal.status for goal in before.goals] != [goal.status for goal in state.goals]:
            score += 1.5
        scores.append(score)
        previous[state.agent_id] = state
    scores[0] = scores[-1] = float("inf")
    ranked = sorted(range(len(states)), key=lambda index: (-scores[index], index))
    return sorted(ranked[:max_rows])


def _revisions_by_step(revisions: Sequence[BeliefRevision]) -> dict[tuple[str, int], list[BeliefRevision]]:
    grouped: dict[tuple[str, int], list[BeliefRevision]] = defaultdict(list)
    for revision in revisions:
        grouped[(revision.agent_id, revision.step_index)].append(revision)
    return grouped


UNCHANGED = "〃"
"""Shown in a cell whose value is the same as in the agent's previous row."""


def describe_goals(state: EpistemicState, before: EpistemicState | None) -> str:
    """Goal counts by status, then the goals that are new or changed status since ``before`` (the agent's
    previous row), so a row says what happened to goals rather than repeating them."""
    counts = Counter(goal.status.value for goal in state.goals)
    summary = ", ".join(f"{count} {status}" for status, count in counts.items())
    previous = {} if before is None else {goal.description: goal.status for goal in before.goals}
    changed = [goal for goal in state.goals if previous.get(goal.description) != goal.status]
    lines = [summary, *(f"{_shorten(goal.description, 45)} [{goal.status.value}]" for goal in changed[:2])]
    if len(changed) > 2:
        lines.append(f"and {len(changed) - 2} more")
    return "\n".join(line for line in lines if line)


def describe_top_belief(state: EpistemicState, before: EpistemicState | None) -> str:
    """The agent's most confident belief, or :data:`UNCHANGED` when it is the one shown in the previous row."""
    top = max(state.beliefs, key=lambda belief: belief.confidence, default=None)
    if top is None:
        return ""
    earlier = None if before is None else max(before.beliefs, key=lambda belief: belief.confidence, default=None)
    if earlier is not None and (earlier.statement, earlier.confidence) == (top.statement, top.confidence):
        return UNCHANGED
    return f"{_shorten(top.statement, 60)} ({top.confidence:.2f})"


def _timeline_table(analysis: SessionAnalysis) -> Table:
    states, revisions = analysis.timeline.states, analysis.timeline.revisions
    shown = select_timeline_rows(states, revisions)
    table = Table(title="Epistemic timeline", title_justify="left")
    if len(shown) < len(states):
        table.caption = (
            f"{len(shown)} of {len(states)} states: first, last, revisions, goal changes and the largest confidence "
            "changes (--json lists all)"
        )
    for column, justify in (("step", "right"), ("agent", "left"), ("conf", "right"), ("unc", "right")):
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for column in ("top belief", "goals", "revisions"):
        table.add_column(column, overflow="fold")
    grouped = _revisions_by_step(revisions)
    previous: dict[str, EpistemicState] = {}
    for index in shown:
        state = states[index]
        before = previous.get(state.agent_id)
        kinds = Counter(revision.kind.value for revision in grouped.get((state.agent_id, state.step_index), []))
        table.add_row(
            str(state.step_index),
            state.agent_id,
            f"{state.confidence:.2f}",
            f"{state.uncertainty:.2f}",
            describe_top_belief(state, before),
            describe_goals(state, before),
            ", ".join(kind if count == 1 else f"{kind} ×{count}" for kind, count in kinds.items()),
        )
        previous[state.agent_id] = state
    return table


def _confidence_chart(states: Sequence[EpistemicState], console_width: int) -> Panel:
    by_agent: dict[str, list[EpistemicState]] = defaultdict(list)
    for state in states:
        by_agent[state.agent_id].append(state)
    lines = Text()
    label_width = min(24, max((len(agent) for agent in by_agent), default=0))
    # The sparkline shares its line with the agent's name and the panel's borders; labels go on the next line.
    width = max(10, min(CHART_WIDTH, console_width - label_width - 6))
    for number, (agent_id, own) in enumerate(by_agent.items()):
        if number == MAX_CHART_AGENTS:
            lines.append(f"... and {len(by_agent) - number} more agents\n", style="dim")
            break
        values = [state.confidence for state in own]
        lines.append(f"{_shorten(agent_id, label_width):<{label_width}} ", style="bold")
        lines.append(sparkline(values, width) + "\n", style="cyan")
        lines.append(
            f"{'':<{label_width}} min {min(values):.2f}  max {max(values):.2f}  last {values[-1]:.2f}  "
            f"steps {own[0].step_index}-{own[-1].step_index} ({len(own)} states)\n",
            style="dim",
        )
    lines.rstrip()
    return Panel(lines, title="Confidence over steps (▁ 0 … █ 1)", title_align="left", expand=False)


def _revisions_table(revisions: Sequence[BeliefRevision]) -> Table:
    table = Table(title=f"Belief revisions ({len(revisions)})", title_justify="left")
    if len(revisions) > MAX_REVISION_ROWS:
        table.caption = f"first {MAX_REVISION_ROWS} of {len(revisions)} (--json lists all)"
    for column in ("step", "agent", "kind", "confidence"):
        table.add_column(column, no_wrap=True)
    for column in ("belief", "reason"):
        table.add_column(column, overflow="fold")
    for revision in revisions[:MAX_REVISION_ROWS]:
        table.add_row(
            str(revision.step_index),
            revision.agent_id,
            revision.kind.value,
            f"{revision.previous_confidence:.2f} → {revision.new_confidence:.2f}",
            _shorten(revision.statement, 50),
            _shorten(revision.reason, 50),
        )
    return table


def cited_ids(event_ids: Sequence[str], explanation: Explanation) -> str:
    """Event ids for display: those that start with their session's id (as imported ids do) lose that prefix,
    marked ``A``/``B`` in a comparison the way its text names the two sessions; other ids are shown whole."""
    prefixes = {explanation.session_id: "A" if explanation.other_session_id else ""}
    if explanation.other_session_id:
        prefixes[explanation.other_session_id] = "B"
    shown = []
    for event_id in event_ids:
        for session_id, mark in prefixes.items():
            rest = event_id.removeprefix(session_id)
            if rest != event_id and rest[:1] in ("#", "/", ":", "-", "."):
                shown.append(f"{mark}{rest}")
                break
        else:
            shown.append(event_id)
    return ", ".join(shown) or "-"


def _explanation_panel(explanation: Explanation) -> Panel:
    body = Text()
    if not explanation.sentences:
        body.append(explanation.text + "\n")
        body.append(f"  cites: {cited_ids(explanation.evidence_event_ids, explanation)}\n", style="dim")
    for sentence in explanation.sentences:
        body.append(sentence.text + "\n")
        body.append(
            f"  [{sentence.claim.value}] cites: {cited_ids(sentence.evidence_event_ids, explanation)}\n", style="dim"
        )
    body.rstrip()
    other = f" vs {explanation.other_session_id}" if explanation.other_session_id else ""
    title = f"{explanation.kind.value}{other} · confidence {explanation.confidence:.2f} · {explanation.generator}"
    return Panel(body, title=title, title_align="left")


def render_analysis(
    analysis: SessionAnalysis,
    comparison: Explanation | None,
    behaviour: SessionBehaviour,
    target: Console,
    prediction: SessionPrediction | None = None,
) -> None:
    """Print an analysis, with the session's attribution and behaviour, as Rich tables and panels on ``target``."""
    session, timeline = analysis.session, analysis.timeline
    outcome = {True: "success", False: "failure", None: "unknown"}[session.outcome_success]
    if session.outcome_score is not None:
        outcome += f" (score {session.outcome_score:g})"
    target.print(
        f"[bold]{session.id}[/bold]  framework: {session.framework or '-'}  status: {session.status.value}  "
        f"outcome: {outcome}  events: {session.event_count}\n"
        f"agents: {', '.join(session.agent_ids) or session.agent_id}\n"
        f"task: {_shorten(session.task or '-', 200)}\n"
        f"method: {timeline.method}  states: {len(timeline.states)}  revisions: {len(timeline.revisions)}  "
        f"analysed in {analysis.seconds:.2f} s"
    )
    if not timeline.states:
        target.print("[yellow]no epistemic states:[/yellow] the session has no agent text to read beliefs from")
    else:
        target.print(_timeline_table(analysis))
        target.print(_confidence_chart(timeline.states, target.width))
    if timeline.revisions:
        target.print(_revisions_table(timeline.revisions))
    knowledge = summarise_knowledge(analysis.knowledge)
    entities = ", ".join(f"{entity.label} ({entity.kind}, {entity.degree})" for entity in knowledge.top_entities)
    target.print(
        f"[bold]Knowledge graph[/bold]: {knowledge.nodes} entities, {knowledge.edges} relations"
        + (f"\ntop entities: {entities}" if entities else "")
    )
    render_attribution(analysis.attribution, target)
    render_behaviour(behaviour, session.id, target)
    if prediction is not None:
        render_prediction(prediction, target)
    for name, result in analysis.plugins.items():
        # Installed plugins' own analyses (escai.plugins entry points), shown as their JSON output.
        target.print(f"[bold]Plugin {name}[/bold]: {json.dumps(result, default=str)[:PLUGIN_OUTPUT_CHARS]}")
    panels = [_explanation_panel(explanation) for explanation in analysis.explanations]
    if comparison is not None:
        panels.append(_explanation_panel(comparison))
    if panels:
        title = "Explanations (cited event ids without their session id prefix; --json has them whole)"
        target.print(Panel(Group(*panels), title=title, title_align="left", border_style="dim"))


def analysis_document(
    analysis: SessionAnalysis,
    comparison: Explanation | None,
    behaviour: SessionBehaviour,
    prediction: SessionPrediction | None = None,
) -> dict[str, Any]:
    """The analysis as one JSON-ready object: session, method, states, revisions, knowledge, explanations, the
    failure attribution, the loops, the stored behaviour analysis (anomaly and patterns), the prediction and
    plugin results."""
    return {
        "session": analysis.session.model_dump(mode="json"),
        "method": analysis.timeline.method,
        "states": [state.model_dump(mode="json") for state in analysis.timeline.states],
        "revisions": [revision.model_dump(mode="json") for revision in analysis.timeline.revisions],
        "knowledge": summarise_knowledge(analysis.knowledge).model_dump(mode="json"),
        "explanations": [explanation.model_dump(mode="json") for explanation in analysis.explanations],
        "comparison": None if comparison is None else comparison.model_dump(mode="json"),
        "attribution": None if analysis.attribution is None else analysis.attribution.model_dump(mode="json"),
        **behaviour_document(behaviour),
        **(prediction_document(prediction) if prediction is not None else {}),
        "plugins": analysis.plugins,
        "seconds": round(analysis.seconds, 3),
    }


async def _run(
    settings: Settings, session_id: str, embedder: TextEmbedder, other_id: str | None
) -> tuple[SessionAnalysis, Explanation | None, SessionBehaviour]:
    engine = create_engine(settings.resolved_database_url)
    explainer = explainer_from_settings(settings)
    try:
        analysis = await analyse_session(engine, session_id, embedder=embedder, explainer=explainer)
        comparison = None
        if other_id is not None:
            comparison = await compare_sessions(engine, session_id, other_id, embedder=embedder, explainer=explainer)
        behaviour = await read_session_behaviour(engine, session_id, analysis.events)
    finally:
        await engine.dispose()
    return analysis, comparison, behaviour


def analyze_command(
    session_id: Annotated[
        str | None, typer.Argument(help="The session to analyse (see: escai sessions list); omit with --patterns.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    database_url: Annotated[str | None, typer.Option(help="Database URL (default: embedded SQLite).")] = None,
    method: Annotated[
        MethodChoice,
        typer.Option(help="Sentence similarity: minilm (needs escai[nlp]), light, or auto (minilm when installed)."),
    ] = MethodChoice.AUTO,
    compare: Annotated[
        str | None, typer.Option("--compare", metavar="OTHER_SESSION_ID", help="Also explain how it differs.")
    ] = None,
    patterns: Annotated[
        bool,
        typer.Option(
            "--patterns",
            help="Instead of one session: mine patterns, anomalies, clusters and causal relationships over all "
            "stored sessions with outcomes, and store them.",
        ),
    ] = False,
    agent_id: Annotated[str | None, typer.Option(help="With --patterns: only this agent's sessions.")] = None,
) -> None:
    """Analyse a session's beliefs, goals, failure and behaviour step by step, explain it, and store the results;
    or, with --patterns, find what separates failed from successful runs across the stored sessions."""
    if (session_id is None) == (not patterns):
        # Exactly one of the two modes: a session, or the cross-session analysis.
        problem = (
            "give a SESSION_ID or --patterns" if session_id is None else "give a SESSION_ID or --patterns, not both"
        )
        console.print(f"[red]error:[/red] {problem} (see: escai sessions list; escai analyze --help)")
        raise typer.Exit(2)
    if agent_id is not None and not patterns:
        console.print("[red]error:[/red] --agent-id applies to --patterns only")
        raise typer.Exit(2)
    try:
        settings = settings_with(database_url=database_url)
        if session_id is None:
            show_patterns(settings, agent_id, as_json, console)
            return
        embedder = load_embedder(method.value)
    except (ConfigurationError, ImportError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    try:
        if as_json:
            analysis, comparison, behaviour = asyncio.run(_run(settings, session_id, embedder, compare))
        else:
            with console.status(f"analysing {session_id} ..."):
                analysis, comparison, behaviour = asyncio.run(_run(settings, session_id, embedder, compare))
    except NotFoundError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    except DBAPIError as error:
        console.print(f"[red]error:[/red] database: {error.orig} (run 'escai db upgrade' for a new database)")
        raise typer.Exit(1) from None
    prediction = predict_session(settings, analysis.events)
    if as_json:
        typer.echo(json.dumps(analysis_document(analysis, comparison, behaviour, prediction)))
        return
    render_analysis(analysis, comparison, behaviour, console, prediction)
