"""Storing a generation run's metrics and reading the code generator's statistics back.

:func:`record_report` writes a :class:`~escai.codegen.pipeline.GenerationReport`'s phase metrics (and, given the
template cache, its statistics) through :mod:`escai.store.seed_repository`; :func:`read_codegen_stats` gathers
what ``escai codegen stats`` and ``GET /api/v1/codegen/stats`` show, from that module's readers: template cache
efficiency, generation performance per node kind and phase, mixin compatibility, and pattern precision.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from escai.codegen.pipeline import GenerationReport
from escai.codegen.template_cache import TemplateCache
from escai.store.seed_repository import (
    MixinCompatibility,
    PatternFeedbackAnalysis,
    PhasePerformance,
    TemplateCacheEfficiency,
    list_mixin_compatibility,
    list_pattern_feedback_analysis,
    list_performance_summary,
    list_template_cache_efficiency,
    record_generation_metrics,
)

__all__ = ["CodegenStats", "read_codegen_stats", "record_report", "row_to_dict"]


async def record_report(conn: AsyncConnection, report: GenerationReport, cache: TemplateCache | None = None) -> int:
    """Store ``report``'s phase metrics (and ``cache``'s statistics since its last flush); return the metric count.

    Runs in the caller's transaction and does not commit.
    """
    written = await record_generation_metrics(conn, report.metrics)
    if cache is not None:
        await cache.persist(conn)
    return written


@dataclass(frozen=True, slots=True)
class CodegenStats:
    """Everything stored about the code generator, one list per view."""

    template_cache: list[TemplateCacheEfficiency]
    performance: list[PhasePerformance]
    mixin_compatibility: list[MixinCompatibility]
    pattern_feedback: list[PatternFeedbackAnalysis]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (timestamps as ISO strings via the caller's encoder, e.g. ``json.dumps(default=str)``)."""
        return {
            "template_cache": [row_to_dict(row) for row in self.template_cache],
            "performance": [row_to_dict(row) for row in self.performance],
            "mixin_compatibility": [row_to_dict(row) for row in self.mixin_compatibility],
            "pattern_feedback": [row_to_dict(row) for row in self.pattern_feedback],
        }


def row_to_dict(row: Any) -> dict[str, Any]:
    """One reader row (a dataclass) as a dictionary."""
    return dataclasses.asdict(row)


async def read_codegen_stats(conn: AsyncConnection) -> CodegenStats:
    """Read the four statistics views (see :class:`CodegenStats`)."""
    return CodegenStats(
        template_cache=await list_template_cache_efficiency(conn),
        performance=await list_performance_summary(conn),
        mixin_compatibility=await list_mixin_compatibility(conn),
        pattern_feedback=await list_pattern_feedback_analysis(conn),
    )
