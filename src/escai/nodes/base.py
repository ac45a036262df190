"""The node base class and the Effect and Compute kinds (Reducer and Orchestrator have their own modules)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar, Generic, TypeVar, cast

from pydantic import BaseModel, ValidationError

from escai.nodes.compatibility import check_mixins, errors_only
from escai.nodes.context import NodeContext
from escai.nodes.contracts import NoConfig, NodeHealth
from escai.nodes.errors import MixinConflictError, NodeValidationError, PurityError
from escai.nodes.kinds import NodeKind
from escai.nodes.mixins import (
    CallStats,
    CircuitBreakerLayer,
    Layer,
    Proceed,
    UnitOfWork,
    build_layers,
    open_unit_of_work,
    validate_output_strictly,
)
from escai.nodes.purity import find_impurities
from escai.nodes.settings import MixinSettings

__all__ = ["AnyNodeClass", "ComputeNode", "EffectNode", "Node", "build_node"]

InT = TypeVar("InT", bound=BaseModel)
OutT = TypeVar("OutT", bound=BaseModel)
CfgT = TypeVar("CfgT", bound=BaseModel)
NodeT = TypeVar("NodeT", bound="Node[Any, Any, Any]")


def _chain(layer: Layer, inner: Proceed) -> Proceed:
    async def call(data: BaseModel) -> BaseModel:
        return await layer.invoke(data, inner)

    return call


class Node(Generic[InT, OutT, CfgT]):
    """Base of every node: a typed ``execute`` wrapped by the mixins the class lists.

    A subclass sets ``input_model``, ``output_model``, optionally ``config_model`` and ``mixins``, and implements
    ``async def execute(self, data)``. ``await node.run(data)`` validates the input, then calls the mixins in
    ``MIXINS`` order around ``execute``. Mixin conflicts (and, for Compute nodes, impure code) are refused when the
    class is defined.
    """

    kind: ClassVar[NodeKind]
    input_model: ClassVar[type[BaseModel]]
    output_model: ClassVar[type[BaseModel]]
    config_model: ClassVar[type[BaseModel]] = NoConfig
    mixins: ClassVar[tuple[str, ...]] = ()
    node_name: ClassVar[str] = "Node"
    """Name in logs, metrics and events; the class name unless the class sets it."""
    hook: ClassVar[str | None] = None
    """Where ESCAI runs the node as a plugin (``"session"``: once per analysed session)."""
    idempotent: ClassVar[bool] = False
    """Whether repeating a call is safe; required for retry on Effect nodes."""
    mixin_settings: ClassVar[MixinSettings] = MixinSettings()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Name the class and refuse conflicting mixins, and impure code in Compute nodes, at definition time."""
        super().__init_subclass__(**kwargs)
        if "node_name" not in vars(cls):
            cls.node_name = cls.__name__
        cls.mixins = tuple(cls.mixins)
        problems = errors_only(check_mixins(cls.kind, cls.mixins, idempotent=cls.idempotent))
        if problems:
            raise MixinConflictError(cls.node_name, problems)
        if cls.kind is NodeKind.COMPUTE:
            findings = find_impurities(cls)
            if findings:
                raise PurityError(cls.node_name, findings)

    def __init__(
        self,
        config: CfgT | Mapping[str, Any] | None = None,
        context: NodeContext | None = None,
        *,
        settings: MixinSettings | None = None,
    ) -> None:
        """Validate ``config`` (default: the config model's defaults) and stack the mixin layers."""
        try:
            if config is None:
                parsed_config = self.config_model()
            elif isinstance(config, self.config_model):
                parsed_config = config
            else:
                parsed_config = self.config_model.model_validate(config)
        except ValidationError as error:
            raise NodeValidationError(f"{self.node_name}: invalid config: {error}") from error
        self.config: CfgT = cast(CfgT, parsed_config)
        self._context = context or NodeContext()
        self._settings = settings or self.mixin_settings
        self._stats = CallStats()
        self._layers = build_layers(self, self.mixins, self._stats)
        proceed: Proceed = self._execute_and_check
        for layer in reversed(self._layers):
            proceed = _chain(layer, proceed)
        self._proceed = proceed

    # -- what the mixins see ------------------------------------------------------------------

    @property
    def node_kind(self) -> NodeKind:
        """The node's kind."""
        return self.kind

    @property
    def context(self) -> NodeContext:
        """Bus, engine, registry, clock, logger and state store of this node."""
        return self._context

    @property
    def settings(self) -> MixinSettings:
        """The mixin settings this instance uses."""
        return self._settings

    @property
    def output_type(self) -> type[BaseModel]:
        """The output model."""
        return self.output_model

    def mixin_layer(self, name: str) -> Layer | None:
        """Return the layer of mixin ``name`` (to read its counters), or None when the mixin is off."""
        return next((layer for layer in self._layers if layer.name == name), None)

    # -- calling --------------------------------------------------------------------------------

    async def execute(self, data: InT) -> OutT:
        """Do the node's work; subclasses implement it."""
        raise NotImplementedError(f"{self.node_name} does not implement execute()")

    async def run(self, data: InT | Mapping[str, Any] | str | bytes) -> OutT:
        """Validate ``data`` (strictly with the validation mixin) and run ``execute`` inside the mixins."""
        parsed = self._parse_input(data)
        return cast(OutT, await self._proceed(parsed))

    async def execute_once(self, data: BaseModel) -> BaseModel:
        """Run ``execute`` alone, without mixins, and check its output type."""
        return await self._execute_and_check(data)

    def transaction(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """Open a unit of work: a database transaction when the context has an engine, else an undo log.

        Use as ``async with self.transaction() as unit:``; register undo actions with ``unit.on_rollback``.
        """
        return open_unit_of_work(self._context)

    async def check_health(self) -> bool:
        """Probe the node's dependencies; override in nodes that have some. The default reports healthy."""
        return True

    async def health(self) -> NodeHealth:
        """Report calls, failures, last error, circuit state and the result of :meth:`check_health`."""
        breaker = self.mixin_layer("circuit_breaker")
        circuit_state = breaker.state.value if isinstance(breaker, CircuitBreakerLayer) else None
        details: dict[str, Any] = {}
        last_error = self._stats.last_error
        try:
            probe_ok = await self.check_health()
        except Exception as error:
            probe_ok = False
            last_error = f"{type(error).__name__}: {error}"
            details["probe_error"] = last_error
        return NodeHealth(
            node=self.node_name,
            kind=self.kind.value,
            healthy=probe_ok and circuit_state != "open",
            tracked="health_check" in self.mixins,
            calls=self._stats.calls,
            successes=self._stats.successes,
            failures=self._stats.failures,
            retries=self._stats.retries,
            last_error=last_error,
            last_error_at=self._stats.last_error_at,
            circuit_state=circuit_state,
            details=details,
        )

    # -- internals ------------------------------------------------------------------------------

    def _parse_input(self, data: object) -> BaseModel:
        strict = "validation" in self.mixins
        model = self.input_model
        try:
            if isinstance(data, str | bytes):
                return model.model_validate_json(data, strict=strict)
            if isinstance(data, model):
                # Re-validating a dump catches instances built with model_construct or mutated without validation.
                return model.model_validate(data.model_dump(warnings=False), strict=True) if strict else data
            if isinstance(data, Mapping):
                return model.model_validate(data, strict=strict)
        except ValidationError as error:
            raise NodeValidationError(f"{self.node_name}: invalid input: {error}") from error
        raise NodeValidationError(
            f"{self.node_name}: input must be a {model.__name__}, a mapping or JSON, not {type(data).__name__}"
        )

    async def _execute_and_check(self, data: BaseModel) -> BaseModel:
        output: object = await self.execute(cast(InT, data))
        if "validation" in self.mixins:
            return validate_output_strictly(self.node_name, self.output_model, output)
        if isinstance(output, self.output_model):
            return output
        if isinstance(output, Mapping):
            try:
                return self.output_model.model_validate(output)
            except ValidationError as error:
                raise NodeValidationError(f"{self.node_name}: invalid output: {error}") from error
        raise NodeValidationError(
            f"{self.node_name} returned {type(output).__name__}, expected {self.output_model.__name__}"
        )


AnyNodeClass = type[Node[Any, Any, Any]]


class EffectNode(Node[InT, OutT, CfgT]):
    """A node that performs external I/O. Set ``idempotent = True`` when repeating a call is safe (for retry)."""

    kind = NodeKind.EFFECT


class ComputeNode(Node[InT, OutT, CfgT]):
    """A pure, deterministic node: implement ``compute`` (synchronous) or ``execute``.

    Every method the class defines is checked for I/O, clock and randomness use, and global writes when the class
    is defined; with the validation mixin, each call is also run twice and the outputs must be equal.
    """

    kind = NodeKind.COMPUTE

    def compute(self, data: InT) -> OutT:
        """Compute the output from the input alone."""
        raise NotImplementedError(f"{self.node_name} implements neither compute() nor execute()")

    async def execute(self, data: InT) -> OutT:
        """Call :meth:`compute`."""
        return self.compute(data)


def build_node(
    node_class: type[NodeT],
    *,
    mixins: Sequence[str] | None = None,
    config: BaseModel | Mapping[str, Any] | None = None,
    context: NodeContext | None = None,
    settings: MixinSettings | None = None,
    idempotent: bool | None = None,
) -> NodeT:
    """Build an instance of ``node_class``, optionally with another mixin list; conflicts raise at once.

    With ``mixins`` (or ``idempotent``) given, a subclass carrying them is made, so the same checks as at class
    definition apply and :class:`MixinConflictError` lists every problem.
    """
    target: type[NodeT] = node_class
    if mixins is not None or idempotent is not None:
        overrides: dict[str, Any] = {"node_name": node_class.node_name, "__module__": node_class.__module__}
        if mixins is not None:
            overrides["mixins"] = tuple(mixins)
        if idempotent is not None:
            overrides["idempotent"] = idempotent
        target = cast(type[NodeT], type(node_class.__name__, (node_class,), overrides))
    return target(config, context, settings=settings)
