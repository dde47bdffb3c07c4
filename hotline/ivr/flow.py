"""Declarative IVR flows: YAML files validated at load, with errors naming file, line and field.

A flow is a set of named nodes and a start node; each incoming line (12345 or a merged
hotline number) is bound to one flow. Node types:

``play`` / ``announce``  a prompt (digits pressed meanwhile are ignored), then ``next``
``menu``     a prompt, one digit → ``options[digit]``; timeout / invalid digit → retry with
             ``invalid_prompt``; after ``retries`` → ``default``
``collect``  a prompt, then digits until ``#``, ``max_digits`` or the inter-digit timeout;
             stored in ``store_as``; too few → retry; after ``retries`` → ``on_fail``
``set``      skill / priority / language for the queue, then ``next``
``enqueue``  leave the IVR for the operator queue (optionally overriding skill / priority)
``transfer`` hand the call to a number through the dialplan
``hangup``   an optional prompt, then hang up
``condition`` time of day, weekdays, dates and runtime flags → ``then`` / ``else``
``ticket_status`` read back the status of the ticket number in ``number_from``
                  → ``found`` / ``not_found``

Supervisors may switch only the runtime flags some flow in force reads: those its
``condition`` nodes name, and any it declares in a top-level ``flags:`` list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hotline.errors import HotlineError

PROMPT = re.compile(r"^((sound|digits|number|tone|recording):)?[\w/.,:#*-]+$")
Prompt = Annotated[str, Field(min_length=1, max_length=200, pattern=PROMPT.pattern)]
Prompts = Prompt | list[Prompt]
NodeId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w-]+$")]
FlagName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w-]+$")]


class FlowError(HotlineError):
    """A flow file that cannot be used; ``errors`` lists ``file:line: field: problem``."""

    error_id = "ivr-flow-invalid"
    status = 422

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors[:5]), errors=errors)
        self.errors = errors


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlayNode(_Node):
    type: Literal["play", "announce"]
    prompt: Prompts
    next: NodeId


class MenuNode(_Node):
    type: Literal["menu"]
    prompt: Prompts
    options: dict[Annotated[str, Field(pattern=r"^[0-9*#]$")], NodeId]
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    retries: int = Field(default=2, ge=0, le=5)
    invalid_prompt: Prompts = "hotline/invalid"
    default: NodeId


class CollectNode(_Node):
    type: Literal["collect"]
    prompt: Prompts
    store_as: NodeId
    min_digits: int = Field(default=1, ge=1, le=32)
    max_digits: int = Field(default=20, ge=1, le=32)
    timeout_s: float = Field(default=8.0, gt=0, le=60)
    inter_digit_s: float = Field(default=4.0, gt=0, le=30)
    retries: int = Field(default=2, ge=0, le=5)
    invalid_prompt: Prompts = "hotline/invalid"
    next: NodeId
    on_fail: NodeId


class SetNode(_Node):
    type: Literal["set"]
    skill: Annotated[str, Field(max_length=64)] | None = None
    priority: int | None = Field(default=None, ge=0, le=100)
    language: Annotated[str, Field(max_length=8)] | None = None
    next: NodeId


class EnqueueNode(_Node):
    type: Literal["enqueue"]
    skill: Annotated[str, Field(max_length=64)] | None = None
    priority: int | None = Field(default=None, ge=0, le=100)


class TransferNode(_Node):
    type: Literal["transfer"]
    number: Annotated[str, Field(pattern=r"^[0-9*#+]{1,32}$")]
    prompt: Prompts | None = None


class HangupNode(_Node):
    type: Literal["hangup"]
    prompt: Prompts | None = None


class ConditionNode(_Node):
    type: Literal["condition"]
    time: Annotated[str, Field(pattern=r"^\d\d:\d\d-\d\d:\d\d$")] | None = None
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] | None = None
    dates: list[date] | None = None
    flag: Annotated[str, Field(max_length=64)] | None = None
    then: NodeId
    else_: NodeId = Field(alias="else")

    @field_validator("time")
    @classmethod
    def _valid_times(cls, v: str | None) -> str | None:
        if v is not None:
            for part in v.split("-"):
                time.fromisoformat(part)
        return v


class TicketStatusNode(_Node):
    type: Literal["ticket_status"]
    number_from: NodeId
    found: NodeId
    not_found: NodeId


Node = Annotated[
    PlayNode
    | MenuNode
    | CollectNode
    | SetNode
    | EnqueueNode
    | TransferNode
    | HangupNode
    | ConditionNode
    | TicketStatusNode,
    Field(discriminator="type"),
]
NODE_TYPES = {
    "play",
    "announce",
    "menu",
    "collect",
    "set",
    "enqueue",
    "transfer",
    "hangup",
    "condition",
    "ticket_status",
}
WAITING = (PlayNode, MenuNode, CollectNode, EnqueueNode, TransferNode, HangupNode, TicketStatusNode)


class Flow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=64)]
    lines: list[Annotated[str, Field(pattern=r"^[0-9]{3,20}$")]] = Field(default_factory=list)
    start: NodeId
    nodes: dict[NodeId, Node]
    # runtime flags supervisors may switch beyond those the flow's conditions read
    flags: list[FlagName] = Field(default_factory=list)

    def targets(self, node: Any) -> dict[str, str]:
        out = {}
        for name in ("next", "default", "on_fail", "then", "else_", "found", "not_found"):
            value = getattr(node, name, None)
            if value:
                out["else" if name == "else_" else name] = value
        if isinstance(node, MenuNode):
            out.update({f"options.{k}": v for k, v in node.options.items()})
        return out

    def flags_read(self) -> set[str]:
        """The runtime flags this flow reads: its conditions' and the declared ones."""
        read = {n.flag for n in self.nodes.values() if isinstance(n, ConditionNode) and n.flag}
        return read | set(self.flags)

    def prompts(self) -> set[str]:
        names: set[str] = set()
        for node in self.nodes.values():
            for attr in ("prompt", "invalid_prompt"):
                value = getattr(node, attr, None)
                if value:
                    names.update([value] if isinstance(value, str) else value)
        return names


def media(prompt: str | list[str] | None) -> tuple[str, ...]:
    """ARI media URIs for a prompt or a list of them (bare names are sounds)."""
    if not prompt:
        return ()
    items = [prompt] if isinstance(prompt, str) else prompt
    return tuple(p if ":" in p.split("/")[0] else f"sound:{p}" for p in items)


class _LineLoader(yaml.SafeLoader):
    """Keeps each mapping key's line, so errors can point at the file line."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, bool) or not isinstance(key, str | int | float):
            raise yaml.constructor.ConstructorError(
                None, None, "keys must be plain text", key_node.start_mark
            )
        key = str(key)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        lines[key] = key_node.start_mark.line + 1
    mapping["__lines__"] = lines
    return mapping


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _strip(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _strip(v) for k, v in data.items() if k != "__lines__"}
    if isinstance(data, list):
        return [_strip(v) for v in data]
    return data


def _line_of(data: Any, loc: tuple[Any, ...]) -> int:
    line = 1
    cursor = data
    for part in loc:
        if isinstance(cursor, dict):
            key = "else" if part == "else_" else str(part)
            line = cursor.get("__lines__", {}).get(key, line)
            cursor = cursor.get(key)
        elif isinstance(cursor, list) and isinstance(part, int) and part < len(cursor):
            cursor = cursor[part]
        else:
            break
    return line


def parse_flow(text: str, source: str = "<flow>") -> Flow:
    """Parse and check one flow; raise :class:`FlowError` with every problem found."""
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        line = mark.line + 1 if mark else 1
        raise FlowError([f"{source}:{line}: not valid YAML: {getattr(e, 'problem', e)}"]) from None
    if not isinstance(data, dict):
        raise FlowError([f"{source}:1: a flow is a mapping with name, start and nodes"])
    try:
        flow = Flow.model_validate(_strip(data))
    except ValidationError as e:
        errors = []
        for err in e.errors():
            # pydantic puts the union's tag in the path (nodes.greet.play.next); drop it
            loc = tuple(p for i, p in enumerate(err["loc"]) if i != 2 or p not in NODE_TYPES)
            field = ".".join(str(p) for p in loc)
            errors.append(f"{source}:{_line_of(data, loc)}: {field}: {err['msg']}")
        raise FlowError(errors) from None
    errors = check_graph(flow, data, source)
    if errors:
        raise FlowError(errors)
    return flow


def check_graph(flow: Flow, data: dict[str, Any], source: str) -> list[str]:
    """Every target exists, the start exists, and no loop runs without waiting for the caller."""
    errors = []
    if flow.start not in flow.nodes:
        errors.append(f"{source}:{_line_of(data, ('start',))}: start: unknown node {flow.start!r}")
    for name, node in flow.nodes.items():
        for field, target in flow.targets(node).items():
            if target not in flow.nodes:
                line = _line_of(data, ("nodes", name, field.split(".")[0]))
                errors.append(f"{source}:{line}: nodes.{name}.{field}: unknown node {target!r}")
    if errors:
        return errors
    # Nodes that do not wait for the caller must not form a cycle (a call would spin).
    instant = {n for n, node in flow.nodes.items() if not isinstance(node, WAITING)}
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in flow.targets(flow.nodes[name]).values():
            if target not in instant:
                continue
            if state.get(target) == 1:
                loop = " → ".join([*path[path.index(target) :], target])
                line = _line_of(data, ("nodes", target))
                errors.append(f"{source}:{line}: nodes.{target}: loops without a prompt: {loop}")
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(instant):
        if name not in state:
            visit(name, [name])
    return errors


@dataclass(frozen=True)
class FlowSet:
    """The flows in force: one per line, and the default for lines without one."""

    by_line: dict[str, Flow]
    default: Flow
    sources: dict[str, str]

    def for_line(self, line: str) -> Flow:
        return self.by_line.get(line, self.default)

    def known_flags(self) -> frozenset[str]:
        """Every flag some flow in force reads: the only ones worth switching."""
        return frozenset().union(*(f.flags_read() for f in [*self.by_line.values(), self.default]))


DEFAULT_FLOW = """
name: default
start: greet
nodes:
  greet: {type: play, prompt: hotline/welcome, next: queue}
  queue: {type: enqueue}
"""


def load_flows(folder: Path | None, *, greeting: str = "hotline/welcome") -> FlowSet:
    """All ``*.yaml`` flows in ``folder``; errors from every file are reported together."""
    default = parse_flow(DEFAULT_FLOW.replace("hotline/welcome", greeting), "<built-in>")
    by_line: dict[str, Flow] = {}
    sources: dict[str, str] = {}
    errors: list[str] = []
    if folder is not None:
        for path in sorted(folder.glob("*.yaml")):
            try:
                flow = parse_flow(path.read_text(encoding="utf-8"), str(path))
            except FlowError as e:
                errors += e.errors
                continue
            except (OSError, UnicodeDecodeError) as e:
                errors.append(f"{path}:1: cannot read: {e}")
                continue
            for line in flow.lines:
                if line in by_line:
                    errors.append(f"{path}:1: lines: {line} is already bound to {sources[line]}")
                by_line[line] = flow
                sources[line] = str(path)
            if not flow.lines and flow.name == "default":
                default = flow
    if errors:
        raise FlowError(errors)
    return FlowSet(by_line, default, sources)
