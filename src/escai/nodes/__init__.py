"""The ONEX node runtime: typed Effect, Compute, Reducer and Orchestrator nodes with composable mixins.

A node declares its input, output and config models and a tuple of mixins; ``await node.run(data)`` validates the
input and calls ``execute`` inside the mixins, outermost first in :data:`MIXINS` order. Incompatible mixins are
refused when the class is defined (:func:`check_mixins` lists them without raising). Installed distributions add
nodes through the ``escai.plugins`` entry point (:mod:`escai.nodes.plugins`). See docs/nodes.md.
"""

from escai.nodes.base import AnyNodeClass, ComputeNode, EffectNode, Node, build_node
from escai.nodes.compatibility import INCOMPATIBILITY_RULES, MixinProblem, check_mixins
from escai.nodes.context import Clock, ManualClock, NodeContext, SystemClock
from escai.nodes.contracts import NoConfig, NodeContract, NodeHealth, describe_contract
from escai.nodes.errors import (
    CircuitOpenError,
    MixinConflictError,
    NodeError,
    NodeTimeoutError,
    NodeValidationError,
    PluginError,
    PurityError,
    WorkflowError,
)
from escai.nodes.kinds import MIXINS, NodeKind
from escai.nodes.mixins import CircuitState, UnitOfWork, current_unit_of_work
from escai.nodes.orchestrator import OrchestratorNode, Step, StepResults, Workflow
from escai.nodes.purity import find_impurities, find_impurities_in_source
from escai.nodes.reducer import ReducerNode
from escai.nodes.settings import (
    CacheSettings,
    CircuitBreakerSettings,
    MixinSettings,
    RateLimitSettings,
    RetrySettings,
    TimeoutSettings,
    ValidationSettings,
)
from escai.nodes.state import InMemoryStateStore, JsonFileStateStore, StateStore, StoredState

__all__ = [
    "INCOMPATIBILITY_RULES",
    "MIXINS",
    "AnyNodeClass",
    "CacheSettings",
    "CircuitBreakerSettings",
    "CircuitOpenError",
    "CircuitState",
    "Clock",
    "ComputeNode",
    "EffectNode",
    "InMemoryStateStore",
    "JsonFileStateStore",
    "ManualClock",
    "MixinConflictError",
    "MixinProblem",
    "MixinSettings",
    "NoConfig",
    "Node",
    "NodeContext",
    "NodeContract",
    "NodeError",
    "NodeHealth",
    "NodeKind",
    "NodeTimeoutError",
    "NodeValidationError",
    "OrchestratorNode",
    "PluginError",
    "PurityError",
    "RateLimitSettings",
    "ReducerNode",
    "RetrySettings",
    "StateStore",
    "Step",
    "StepResults",
    "StoredState",
    "SystemClock",
    "TimeoutSettings",
    "UnitOfWork",
    "ValidationSettings",
    "Workflow",
    "WorkflowError",
    "build_node",
    "check_mixins",
    "current_unit_of_work",
    "describe_contract",
    "find_impurities",
    "find_impurities_in_source",
]
