"""The validated generation spec (:class:`GenerationSpec`) and :func:`build_spec`, which makes one from a PRD.

Validation happens in the models, so a spec built by hand is checked as strictly as one built from a PRD:
names (PascalCase classes, snake_case modules, fields and package), duplicate nodes, modules and fields, unknown
or repeated mixins, type expressions outside the allowed set, defaults that are not Python literals, logic that
reads a field the node does not have. :func:`build_spec` gathers every problem into one
:class:`~escai.codegen.errors.SpecValidationError`.

Ambiguity is reported, never guessed silently: a close kind decision, a field without a type, logic the text
does not state, a derived package name or a dropped mixin each add a sentence to ``GenerationSpec.ambiguities``.
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Sequence
from typing import Final, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from escai.codegen.classify import KindDecision, classify_kind
from escai.codegen.errors import SpecValidationError, UnsafeLogicError
from escai.codegen.logic import PREVIOUS_NAME, LogicSpec, check_expression, extract_logic
from escai.codegen.prd import ParsedField, ParsedNode, ParsedPrd
from escai.codegen.types import check_type_expr, is_mapping_list
from escai.nodes import MIXINS, NodeKind, check_mixins

__all__ = [
    "SESSION_HOOK",
    "SESSION_INPUT_FIELDS",
    "CompatibilityAdvisor",
    "FieldSpec",
    "GenerationSpec",
    "NodeSpec",
    "build_spec",
    "to_snake_case",
]

SESSION_HOOK: Final = "session"
_PASCAL: Final = re.compile(r"[A-Z][A-Za-z0-9]*")
_SNAKE: Final = re.compile(r"[a-z][a-z0-9_]*")
_MIXIN_CUES: Final[dict[str, str]] = {
    "retry": r"\bretr(?:y|ies|ied)\b",
    "timeout": r"\btime-?outs?\b",
    "circuit_breaker": r"\bcircuit[- ]breaker",
    "rate_limiting": r"\brate[- ]limit",
    "caching": r"\bcach(?:e|es|ed|ing)\b",
    "validation": r"\bvalidat",
    "transaction": r"\btransaction|\brollback|\broll back",
    "health_check": r"\bhealth[- ]check",
    "event_publishing": r"\bpublish(?:es)? (?:an? )?(?:change )?events?\b",
    "metrics": r"\bmetrics\b|\bprometheus\b",
    "logging": r"\blogg(?:ing|ed)\b",
}
_DEFAULT_MIXINS: Final = ("logging", "validation")


class CompatibilityAdvisor(Protocol):
    """Predicts whether a node kind and mixin combination will work (C4's learner implements it)."""

    def advise(self, kind: NodeKind, mixins: Sequence[str]) -> Sequence[object]:
        """Warnings (each rendered with ``str``) about combinations predicted to fail; empty when all look fine."""
        ...


def to_snake_case(name: str) -> str:
    """``SessionHealthScorer`` → ``session_health_scorer``; other characters become underscores."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


class FieldSpec(BaseModel):
    """One field of a node's input, output or config model."""

    model_config = ConfigDict(frozen=True)

    name: str
    type_expr: str
    description: str = ""
    default: str | None = None
    """A Python literal as source text (``5.0``, ``'USD'``, ``None``), or None for a required field."""

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _SNAKE.fullmatch(value) or keyword.iskeyword(value):
            raise ValueError(f"field name {value!r} must be a snake_case identifier (and not a Python keyword)")
        return value

    @field_validator("type_expr")
    @classmethod
    def _check_type(cls, value: str) -> str:
        try:
            check_type_expr(value)
        except SpecValidationError as exc:
            raise ValueError(exc.problems[0]) from None
        return value

    @field_validator("default")
    @classmethod
    def _check_default(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ast.literal_eval(value)
            except (ValueError, SyntaxError) as exc:
                raise ValueError(f"default {value!r} is not a Python literal") from exc
        return value


class NodeSpec(BaseModel):
    """One node to generate: names, kind (with the classifier's decision), contract, mixins, logic, hook."""

    model_config = ConfigDict(frozen=True)

    name: str
    module: str
    kind: NodeKind
    description: str = ""
    inputs: list[FieldSpec] = Field(default_factory=list)
    outputs: list[FieldSpec] = Field(default_factory=list)
    config: list[FieldSpec] = Field(default_factory=list)
    mixins: list[str] = Field(default_factory=list)
    logic: LogicSpec | None = None
    hook: str | None = None
    idempotent: bool = False
    """The PRD says repeating the call is harmless (needed before an Effect may retry)."""
    kind_decision: KindDecision | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _PASCAL.fullmatch(value):
            raise ValueError(f"node name {value!r} must be a PascalCase class name (letters and digits)")
        return value

    @field_validator("module")
    @classmethod
    def _check_module(cls, value: str) -> str:
        if not _SNAKE.fullmatch(value) or keyword.iskeyword(value):
            raise ValueError(f"module {value!r} must be a snake_case identifier")
        return value

    @field_validator("hook")
    @classmethod
    def _check_hook(cls, value: str | None) -> str | None:
        if value is not None and value != SESSION_HOOK:
            raise ValueError(f"hook {value!r} is not known; the only hook is {SESSION_HOOK!r}")
        return value

    @field_validator("mixins")
    @classmethod
    def _check_mixins(cls, value: list[str]) -> list[str]:
        unknown = [mixin for mixin in value if mixin not in MIXINS]
        if unknown:
            raise ValueError(f"unknown mixins {unknown}; known: {', '.join(MIXINS)}")
        repeated = sorted({mixin for mixin in value if value.count(mixin) > 1})
        if repeated:
            raise ValueError(f"mixins listed more than once: {repeated}")
        return value

    @model_validator(mode="after")
    def _check_contract(self) -> NodeSpec:
        for role, fields in (("input", self.inputs), ("output", self.outputs), ("config", self.config)):
            names = [field.name for field in fields]
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise ValueError(f"node {self.name}: {role} fields declared more than once: {repeated}")
        if not self.outputs:
            raise ValueError(f"node {self.name}: declares no output field")
        if self.logic is not None:
            allowed = [field.name for field in self.inputs]
            if self.kind == NodeKind.REDUCER:
                allowed.append(PREVIOUS_NAME)
            try:
                check_expression(self.logic.expression, allowed)
            except UnsafeLogicError as exc:
                raise ValueError(f"node {self.name}: {exc}") from exc
            if len(self.outputs) != 1:
                raise ValueError(f"node {self.name}: logic gives one value, but the node declares several outputs")
        return self


class GenerationSpec(BaseModel):
    """Everything the generator needs: the package, its nodes, and what the PRD left open."""

    model_config = ConfigDict(frozen=True)

    title: str
    package: str
    description: str = ""
    nodes: list[NodeSpec]
    ambiguities: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @field_validator("package")
    @classmethod
    def _check_package(cls, value: str) -> str:
        if not _SNAKE.fullmatch(value) or keyword.iskeyword(value):
            raise ValueError(f"package {value!r} must be a snake_case Python import name")
        return value

    @model_validator(mode="after")
    def _check_nodes(self) -> GenerationSpec:
        if not self.nodes:
            raise ValueError("the spec has no nodes: add a '### NodeName' subsection under Features")
        for attribute in ("name", "module"):
            values = [getattr(node, attribute) for node in self.nodes]
            repeated = sorted({value for value in values if values.count(value) > 1})
            if repeated:
                raise ValueError(f"duplicate node {attribute}s: {repeated}")
        return self


SESSION_INPUT_FIELDS: Final = (
    FieldSpec(name="session_id", type_expr="str", description="the analysed session"),
    FieldSpec(name="agent_id", type_expr="str | None", description="the session's agent", default="None"),
    FieldSpec(name="events", type_expr="list[dict[str, Any]]", description="the session's events as dictionaries"),
)
"""The inputs a ``session`` hook node reads (from :class:`escai.nodes.plugins.SessionInput`, events as dicts)."""


def build_spec(parsed: ParsedPrd, *, compatibility: CompatibilityAdvisor | None = None) -> GenerationSpec:
    """Turn a parsed PRD into a validated :class:`GenerationSpec`, reporting ambiguities instead of guessing.

    Raises :class:`SpecValidationError` listing every problem found (all nodes are checked before raising).
    """
    ambiguities: list[str] = []
    warnings: list[str] = list(parsed.notes)
    problems: list[str] = []
    package = str(parsed.front_matter.get("package") or "")
    if not package:
        package = to_snake_case(parsed.title)
        ambiguities.append(f"no package name in the front matter; derived {package!r} from the title")
    names = [node.name for node in parsed.nodes]
    nodes: list[NodeSpec] = []
    for parsed_node in parsed.nodes:
        try:
            nodes.append(_build_node(parsed_node, names, ambiguities, warnings, compatibility))
        except (ValidationError, UnsafeLogicError, SpecValidationError) as exc:
            problems.extend(_describe(exc, parsed_node.name))
    if problems:
        # Node problems first: a spec without its broken nodes would only add a misleading "no nodes" problem.
        raise SpecValidationError(problems)
    try:
        spec = GenerationSpec(
            title=parsed.title,
            package=package,
            description=parsed.sections.get("overview", ""),
            nodes=nodes,
            ambiguities=ambiguities,
            warnings=warnings,
        )
    except ValidationError as exc:
        problems.extend(_describe(exc, None))
    if problems:
        raise SpecValidationError(problems)
    return spec


def _describe(error: Exception, node_name: str | None) -> list[str]:
    prefix = f"node {node_name}: " if node_name else ""
    if isinstance(error, ValidationError):
        return [
            f"{prefix}{'.'.join(str(part) for part in item['loc'])}: {_message(item['msg'])}"
            if item["loc"]
            else f"{prefix}{_message(item['msg'])}"
            for item in error.errors()
        ]
    if isinstance(error, SpecValidationError):
        return [f"{prefix}{problem}" for problem in error.problems]
    return [f"{prefix}{error}"]


def _message(text: str) -> str:
    return text.removeprefix("Value error, ")


def _build_node(
    parsed: ParsedNode,
    all_names: Sequence[str],
    ambiguities: list[str],
    warnings: list[str],
    compatibility: CompatibilityAdvisor | None,
) -> NodeSpec:
    fields = {role: _fields(parsed, role, ambiguities) for role in ("input", "output", "config")}
    if parsed.hook == SESSION_HOOK:
        if fields["input"]:
            warnings.append(f"node {parsed.name}: session plugins read the session; declared inputs are ignored")
        fields["input"] = list(SESSION_INPUT_FIELDS)
    explicit_kind = _explicit_kind(parsed)
    decision = classify_kind(
        parsed.text,
        explicit_kind=explicit_kind,
        other_node_names=[name for name in all_names if name != parsed.name],
        config_field_names=[field.name for field in fields["config"]],
    )
    if decision.ambiguous:
        ambiguities.append(
            f"node {parsed.name}: the kind is a close call ({_format_scores(decision)}); chose {decision.chosen}, "
            f"add 'Kind: <kind>' or front matter to decide"
        )
    kind = decision.chosen
    idempotent = re.search(r"\bidempotent\b|\bde-?duplicat", parsed.text.lower()) is not None
    mixins = _choose_mixins(parsed, kind, idempotent, ambiguities, warnings, compatibility)
    logic = _choose_logic(parsed, kind, fields["input"], ambiguities)
    return NodeSpec(
        name=parsed.name,
        module=parsed.module or to_snake_case(parsed.name),
        kind=kind,
        description=parsed.text,
        inputs=fields["input"],
        outputs=fields["output"],
        config=fields["config"],
        mixins=mixins,
        logic=logic,
        hook=parsed.hook,
        idempotent=idempotent,
        kind_decision=decision,
    )


def _explicit_kind(parsed: ParsedNode) -> NodeKind | None:
    if parsed.kind is None:
        return None
    try:
        return NodeKind(parsed.kind)
    except ValueError:
        raise SpecValidationError(
            [f"kind {parsed.kind!r} is not a node kind; expected one of {', '.join(NodeKind)}"]
        ) from None


def _fields(parsed: ParsedNode, role: str, ambiguities: list[str]) -> list[FieldSpec]:
    result: list[FieldSpec] = []
    for field in parsed.fields:
        if field.role == role:
            result.append(_field_spec(parsed.name, field, ambiguities))
    return result


def _field_spec(node_name: str, field: ParsedField, ambiguities: list[str]) -> FieldSpec:
    type_expr = field.type_expr
    if type_expr is None:
        type_expr = "str"
        ambiguities.append(f"node {node_name}: {field.role} {field.name!r} has no type; assumed str")
    return FieldSpec(name=field.name, type_expr=type_expr, description=field.description, default=field.default)


def _format_scores(decision: KindDecision) -> str:
    ranked = sorted(decision.scores.items(), key=lambda item: -item[1])
    return ", ".join(f"{kind} {score:.2f}" for kind, score in ranked[:3])


def _choose_mixins(
    parsed: ParsedNode,
    kind: NodeKind,
    idempotent: bool,
    ambiguities: list[str],
    warnings: list[str],
    compatibility: CompatibilityAdvisor | None,
) -> list[str]:
    """Explicit mixins are kept (and must be compatible); inferred ones are dropped when incompatible."""
    explicit = parsed.mixins is not None
    if parsed.mixins is not None:
        chosen = list(parsed.mixins)
    else:
        lowered = parsed.text.lower()
        chosen = [mixin for mixin in MIXINS if re.search(_MIXIN_CUES.get(mixin, r"(?!)"), lowered)]
        if not chosen:
            chosen = list(_DEFAULT_MIXINS)
            ambiguities.append(f"node {parsed.name}: no mixins stated; using {', '.join(chosen)}")
        else:
            warnings.append(f"node {parsed.name}: mixins read from the text: {', '.join(chosen)}")
    # Keep the documented composition order whatever order the PRD listed them in.
    ordered = sorted(chosen, key=lambda mixin: MIXINS.index(mixin) if mixin in MIXINS else len(MIXINS))
    problems = check_mixins(kind, ordered, idempotent=idempotent)
    errors = [problem for problem in problems if problem.severity == "error"]
    warnings.extend(f"node {parsed.name}: {problem.message}" for problem in problems if problem.severity != "error")
    if errors and explicit:
        raise SpecValidationError([f"{problem.code}: {problem.message}" for problem in errors])
    for problem in errors:
        # An inferred mixin that cannot work on this kind is dropped, and the drop is reported.
        dropped = [mixin for mixin in problem.mixins if mixin in ordered]
        ordered = [mixin for mixin in ordered if mixin not in dropped]
        ambiguities.append(f"node {parsed.name}: dropped {', '.join(dropped) or 'a mixin'}: {problem.message}")
    if compatibility is not None:
        for advice in compatibility.advise(kind, ordered):
            warnings.append(f"node {parsed.name}: {advice}")
    return ordered


def _choose_logic(
    parsed: ParsedNode, kind: NodeKind, inputs: Sequence[FieldSpec], ambiguities: list[str]
) -> LogicSpec | None:
    if kind in (NodeKind.EFFECT, NodeKind.ORCHESTRATOR) and parsed.logic is None:
        return None
    logic, notes = extract_logic(
        parsed.text,
        [field.name for field in inputs],
        explicit=parsed.logic,
        item_is_mapping={field.name: is_mapping_list(field.type_expr) for field in inputs},
        stateful=kind == NodeKind.REDUCER,
    )
    ambiguities.extend(f"node {parsed.name}: {note}" for note in notes)
    if logic is None:
        ambiguities.append(
            f"node {parsed.name}: the logic is not stated in a form the generator reads; the node will raise "
            f"NotImplementedError quoting the PRD"
        )
    return logic
