"""Each check kind's keys, read from its pydantic model: ``safeshift checks`` and the README table.

Generated, never written by hand, so the documentation of a kind's keys (type, default,
what it means) cannot drift from what the plan loader accepts; a test compares the
README's table with :func:`markdown_table`.
"""

from __future__ import annotations

import json
import types
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from safeshift.checks.base import CHECK_KINDS, CheckConfig
from safeshift.checks.common import Shown

# Keys every kind takes; listed once, not with each kind.
COMMON_KEYS = ("name", "description")
_SKIPPED = ("kind", *COMMON_KEYS)
_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean"}


@dataclass(frozen=True)
class KeyDoc:
    """One key of a check kind."""

    name: str
    type: str
    required: bool
    default: Any  # as TOML would write it; None when there is none
    description: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def default_text(self) -> str:
        """The default as written in a plan (``"id"``, ``10``, ``false``), or "required"/"none"."""
        if self.required:
            return "required"
        return "none" if self.default is None else _toml(self.default)


@dataclass(frozen=True)
class KindDoc:
    """One check kind: what it proves and its keys (common keys excluded)."""

    kind: str
    summary: str
    keys: tuple[KeyDoc, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "summary": self.summary, "keys": [k.to_dict() for k in self.keys]}


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{}" if not value else "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def type_text(annotation: Any, metadata: list[Any] | tuple[Any, ...] = ()) -> str:
    """A key's type as a person reads it: "table.column", "integer", "list of string"."""
    for item in metadata:
        if isinstance(item, Shown):
            return item.text
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        return type_text(inner, extra)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return type_text(options[0])
        if set(options) <= set(_SIMPLE):
            return " or ".join(_SIMPLE[o] for o in options)
        return " or ".join(type_text(o) for o in options)
    if origin is Literal:
        return " | ".join(json.dumps(a) for a in get_args(annotation))
    if origin in (list, tuple):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        return f"list of {type_text(args[0])}" if args else "list"
    if origin is dict:
        key, value = get_args(annotation)
        return f"table of {type_text(key)} = {type_text(value)}"
    return _SIMPLE.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _key(name: str, info: FieldInfo) -> KeyDoc:
    required = info.is_required()
    default: Any = None
    if not required:
        default = info.get_default(call_default_factory=True)
        if default is PydanticUndefined:
            default = None
    return KeyDoc(
        name=name,
        type=type_text(info.annotation, info.metadata),
        required=required,
        default=default,
        description=info.description or "",
    )


def keys_of(config: type[CheckConfig], skip: tuple[str, ...] = _SKIPPED) -> tuple[KeyDoc, ...]:
    """The keys of a kind's model: its own first (in the order written), then inherited ones."""
    fields = config.model_fields
    inherited = [n for n in CheckConfig.model_fields if n in fields]
    own = [n for n in fields if n not in inherited]
    order = sorted(own, key=lambda n: _declared_at(config, n)) + inherited
    return tuple(_key(name, fields[name]) for name in order if name not in skip)


def _declared_at(config: type[CheckConfig], name: str) -> int:
    """How deep in the bases a key is first declared: shared keys (``expect``, ``baseline``)
    come after the kind's own, even where the kind changes their default."""
    depths = [d for d, cls in enumerate(config.__mro__) if name in cls.__dict__.get("__annotations__", {})]
    return max(depths, default=len(config.__mro__))


def catalog() -> list[KindDoc]:
    """Every registered check kind, in name order."""
    return [KindDoc(kind, cls.summary, keys_of(cls.Config)) for kind, cls in CHECK_KINDS.items()]


def common_keys() -> tuple[KeyDoc, ...]:
    """The keys every kind takes (``name``, ``description``)."""
    return keys_of(CheckConfig, skip=("kind",))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table() -> str:
    """The README's table of check kinds: one row per kind, each key with its type and default."""
    lines = ["| kind | proves | keys (type, default) |", "|---|---|---|"]
    for doc in catalog():
        keys = "<br>".join(
            f"`{k.name}` ({_cell(k.type)}, {'**required**' if k.required else _cell(k.default_text)}): {_cell(k.description)}"
            for k in doc.keys
        )
        lines.append(f"| `{doc.kind}` | {_cell(doc.summary)} | {keys} |")
    common = ", ".join(f"`{k.name}` ({_cell(k.description)})" for k in common_keys())
    lines += ["", f"Every kind also takes {common}."]
    return "\n".join(lines) + "\n"
