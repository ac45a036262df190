"""Errors of the PRD parser, the spec builder and the template layer::

CodegenError (EscaiError, ValueError)
├── PrdSyntaxError          the PRD's front matter or structure cannot be read
├── SpecValidationError     the spec is invalid (names, duplicates, mixins, types, logic); lists every problem
└── UnsafeLogicError        a logic expression uses a construct or name outside the whitelist
"""

from __future__ import annotations

from collections.abc import Sequence

from escai.exceptions import EscaiError


class CodegenError(EscaiError, ValueError):
    """Base of the errors raised while turning a PRD into generated code."""


class PrdSyntaxError(CodegenError):
    """The PRD cannot be read: bad front matter, no title, or a malformed field line (the message says where)."""


class SpecValidationError(CodegenError):
    """A generation spec broke one or more rules; ``problems`` lists each one as a sentence."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid generation spec:\n" + "\n".join(f"- {problem}" for problem in self.problems))


class UnsafeLogicError(CodegenError):
    """A logic expression is not in the safe subset (only arithmetic, comparisons and whitelisted builtins)."""
