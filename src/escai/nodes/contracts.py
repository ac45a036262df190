"""Typed contracts of nodes: the empty config, the health report and a JSON description of a node class."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from escai.nodes.base import AnyNodeClass

__all__ = ["NoConfig", "NodeContract", "NodeHealth", "describe_contract"]


class NoConfig(BaseModel):
    """The config of a node that needs none."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, slots=True)
class NodeHealth:
    """What ``await node.health()`` reports."""

    node: str
    kind: str
    healthy: bool
    tracked: bool
    """Whether the health_check mixin is on (without it, the call counters stay at zero)."""
    calls: int
    successes: int
    failures: int
    retries: int
    last_error: str | None
    last_error_at: float | None
    circuit_state: str | None
    """``closed``, ``open`` or ``half_open`` with the circuit_breaker mixin, else None."""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NodeContract:
    """A node class described as data: kind, mixins, hook and the JSON schemas of its models."""

    name: str
    kind: str
    mixins: tuple[str, ...]
    hook: str | None
    idempotent: bool
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    config_schema: dict[str, Any]


def describe_contract(node_class: AnyNodeClass) -> NodeContract:
    """Return the contract of ``node_class`` (for docs, the CLI and the code generator's checks)."""
    return NodeContract(
        name=node_class.node_name,
        kind=node_class.kind.value,
        mixins=tuple(node_class.mixins),
        hook=node_class.hook,
        idempotent=node_class.idempotent,
        input_schema=node_class.input_model.model_json_schema(),
        output_schema=node_class.output_model.model_json_schema(),
        config_schema=node_class.config_model.model_json_schema(),
    )
