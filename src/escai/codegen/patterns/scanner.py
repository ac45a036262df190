"""The rule registry and the scan functions: parse, run every rule, apply the tuning learned from feedback."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Final

from escai.codegen.patterns.context import Candidate, ModuleContext, build_context
from escai.codegen.patterns.model import Finding, Rule, Tuning, fingerprint_of
from escai.codegen.patterns.rules_async import find_blocking_calls, find_missing_awaits
from escai.codegen.patterns.rules_flow import find_swallowed_exceptions, find_todo_only_bodies, find_unreachable_code
from escai.codegen.patterns.rules_values import (
    find_empty_fstrings,
    find_mutable_defaults,
    find_none_comparisons,
    find_production_asserts,
    find_secrets,
    find_shadowed_builtins,
)

Checker = Callable[[ModuleContext], Iterator[Candidate]]

RULES: Final[tuple[tuple[Rule, Checker], ...]] = (
    (Rule("blocking-call-in-async", "A blocking call (sleep, sync HTTP, subprocess, file I/O) in async def"),
     find_blocking_calls),
    (Rule("swallowed-exception", "A bare except, or except Exception that drops the error"),
     find_swallowed_exceptions),
    (Rule("mutable-default-argument", "A default argument value created once and shared between calls"),
     find_mutable_defaults),
    (Rule("missing-await", "A coroutine created by a call and never awaited"), find_missing_awaits),
    (Rule("hardcoded-secret", "A credential written in the source"), find_secrets),
    (Rule("unreachable-code", "A statement after return, raise, continue or break"), find_unreachable_code),
    (Rule("todo-only-body", "A function left as a placeholder (pass, ..., NotImplementedError) with a TODO"),
     find_todo_only_bodies),
    (Rule("none-equality", "Comparison to None with == or != instead of is"), find_none_comparisons),
    (Rule("shadowed-builtin", "A name that hides a builtin (list, id, type, ...)"), find_shadowed_builtins),
    (Rule("assert-in-production", "An assert in non-test code, removed under python -O"), find_production_asserts),
    (Rule("fstring-without-placeholders", "An f-string with nothing to format"), find_empty_fstrings),
)  # fmt: skip
"""Every rule, with the function that finds its candidates."""

RULE_IDS: Final[tuple[str, ...]] = tuple(rule.pattern_id for rule, _ in RULES)


def describe_rules() -> list[Rule]:
    """The rules the matcher knows, in registry order."""
    return [rule for rule, _ in RULES]


def scan_source(
    code: str,
    path: str | Path | None = None,
    *,
    tuning: Tuning | None = None,
    include_unreported: bool = False,
    rules: Iterable[str] | None = None,
) -> list[Finding]:
    """Findings of every rule in ``code``, ordered by line.

    ``path`` names the source in findings and decides whether it is test code. ``tuning`` (from
    :func:`escai.codegen.patterns.feedback.load_tuning`) sets each rule's threshold, calibration and
    suppressions; the defaults apply without it. Candidates under threshold or suppressed are dropped unless
    ``include_unreported`` (they then come with ``reported=False``). ``rules`` restricts the scan to those ids.
    Raises :class:`SyntaxError` when ``code`` does not parse.
    """
    shown_path = None if path is None else str(path)
    tree = ast.parse(code, filename=shown_path or "<source>")
    context = build_context(tree, code, shown_path)
    active = tuning or Tuning()
    wanted = None if rules is None else set(rules)
    findings: list[Finding] = []
    for rule, checker in RULES:
        if wanted is not None and rule.pattern_id not in wanted:
            continue
        rule_tuning = active.for_rule(rule.pattern_id)
        seen: set[tuple[int, int]] = set()
        for candidate in checker(context):
            line = getattr(candidate.node, "lineno", 1)
            column = getattr(candidate.node, "col_offset", 0)
            if (line, column) in seen:
                continue
            seen.add((line, column))
            snippet = context.line_text(line)
            reported = rule_tuning.reports(candidate.confidence, fingerprint_of(rule.pattern_id, snippet))
            if not reported and not include_unreported:
                continue
            findings.append(
                Finding(
                    pattern_id=rule.pattern_id,
                    message=candidate.message,
                    line=line,
                    column=column,
                    base_confidence=candidate.confidence,
                    confidence=rule_tuning.calibrate(candidate.confidence),
                    snippet=snippet,
                    path=shown_path,
                    reported=reported,
                )
            )
    return sorted(findings, key=lambda finding: (finding.line, finding.column, finding.pattern_id))


def scan_path(path: str | Path, *, tuning: Tuning | None = None, include_unreported: bool = False) -> list[Finding]:
    """Findings in one Python file, or in every ``*.py`` file under a folder (files that do not parse are skipped)."""
    root = Path(path)
    files = [root] if root.is_file() else sorted(root.rglob("*.py"))
    findings: list[Finding] = []
    for file in files:
        try:
            code = file.read_text(encoding="utf-8")
            findings.extend(scan_source(code, file, tuning=tuning, include_unreported=include_unreported))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            # A file the parser refuses has no AST to match; the validator reports it, not the matcher.
            continue
    return findings
