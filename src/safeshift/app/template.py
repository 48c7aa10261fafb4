"""Templates in probe and hook values: ``${ENV}`` from the environment, ``{var}`` from captures.

The two are resolved in one pass over the text, so a value that arrives from the
environment or from a response is never scanned again: a server answering ``${HOME}``
cannot make safeshift read an environment variable. Environment values used where
secrets live (headers, form fields, JSON bodies) are registered as secrets as they are
read, so they are masked in every output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from safeshift.errors import ConfigError
from safeshift.secrets import register_secret

_ENV_SEGMENT = re.compile(r"\$\{[^}]*\}")
_ENV_NAME = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)")
VAR = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _segments(text: str) -> Iterator[tuple[bool, str]]:
    """Split ``text`` into (is_env_reference, piece) in order."""
    pos = 0
    for match in _ENV_SEGMENT.finditer(text):
        if match.start() > pos:
            yield False, text[pos : match.start()]
        yield True, match.group(0)
        pos = match.end()
    if pos < len(text):
        yield False, text[pos:]


def placeholders(text: str) -> list[str]:
    """The ``{var}`` names used in ``text`` (outside ``${ENV}`` references)."""
    return [m.group(1) for is_env, piece in _segments(text) if not is_env for m in VAR.finditer(piece)]


def env_names(text: str) -> list[str]:
    """The environment variables ``text`` refers to."""
    names = []
    for is_env, piece in _segments(text):
        match = _ENV_NAME.match(piece) if is_env else None
        if match:
            names.append(match.group(1))
    return names


def strings(data: Any) -> Iterator[str]:
    """Every string inside JSON-like data (keys are not templates)."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, Mapping):
        for value in data.values():
            yield from strings(value)
    elif isinstance(data, list | tuple):
        for value in data:
            yield from strings(value)


def render(text: str, variables: Mapping[str, str] | None, where: str, *, secret: bool) -> str:
    """Fill ``${ENV}`` (and ``{var}`` unless ``variables`` is None) in ``text``.

    ``secret``: the environment values read here are credentials (headers, bodies) and
    are registered for masking before they are used.
    """
    # Imported here: safeshift.plan imports this package's models while it loads.
    from safeshift.plan import interpolate

    out: list[str] = []
    for is_env, piece in _segments(text):
        if is_env:
            value = interpolate(piece, where)
            if secret and value != piece:
                register_secret(value)
            out.append(value)
        elif variables is None:
            out.append(piece)
        else:
            out.append(VAR.sub(lambda m: _lookup(variables, m.group(1), where), piece))
    return "".join(out)


def _lookup(variables: Mapping[str, str], name: str, where: str) -> str:
    if name not in variables:
        known = ", ".join(sorted(variables)) or "none"
        raise ConfigError(f"{where}: no value for {{{name}}} (captured so far: {known})")
    return variables[name]


def render_data(data: Any, variables: Mapping[str, str] | None, where: str, *, secret: bool) -> Any:
    """:func:`render` every string inside JSON-like data."""
    if isinstance(data, str):
        return render(data, variables, where, secret=secret)
    if isinstance(data, Mapping):
        return {k: render_data(v, variables, f"{where}.{k}", secret=secret) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [render_data(v, variables, f"{where}[{i}]", secret=secret) for i, v in enumerate(data)]
    return data


def as_text(value: Any) -> str:
    """A captured value as it is substituted into later requests."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
