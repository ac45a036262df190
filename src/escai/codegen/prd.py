"""Reading a product-requirements document (PRD) in Markdown into a :class:`ParsedPrd`.

The format (``docs/codegen.md`` has the full description)::

    ---                                  optional YAML front matter: explicit choices that override the prose
    package: my_plugins
    nodes:
      NodeName: {kind: compute, hook: session, mixins: [logging], logic: "sum(values)"}
    ---
    # Title
    ## Overview / Functional Requirements / Features / Success Criteria / Technical Details / Dependencies
    ### NodeName                         (under Functional Requirements or Features) one node to generate
    Prose saying what it does; the kind classifier and the logic extractor read it.
    - Input `name` (type, default value): description      also Output and Config
    - Mixins: logging, retry              - Hook: session      - Kind: effect      - Logic: expression

This module only reads structure; :mod:`escai.codegen.spec` decides kinds, logic and validity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import yaml

from escai.codegen.errors import PrdSyntaxError

__all__ = ["SECTION_KEYS", "FieldRole", "ParsedField", "ParsedNode", "ParsedPrd", "parse_prd"]

FieldRole = Literal["input", "output", "config"]

SECTION_KEYS: Final[dict[str, str]] = {
    "overview": "overview",
    "functional requirements": "functional_requirements",
    "requirements": "functional_requirements",
    "features": "features",
    "success criteria": "success_criteria",
    "technical details": "technical_details",
    "dependencies": "dependencies",
}
"""Heading text (lowercase) to the canonical section key."""

_NODE_SECTIONS: Final = ("functional_requirements", "features")
_FRONT_MATTER: Final = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_FIELD_LINE: Final = re.compile(
    r"^[-*]\s+(?P<role>input|output|config)\s+`?(?P<name>[^`\s(:]+)`?\s*(?:\((?P<detail>.*)\))?\s*(?::\s*(?P<text>.*))?$",
    re.IGNORECASE,
)
_SETTING_LINE: Final = re.compile(r"^[-*]\s+(?P<key>mixins|hook|kind|logic)\s*:\s*(?P<value>.+)$", re.IGNORECASE)
_DEFAULT: Final = re.compile(r"^(?P<type>.*?)\s*,?\s*\bdefault\s+(?P<default>.+)$", re.IGNORECASE)
_NODE_KEYS: Final = frozenset(
    {"kind", "hook", "mixins", "logic", "module", "description", "inputs", "outputs", "config"}
)


@dataclass(frozen=True, slots=True)
class ParsedField:
    """One declared input, output or config field, as written (the type is checked later)."""

    role: FieldRole
    name: str
    type_expr: str | None
    default: str | None = None
    """The default as written in the PRD (a Python literal), or None for a required field."""
    description: str = ""


@dataclass(slots=True)
class ParsedNode:
    """One node the PRD asks for: its prose, its declared fields and any explicit choices."""

    name: str
    text: str
    """The requirement prose (the node's paragraph lines, without the field and setting bullets)."""
    section: str
    """The canonical key of the section the node was found in, or ``front_matter``."""
    fields: list[ParsedField] = field(default_factory=list)
    kind: str | None = None
    hook: str | None = None
    mixins: list[str] | None = None
    logic: str | None = None
    module: str | None = None
    explicit: set[str] = field(default_factory=set)
    """Which of kind/hook/mixins/logic/module were chosen explicitly (front matter or a setting bullet)."""


@dataclass(slots=True)
class ParsedPrd:
    """The structure of a PRD: title, sections, nodes, dependencies and the raw front matter."""

    title: str
    sections: dict[str, str]
    nodes: list[ParsedNode]
    dependencies: list[str]
    front_matter: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    """Things the parser noticed but did not treat as errors (unknown headings, ignored keys)."""


def parse_prd(text: str) -> ParsedPrd:
    """Parse a Markdown PRD (with optional YAML front matter) into its structure.

    Raises :class:`PrdSyntaxError` when the front matter is not a YAML mapping, the document has no ``# Title``,
    or a front-matter node entry is malformed.
    """
    front_matter, body = _split_front_matter(text)
    notes: list[str] = []
    title, sections, node_blocks = _read_sections(body, notes)
    nodes = [_read_node_block(name, section, lines) for name, section, lines in node_blocks]
    _apply_front_matter_nodes(nodes, front_matter, notes)
    title = str(front_matter.get("title", title) or "").strip()
    if not title:
        raise PrdSyntaxError("the PRD has no title: start the document with a '# Title' line")
    return ParsedPrd(
        title=title,
        sections=sections,
        nodes=nodes,
        dependencies=_read_list_items(sections.get("dependencies", "")),
        front_matter=front_matter,
        notes=notes,
    )


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if match is None:
        return {}, text
    try:
        loaded = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise PrdSyntaxError(f"the YAML front matter cannot be parsed: {exc}") from exc
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise PrdSyntaxError(f"the YAML front matter must be a mapping of keys to values, got {type(loaded).__name__}")
    return {str(key): value for key, value in loaded.items()}, text[match.end() :]


def _read_sections(body: str, notes: list[str]) -> tuple[str, dict[str, str], list[tuple[str, str, list[str]]]]:
    """Split the body into the title, section texts and node blocks (``### Name`` under a node section)."""
    title = ""
    sections: dict[str, list[str]] = {}
    node_blocks: list[tuple[str, str, list[str]]] = []
    current_section: str | None = None
    current_node: list[str] | None = None
    in_code_block = False
    for line in body.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            in_code_block = not in_code_block
        if not in_code_block and re.match(r"^#\s+\S", stripped) and not title:
            title = stripped[1:].strip()
            continue
        if not in_code_block and stripped.startswith("## "):
            heading = stripped[3:].strip().rstrip(":")
            current_section = SECTION_KEYS.get(heading.lower())
            if current_section is None:
                current_section = re.sub(r"\W+", "_", heading.lower()).strip("_")
                notes.append(
                    f'section "{heading}" is not one of the PRD sections; its text is kept but not interpreted'
                )
            sections.setdefault(current_section, [])
            current_node = None
            continue
        if not in_code_block and stripped.startswith("### ") and current_section in _NODE_SECTIONS:
            current_node = []
            node_blocks.append((stripped[4:].strip().strip("`"), current_section, current_node))
            continue
        if current_node is not None:
            current_node.append(line)
        elif current_section is not None:
            sections[current_section].append(line)
    return title, {key: "\n".join(lines).strip() for key, lines in sections.items()}, node_blocks


def _read_node_block(name: str, section: str, lines: list[str]) -> ParsedNode:
    node = ParsedNode(name=name, text="", section=section)
    prose: list[str] = []
    for line in lines:
        stripped = line.strip()
        field_match = _FIELD_LINE.match(stripped)
        setting_match = _SETTING_LINE.match(stripped)
        if field_match is not None:
            node.fields.append(_read_field(field_match, name))
        elif setting_match is not None:
            _apply_setting(node, setting_match.group("key").lower(), setting_match.group("value").strip())
        elif stripped:
            prose.append(stripped)
    node.text = " ".join(prose)
    return node


def _read_field(match: re.Match[str], node_name: str) -> ParsedField:
    role = match.group("role").lower()
    detail = (match.group("detail") or "").strip()
    type_expr: str | None = detail or None
    default: str | None = None
    default_match = _DEFAULT.match(detail)
    if default_match is not None:
        type_expr = default_match.group("type").strip().rstrip(",").strip() or None
        default = default_match.group("default").strip()
    if role not in ("input", "output", "config"):  # pragma: no cover - the regular expression allows only these
        raise PrdSyntaxError(f"node {node_name}: unknown field role {role!r}")
    return ParsedField(
        role=role,  # type: ignore[arg-type]  # narrowed by the check above
        name=match.group("name").strip(),
        type_expr=type_expr,
        default=default,
        description=(match.group("text") or "").strip(),
    )


def _apply_setting(node: ParsedNode, key: str, value: str) -> None:
    node.explicit.add(key)
    if key == "mixins":
        node.mixins = [item.strip().strip("`").lower().replace(" ", "_") for item in value.split(",") if item.strip()]
    elif key == "hook":
        node.hook = value.strip("`").strip()
    elif key == "kind":
        node.kind = value.strip("`").strip().lower()
    else:
        node.logic = value.strip().strip("`")


def _apply_front_matter_nodes(nodes: list[ParsedNode], front_matter: dict[str, Any], notes: list[str]) -> None:
    """Merge ``nodes:`` of the front matter into the nodes found in the prose (front matter wins)."""
    declared = front_matter.get("nodes") or {}
    if not isinstance(declared, dict):
        raise PrdSyntaxError("front matter 'nodes' must be a mapping of node names to their settings")
    by_name = {node.name: node for node in nodes}
    for name, settings in declared.items():
        settings = settings or {}
        if not isinstance(settings, dict):
            raise PrdSyntaxError(f"front matter node {name!r} must map to a mapping of settings, got {settings!r}")
        unknown = set(settings) - _NODE_KEYS
        if unknown:
            notes.append(f"front matter node {name!r}: ignored unknown keys {sorted(unknown)}")
        node = by_name.get(str(name))
        if node is None:
            node = ParsedNode(name=str(name), text=str(settings.get("description", "")), section="front_matter")
            nodes.append(node)
            by_name[node.name] = node
        for key in ("kind", "hook", "logic", "module"):
            if settings.get(key) is not None:
                setattr(node, key, str(settings[key]).strip().lower() if key == "kind" else str(settings[key]).strip())
                node.explicit.add(key)
        if settings.get("mixins") is not None:
            mixins = settings["mixins"]
            if not isinstance(mixins, list):
                raise PrdSyntaxError(f"front matter node {name!r}: 'mixins' must be a list, got {mixins!r}")
            node.mixins = [str(item).strip().lower() for item in mixins]
            node.explicit.add("mixins")
        for key, role in (("inputs", "input"), ("outputs", "output"), ("config", "config")):
            node.fields.extend(_front_matter_fields(str(name), key, role, settings.get(key)))


def _front_matter_fields(node_name: str, key: str, role: str, entries: Any) -> list[ParsedField]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise PrdSyntaxError(f"front matter node {node_name!r}: {key!r} must be a list of fields")
    fields: list[ParsedField] = []
    for entry in entries:
        if not isinstance(entry, dict) or "name" not in entry:
            raise PrdSyntaxError(
                f"front matter node {node_name!r}: each of {key!r} needs at least a 'name', got {entry!r}"
            )
        default = entry.get("default")
        fields.append(
            ParsedField(
                role=role,  # type: ignore[arg-type]  # one of the three literal roles passed by the caller
                name=str(entry["name"]),
                type_expr=None if entry.get("type") is None else str(entry["type"]),
                default=None if default is None else repr(default),
                description=str(entry.get("description", "")),
            )
        )
    return fields


def _read_list_items(text: str) -> list[str]:
    items = []
    for line in text.splitlines():
        match = re.match(r"^\s*(?:[-*]|\d+[.)])\s+(.*)$", line)
        if match:
            items.append(match.group(1).strip())
    return items
