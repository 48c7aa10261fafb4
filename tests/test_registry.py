"""The one registry every plug-in family uses: names from a class attribute, lazy entries, one-line errors."""

from __future__ import annotations

from typing import ClassVar

import pytest

from safeshift.errors import ConfigError
from safeshift.registry import Registry


class Base:
    kind: ClassVar[str]


def test_register_by_attribute_or_name_and_look_up() -> None:
    reg: Registry[type[Base]] = Registry("widget kind", key="kind")

    @reg.register
    class Round(Base):
        kind = "round"

    @reg.register(name="square")
    class Square(Base):
        kind = "ignored"

    assert reg.get("round") is Round and reg.get("square") is Square
    assert reg.names() == ["round", "square"] and list(reg) == ["round", "square"] and len(reg) == 2
    assert "round" in reg and "oval" not in reg
    assert reg.find("oval") is None
    assert reg.as_dict() == {"round": Round, "square": Square}
    with pytest.raises(ConfigError, match=r"^plan.toml: widget.kind: unknown widget kind 'oval' \(known: round, square\)$"):
        reg.get("oval", where="plan.toml: widget.kind")


def test_a_name_is_taken_once() -> None:
    reg: Registry[type[Base]] = Registry("widget kind", key="kind")

    @reg.register
    class Round(Base):
        kind = "round"

    reg.register(Round)  # the same class again (a module reloaded) is fine

    class Other(Base):
        kind = "round"

    with pytest.raises(ValueError, match="widget kind 'round' is already registered"):
        reg.register(Other)
    with pytest.raises(TypeError, match="no 'kind'"):
        reg.register(Base)


def test_lazy_entries_are_imported_on_first_use() -> None:
    reg: Registry[object] = Registry("codec", unknown="unsupported codec {name!r} (supported: {known})")
    reg.register_lazy("json", "json:dumps")
    reg.register_lazy("missing", "safeshift_no_such_module:Thing")
    assert reg.names() == ["json", "missing"] and "json" in reg
    import json

    assert reg.get("json") is json.dumps
    with pytest.raises(ConfigError, match=r"^x: support for missing is not available: No module named"):
        reg.get("missing", where="x")
    with pytest.raises(ConfigError, match=r"^unsupported codec 'yaml' \(supported: json, missing\)$"):
        reg.get("yaml")
    with pytest.raises(ValueError, match="expected 'module.path:Attr'"):
        reg.register_lazy("bad", "no_colon")
