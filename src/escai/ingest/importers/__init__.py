"""Importers of existing agent traces: one module per format, a registry, detection and the import runner.

``IMPORTERS`` maps each format name (as given to ``escai import --format``) to its importer; :func:`read_runs`
reads one file lazily, detecting the format when asked to. The mapping of every format is described in
``docs/importers.md``; storing goes through :mod:`escai.ingest.importers.runner`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from escai.ingest.importers.base import (
    ImportedRun,
    Importer,
    ImporterError,
    ImportItem,
    SkippedRecord,
    Source,
    UnrecognisedFormatError,
)
from escai.ingest.importers.detect import classify, detect_format
from escai.ingest.importers.jsonl import JsonlImporter
from escai.ingest.importers.langfuse import LangfuseImporter
from escai.ingest.importers.mast import MastImporter
from escai.ingest.importers.mini_swe_agent import MiniSweAgentImporter
from escai.ingest.importers.otel_json import OtelJsonImporter
from escai.ingest.importers.swe_agent import SweAgentImporter
from escai.ingest.importers.tau_bench import TauBenchImporter
from escai.ingest.importers.who_and_when import WhoAndWhenImporter

__all__ = [
    "AUTO",
    "FORMAT_NAMES",
    "IMPORTERS",
    "ImportItem",
    "ImportedRun",
    "Importer",
    "ImporterError",
    "SkippedRecord",
    "Source",
    "UnrecognisedFormatError",
    "classify",
    "detect_format",
    "get_importer",
    "read_runs",
]

AUTO = "auto"
IMPORTERS: dict[str, Importer] = {
    importer.name: importer
    for importer in (
        WhoAndWhenImporter(),
        TauBenchImporter(),
        MiniSweAgentImporter(),
        SweAgentImporter(),
        MastImporter(),
        LangfuseImporter(),
        OtelJsonImporter(),
        JsonlImporter(),
    )
}
FORMAT_NAMES = tuple(IMPORTERS)


def get_importer(name: str) -> Importer:
    """The importer of a format by name; :class:`ImporterError` lists the known names for an unknown one."""
    try:
        return IMPORTERS[name]
    except KeyError:
        raise ImporterError(f"unknown format {name!r}; known: {', '.join(FORMAT_NAMES)}") from None


def read_runs(path: Path, format_name: str = AUTO) -> Iterator[ImportItem]:
    """The runs of one file, lazily; ``auto`` detects the format from the file's structure."""
    source = Source(path)
    name = detect_format(source) if format_name == AUTO else format_name
    return get_importer(name).read(source)
