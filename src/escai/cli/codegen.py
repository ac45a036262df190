"""``escai codegen``: generate ESCAI plugins from a PRD, validate packages, review patterns, learn, show statistics.

``generate PRD.md -o DIR`` parses the PRD, builds the spec (consulting the learned mixin-compatibility model when
the database has outcomes), generates and validates one package per node in parallel, stores the per-phase
metrics and template-cache statistics, and records the run as an ESCAI session (agent ``escai-codegen``).
``validate DIR`` scores one package (or every package directly under DIR). ``feedback`` records a review of an
AST pattern's match; ``learn`` runs mixin-combination experiments and trains the compatibility model; ``stats``
shows what the database knows. Every command takes ``--database-url`` (default: the embedded SQLite).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from escai.cli.common import settings_with
from escai.codegen.errors import CodegenError, SpecValidationError
from escai.codegen.metrics import CodegenStats, read_codegen_stats, record_report
from escai.codegen.pipeline import AGENT_ID, GenerationReport, default_template_cache, generate
from escai.codegen.prd import parse_prd
from escai.codegen.spec import CompatibilityAdvisor, GenerationSpec, build_spec
from escai.codegen.validator import DEFAULT_TIMEOUT_SECONDS, QualityReport, validate_package
from escai.exceptions import ConfigurationError
from escai.settings import Settings
from escai.store.engine import create_engine
from escai.store.migrate import upgrade_async
from escai.store.seed_tables import FEEDBACK_TYPES

app = typer.Typer(
    help="Generate ESCAI plugins (ONEX nodes) from a PRD, validate them, and learn.", no_args_is_help=True
)
console = Console()
error_console = Console(stderr=True)

_Value = TypeVar("_Value")
DatabaseOption = Annotated[str | None, typer.Option(help="Database URL (default: embedded SQLite).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    error_console.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    return typer.Exit(code)


def _settings(database_url: str | None) -> Settings:
    try:
        return settings_with(database_url=database_url)
    except ConfigurationError as error:
        raise _fail(str(error)) from None


def _with_connection(settings: Settings, work: Callable[[AsyncConnection], Awaitable[_Value]]) -> _Value:
    """Migrate the database if needed, then run ``work`` in one transaction (committed when it returns)."""

    async def run() -> _Value:
        await upgrade_async(settings.resolved_database_url)
        engine = create_engine(settings.resolved_database_url)
        try:
            async with engine.begin() as connection:
                return await work(connection)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _advisor(settings: Settings) -> CompatibilityAdvisor | None:
    """The learned compatibility advisor when the database has mixin outcomes (None before ``learn``)."""
    from escai.codegen.learner import CompatibilityAdvisor as LearnedAdvisor
    from escai.codegen.learner import load_outcomes, train

    outcomes = _with_connection(settings, load_outcomes)
    return LearnedAdvisor(train(outcomes)) if outcomes else None


def _build(prd: Path, settings: Settings, *, use_advisor: bool) -> GenerationSpec:
    try:
        text = prd.read_text(encoding="utf-8")
    except OSError as error:
        raise _fail(f"cannot read {prd}: {error}") from None
    try:
        parsed = parse_prd(text)
        return build_spec(parsed, compatibility=_advisor(settings) if use_advisor else None)
    except SpecValidationError as error:
        raise _fail(
            f"{prd} does not give a valid spec:\n" + "\n".join(f"  - {item}" for item in error.problems)
        ) from None
    except CodegenError as error:
        raise _fail(f"{prd}: {error}") from None


def _monitor(settings: Settings) -> bool:
    """Record the run as an ESCAI session unless the process already configured ESCAI; True if we started it."""
    from escai.sdk.api import init
    from escai.sdk.runtime import get_recorder

    if get_recorder() is not None:
        return False
    return (
        init(database_url=settings.resolved_database_url, agent_id=AGENT_ID, agent_name="ESCAI code generator")
        is not None
    )


@app.command("generate")
def generate_command(
    prd: Annotated[Path, typer.Argument(help="The PRD (Markdown) to generate from.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory to write one package per node into.")],
    workers: Annotated[int, typer.Option(min=1, help="Nodes generated and validated at the same time.")] = 2,
    validate: Annotated[bool, typer.Option("--validate/--no-validate", help="Validate each package.")] = True,
    overwrite: Annotated[bool, typer.Option(help="Replace packages generated before in DIR.")] = False,
    monitor: Annotated[bool, typer.Option("--monitor/--no-monitor", help="Record the run as an ESCAI session.")] = True,
    advisor: Annotated[
        bool, typer.Option("--advisor/--no-advisor", help="Consult the learned mixin-compatibility model.")
    ] = True,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds each validation check may take.")] = (
        DEFAULT_TIMEOUT_SECONDS
    ),
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Generate one plugin package per node of PRD under DIR, validate them, and store the run's metrics."""
    settings = _settings(database_url)
    spec = _build(prd, settings, use_advisor=advisor)
    started_monitor = monitor and _monitor(settings)
    cache = default_template_cache()
    try:
        report = generate(
            spec, out_dir, workers=workers, validate=validate, cache=cache, overwrite=overwrite, timeout_seconds=timeout
        )
    finally:
        if started_monitor:
            from escai.sdk.api import shutdown

            shutdown()  # delivers the session's events before the metrics are written to the same database

    async def store(connection: AsyncConnection) -> int:
        return await record_report(connection, report, cache)

    _with_connection(settings, store)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), default=str))
    else:
        _print_generation(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_generation(report: GenerationReport) -> None:
    for note in [*report.ambiguities, *report.warnings]:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    table = Table(title=f"{report.title}: {len(report.nodes)} node(s) with {report.workers} worker(s)")
    for column in ("node", "kind", "package", "score", "failed checks", "render ms", "validate ms", "total ms"):
        table.add_column(column, justify="right" if column.endswith(("ms", "score")) else "left")
    for node in report.nodes:
        failed = node.error or (", ".join(node.quality.failed_checks) if node.quality else "not validated")
        table.add_row(
            node.name,
            node.kind,
            node.package,
            f"{node.quality.score:.2f}" if node.quality else "-",
            failed or "[green]none[/green]",
            f"{node.timings_ms.get('render', 0):.0f}",
            f"{node.timings_ms.get('validate', 0):.0f}",
            f"{node.timings_ms.get('total', 0):.0f}",
        )
    console.print(table)
    console.print(f"wrote {report.out_dir}  in {report.wall_ms / 1000:.1f} s   run {report.run_id}", highlight=False)
    if report.session_id:
        console.print(f"ESCAI session: {report.session_id}   (escai analyze {report.session_id})", highlight=False)
    for node in report.nodes:
        if node.quality is None:
            continue
        for check in node.quality.checks:
            if not check.passed:
                console.print(f"[red]{node.name} {check.name}:[/red]", highlight=False)
                for message in check.messages[:10]:
                    console.print(f"  {message}", highlight=False, markup=False)


def _packages_under(path: Path) -> list[Path]:
    if (path / "pyproject.toml").is_file() or (path / "src").is_dir():
        return [path]
    return sorted(child for child in path.iterdir() if child.is_dir() and (child / "pyproject.toml").is_file())


@app.command("validate")
def validate_command(
    path: Annotated[Path, typer.Argument(help="A package directory, or a directory of packages.")],
    timeout: Annotated[float, typer.Option(min=1, help="Seconds each check may take.")] = DEFAULT_TIMEOUT_SECONDS,
    as_json: JsonOption = False,
) -> None:
    """Parse, lint, type-check, import and test a package (or each package under PATH), and score it."""
    if not path.is_dir():
        raise _fail(f"{path} is not a directory")
    packages = _packages_under(path)
    if not packages:
        raise _fail(f"no package (a directory with pyproject.toml or src/) at or directly under {path}")
    reports = [validate_package(package, timeout_seconds=timeout) for package in packages]
    if as_json:
        typer.echo(json.dumps([report.to_dict() for report in reports]))
    else:
        _print_quality(reports)
    if not all(report.passed for report in reports):
        raise typer.Exit(1)


def _print_quality(reports: list[QualityReport]) -> None:
    table = Table(title="Quality")
    table.add_column("package")
    for check in reports[0].checks:
        table.add_column(check.name, justify="center")
    table.add_column("score", justify="right")
    for report in reports:
        marks = [
            f"[green]pass[/green] {check.duration_ms:.0f}ms"
            if check.passed
            else f"[red]FAIL[/red] {check.duration_ms:.0f}ms"
            for check in report.checks
        ]
        table.add_row(report.path.name, *marks, f"{report.score:.2f}")
    console.print(table)
    for report in reports:
        for check in report.checks:
            if not check.passed:
                console.print(f"[red]{report.path.name} {check.name}:[/red]", highlight=False)
                for message in check.messages[:15]:
                    console.print(f"  {message}", highlight=False, markup=False)


@app.command("feedback")
def feedback_command(
    pattern_id: Annotated[str, typer.Argument(help="The pattern (rule id) the review is about.")],
    feedback_type: Annotated[str, typer.Argument(help=f"One of: {', '.join(FEEDBACK_TYPES)}.")],
    file_path: Annotated[str | None, typer.Option("--file", help="File of the reviewed match.")] = None,
    line: Annotated[int | None, typer.Option(min=1, help="Line of the reviewed match.")] = None,
    snippet: Annotated[str | None, typer.Option(help="Source of the reviewed match.")] = None,
    confidence: Annotated[
        float | None, typer.Option(min=0, max=1, help="The matcher's base confidence for the match, if known.")
    ] = None,
    note: Annotated[str | None, typer.Option(help="Why.")] = None,
    user: Annotated[str | None, typer.Option(help="Who reviewed.")] = None,
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a review of a pattern match (true_positive, false_positive, false_negative or user_override)."""
    from escai.codegen.patterns import RULE_IDS, record
    from escai.store.seed_repository import InvalidCodegenRecordError

    if feedback_type not in FEEDBACK_TYPES:
        raise _fail(f"unknown feedback type {feedback_type!r}; expected one of: {', '.join(FEEDBACK_TYPES)}")
    if pattern_id not in RULE_IDS:
        raise _fail(f"unknown pattern {pattern_id!r}; known patterns: {', '.join(sorted(RULE_IDS))}")
    settings = _settings(database_url)

    async def store(connection: AsyncConnection) -> int:
        return await record(
            connection,
            pattern_id,
            feedback_type,  # type: ignore[arg-type]  # checked against FEEDBACK_TYPES above
            confidence=confidence,
            note=note,
            user=user,
            file_path=file_path,
            line_number=line,
            snippet=snippet,
        )

    try:
        row_id = _with_connection(settings, store)
    except InvalidCodegenRecordError as error:
        raise _fail(str(error)) from None
    if as_json:
        typer.echo(json.dumps({"id": row_id, "pattern_id": pattern_id, "feedback_type": feedback_type}))
    else:
        console.print(f"recorded {feedback_type} for {pattern_id} (feedback #{row_id})", highlight=False)


@app.command("learn")
def learn_command(
    sizes: Annotated[
        str, typer.Option(help="Combination sizes to try, comma-separated (2: pairs, 3: triples).")
    ] = "2,3",
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Generate and test mixin combinations per node kind, record the outcomes, and train the compatibility model."""
    from escai.codegen.learner import learn

    try:
        chosen = sorted({int(size) for size in sizes.split(",") if size.strip()})
    except ValueError:
        raise _fail(f"--sizes must be integers separated by commas, got {sizes!r}") from None
    if not chosen or min(chosen) < 2:
        raise _fail("--sizes must list combination sizes of at least 2")
    settings = _settings(database_url)

    async def run(connection: AsyncConnection) -> Any:
        return await learn(connection, sizes=chosen)

    model = _with_connection(settings, run)
    summary = {
        "training_size": model.training_size,
        "observed_pairs": len(model.observed),
        "prior_success_rate": round(model.prior, 4),
        "cross_validated_accuracy": round(model.reliability, 4),
        "sizes": chosen,
    }
    if as_json:
        typer.echo(json.dumps(summary))
        return
    table = Table(title="Mixin-compatibility model")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in summary.items():
        table.add_row(name.replace("_", " "), str(value))
    console.print(table)


@app.command("stats")
def stats_command(database_url: DatabaseOption = None, as_json: JsonOption = False) -> None:
    """Show template-cache efficiency, generation performance, mixin compatibility and pattern precision."""
    settings = _settings(database_url)
    stats = _with_connection(settings, read_codegen_stats)
    if as_json:
        typer.echo(json.dumps(stats.to_dict(), default=str))
        return
    _print_stats(stats)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _print_stats(stats: CodegenStats) -> None:
    cache = Table(title="Template cache")
    for column in ("template", "lookups", "hit rate", "evictions", "loads", "avg load ms"):
        cache.add_column(column, justify="left" if column == "template" else "right")
    for row in stats.template_cache:
        average = "-" if row.avg_load_ms is None else f"{row.avg_load_ms:.2f}"
        cache.add_row(
            row.template_name, str(row.lookups), _ratio(row.hit_rate), str(row.evictions), str(row.loads), average
        )
    performance = Table(title="Generation performance")
    for column in ("kind", "phase", "samples", "success rate", "avg ms", "max ms"):
        performance.add_column(column, justify="left" if column in ("kind", "phase") else "right")
    for phase in stats.performance:
        performance.add_row(
            phase.node_kind,
            phase.phase,
            str(phase.samples),
            f"{phase.success_rate:.2f}",
            f"{phase.avg_duration_ms:.0f}",
            f"{phase.max_duration_ms:.0f}",
        )
    mixins = Table(title="Mixin compatibility (worst first)")
    for column in ("kind", "pair", "successes", "failures", "score", "confidence", "last error"):
        mixins.add_column(
            column, justify="right" if column in ("successes", "failures", "score", "confidence") else "left"
        )
    for pair in sorted(stats.mixin_compatibility, key=lambda item: item.compatibility_score)[:20]:
        mixins.add_row(
            pair.node_kind,
            f"{pair.mixin_a} + {pair.mixin_b}",
            str(pair.success_count),
            str(pair.failure_count),
            f"{pair.compatibility_score:.2f}",
            f"{pair.confidence:.2f}",
            (pair.last_error or "")[:60],
        )
    patterns = Table(title="Pattern feedback")
    for column in ("pattern", "reviews", "tp", "fp", "fn", "precision", "fp rate", "recall"):
        patterns.add_column(column, justify="left" if column == "pattern" else "right")
    for analysis in stats.pattern_feedback:
        patterns.add_row(
            analysis.pattern_id,
            str(analysis.feedback_count),
            str(analysis.true_positives),
            str(analysis.false_positives),
            str(analysis.false_negatives),
            _ratio(analysis.precision),
            _ratio(analysis.false_positive_rate),
            _ratio(analysis.recall),
        )
    for table, rows in (
        (cache, stats.template_cache),
        (performance, stats.performance),
        (mixins, stats.mixin_compatibility),
        (patterns, stats.pattern_feedback),
    ):
        if rows:
            console.print(table)
        else:
            console.print(f"{table.title}: no data yet", highlight=False)
