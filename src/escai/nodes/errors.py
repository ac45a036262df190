"""Errors of the node runtime.

::

    NodeError
    ├── MixinConflictError      incompatible or unknown mixins on a node class
    ├── PurityError             a Compute node does I/O or is not deterministic
    ├── NodeValidationError     input or output does not match the contract (also a ValueError)
    ├── NodeTimeoutError        the timeout mixin cancelled a call (also a TimeoutError)
    ├── CircuitOpenError        the circuit breaker rejected a call
    ├── WorkflowError           an orchestrator step failed; completed steps were compensated
    └── PluginError             an ``escai.plugins`` entry point cannot be loaded as a node
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from escai.nodes.compatibility import MixinProblem

__all__ = [
    "CircuitOpenError",
    "MixinConflictError",
    "NodeError",
    "NodeTimeoutError",
    "NodeValidationError",
    "PluginError",
    "PurityError",
    "WorkflowError",
]


class NodeError(Exception):
    """Base class of every error raised by :mod:`escai.nodes`."""


class MixinConflictError(NodeError):
    """A node's mixins are incompatible with each other or with its kind; ``problems`` lists every one."""

    def __init__(self, node_name: str, problems: Sequence[MixinProblem]) -> None:
        """Keep the problems and build a message naming each code."""
        self.node_name = node_name
        self.problems = list(problems)
        lines = "; ".join(f"[{problem.code}] {problem.message}" for problem in self.problems)
        super().__init__(f"{node_name}: {lines}")


class PurityError(NodeError):
    """A Compute node performs I/O, writes globals, or returned different outputs for the same input."""

    def __init__(self, node_name: str, findings: Sequence[str]) -> None:
        """Keep the findings (one sentence each) and join them into the message."""
        self.node_name = node_name
        self.findings = list(findings)
        super().__init__(f"{node_name} is not pure: " + "; ".join(self.findings))


class NodeValidationError(NodeError, ValueError):
    """Input or output of a node does not validate against its contract."""


class NodeTimeoutError(NodeError, TimeoutError):
    """A call took longer than the timeout mixin allows."""


class CircuitOpenError(NodeError):
    """The circuit breaker is open: calls are rejected until the reset timeout has passed."""


class WorkflowError(NodeError):
    """An orchestrator step failed; ``compensated`` names the steps undone, in the order they were undone."""

    def __init__(
        self,
        step: str,
        cause: BaseException,
        compensated: Sequence[str],
        compensation_errors: Sequence[tuple[str, BaseException]] = (),
    ) -> None:
        """Record the failing step, its cause and what compensation did."""
        self.step = step
        self.cause = cause
        self.compensated = list(compensated)
        self.compensation_errors = list(compensation_errors)
        message = f"step {step!r} failed ({type(cause).__name__}: {cause}); compensated {self.compensated}"
        if self.compensation_errors:
            failed = [name for name, _error in self.compensation_errors]
            message += f"; compensation failed for {failed}"
        super().__init__(message)


class PluginError(NodeError):
    """An entry point in the ``escai.plugins`` group does not load, or is not a node class."""
