"""Templates in probe and hook values: ``${ENV}`` from the environment, ``{var}`` from captures.

The two are resolved in one pass over the text, so a value that arrives from the
environment or from a response is never scanned again: a server answering ``${HOME}``
cannot make safeshift read an environment variable. Environment values used where
secrets live (headers, form fields, JSON bodies) are registered as secrets as they are
read, so they are masked in every output. The pure helpers (``placeholders``,
``env_names``, ``strings``, ``${ENV}`` interpolation) are :mod:`safeshift.config.env`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from safeshift.config.env import VAR, interpolate, segments
from safeshift.errors import ConfigError
from safeshift.secrets import register_secret


def render(text: str, variables: Mapping[str, str] | None, where: str, *, secret: bool) -> str:
    """Fill ``${ENV}`` (and ``{var}`` unless ``variables`` is None) in ``text``.

    ``secret``: the environment values read here are credentials (headers, bodies) and
    are registered for masking before they are used.
    """
    out: list[str] = []
    for is_env, piece in segments(text):
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
