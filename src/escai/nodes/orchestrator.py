"""Orchestrator nodes: workflows over other nodes, in sequence or as a DAG, compensated on failure."""

from __future__ import annotations

import asyncio
import graphlib
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from escai.nodes.base import Node
from escai.nodes.errors import WorkflowError
from escai.nodes.kinds import NodeKind

__all__ = ["OrchestratorNode", "Step", "StepResults", "Workflow"]

InT = TypeVar("InT", bound=BaseModel)
OutT = TypeVar("OutT", bound=BaseModel)
CfgT = TypeVar("CfgT", bound=BaseModel)

StepResults = Mapping[str, Any]
"""Results of the steps completed so far, by step name."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step: an action, an optional compensation that undoes it, and the steps it must run after (DAG mode)."""

    name: str
    action: Callable[[StepResults], Awaitable[Any]]
    compensate: Callable[[StepResults], Awaitable[None] | None] | None = None
    """Called with all results (this step's included) when a later step fails."""
    after: tuple[str, ...] = ()

    @classmethod
    def of_node(
        cls,
        name: str,
        node: Node[Any, Any, Any],
        build_input: Callable[[StepResults], BaseModel | Mapping[str, Any]],
        *,
        compensate: Callable[[StepResults], Awaitable[None] | None] | None = None,
        after: Sequence[str] = (),
    ) -> Step:
        """A step that runs ``node`` on the input built from earlier results."""

        async def run_node(results: StepResults) -> Any:
            return await node.run(build_input(results))

        return cls(name, run_node, compensate, tuple(after))


class Workflow:
    """Steps run in order (``sequence``) or as soon as their dependencies are done (``dag``, concurrently).

    When a step fails, running steps are cancelled and the completed ones are compensated in reverse order of
    completion; :class:`WorkflowError` then says what failed and what was undone.
    """

    def __init__(self, steps: Sequence[Step], *, mode: Literal["sequence", "dag"] = "sequence") -> None:
        """Check names are unique and, in DAG mode, that dependencies exist and form no cycle."""
        names = [step.name for step in steps]
        if len(set(names)) != len(names):
            raise ValueError(f"step names must be unique: {names}")
        self.steps = {step.name: step for step in steps}
        self.mode = mode
        self._sorter_graph: dict[str, tuple[str, ...]] = {}
        if mode == "dag":
            for step in steps:
                missing = [name for name in step.after if name not in self.steps]
                if missing:
                    raise ValueError(f"step {step.name!r} depends on unknown steps {missing}")
            self._sorter_graph = {step.name: step.after for step in steps}
            try:
                graphlib.TopologicalSorter(self._sorter_graph).prepare()
            except graphlib.CycleError as error:
                raise ValueError(f"workflow steps form a cycle: {error.args[1]}") from error
        self.completed: list[str] = []
        """Steps that finished, in completion order (after :meth:`run`)."""
        self.compensated: list[str] = []
        """Steps undone after a failure, in the order they were undone."""

    async def run(self) -> dict[str, Any]:
        """Run every step and return their results by name."""
        self.completed = []
        self.compensated = []
        results: dict[str, Any] = {}
        if self.mode == "sequence":
            for step in self.steps.values():
                try:
                    results[step.name] = await step.action(results)
                except Exception as error:
                    await self._fail(step.name, error, results)
                self.completed.append(step.name)
            return results
        await self._run_dag(results)
        return results

    async def _run_dag(self, results: dict[str, Any]) -> None:
        sorter = graphlib.TopologicalSorter(self._sorter_graph)
        sorter.prepare()
        running: dict[asyncio.Task[Any], str] = {}
        while sorter.is_active():
            for name in sorter.get_ready():
                running[asyncio.create_task(_await(self.steps[name].action(dict(results))))] = name
            done, _pending = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                name = running.pop(task)
                error = task.exception()
                if error is not None:
                    for other in running:
                        other.cancel()
                    # Steps cancelled mid-way did not complete, so they have nothing to compensate.
                    await asyncio.gather(*running, return_exceptions=True)
                    await self._fail(name, error, results)
                results[name] = task.result()
                self.completed.append(name)
                sorter.done(name)

    async def _fail(self, step_name: str, error: BaseException, results: dict[str, Any]) -> None:
        failures: list[tuple[str, BaseException]] = []
        for name in reversed(self.completed):
            compensate = self.steps[name].compensate
            if compensate is None:
                continue
            try:
                outcome = compensate(results)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception as compensation_error:
                failures.append((name, compensation_error))
            self.compensated.append(name)
        raise WorkflowError(step_name, error, self.compensated, failures) from error


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


class OrchestratorNode(Node[InT, OutT, CfgT]):
    """A node whose work is a workflow over other nodes.

    Implement ``build_workflow(data) -> Workflow`` and ``collect(data, results) -> output``. A failed step raises
    :class:`WorkflowError` after the completed steps were compensated.
    """

    kind = NodeKind.ORCHESTRATOR

    def build_workflow(self, data: InT) -> Workflow:
        """Return the workflow for ``data``; subclasses implement it."""
        raise NotImplementedError(f"{self.node_name} does not implement build_workflow()")

    def collect(self, data: InT, results: StepResults) -> OutT:
        """Turn the step results into the output; subclasses implement it."""
        raise NotImplementedError(f"{self.node_name} does not implement collect()")

    async def execute(self, data: InT) -> OutT:
        """Run the workflow, then collect its results."""
        workflow = self.build_workflow(data)
        self.last_workflow = workflow
        return self.collect(data, await workflow.run())
