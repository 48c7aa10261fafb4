"""``${VAR}`` / ``${VAR:-default}`` references in plan values, and the pure template helpers.

Values in a plan may name environment variables (``url = "${DATABASE_URL}"``) so no
secret sits in the file; probe and hook values may also hold ``{var}`` placeholders,
filled from earlier probes' captures at run time (``safeshift.app.template`` renders
them). Everything here is pure: it reads the environment, never writes anything.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from safeshift.errors import ConfigError
from safeshift.secrets import secret_query_values

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_ENV_SEGMENT = re.compile(r"\$\{[^}]*\}")
_ENV_NAME = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)")
# A ``{var}`` placeholder (filled from a capture), outside ``${ENV}`` references.
VAR = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def interpolate(text: str, where: str) -> str:
    """Replace ``${VAR}`` / ``${VAR:-default}`` with environment values."""

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        if value is None or value == "":
            if default is not None:
                return default
            raise ConfigError(f"{where}: environment variable {name} is not set")
        return value

    return ENV_REF.sub(sub, text)


# Values filled in later, by the code that uses them, never at load time: the database URL
# (interpolate_url refuses an inline password first), the application side ([maintenance],
# [[smoke]], watch.log_file, [[notify]]: ``{var}`` captures and ``${ENV}`` resolved in one pass, secrets
# registered as read, unset variables reported at preflight), and the command engine's argv
# (no shell runs it, and the URL must never land on a command line).
DEFERRED: tuple[tuple[str, ...], ...] = (
    ("database", "url"),
    ("maintenance",),
    ("smoke",),
    ("watch", "log_file"),
    ("notify",),  # webhook URLs: a value from the environment is a secret, registered as read
    ("migration", "up"),
    ("migration", "down"),
    ("migration", "current"),
    ("migration", "pending"),
    ("migration", "stamp"),
)


def interpolate_values(data: Any, filename: str, path: tuple[str | int, ...] = ()) -> Any:
    """``data`` (a plan as read from TOML) with ``${VAR}`` / ``${VAR:-default}`` filled in every
    string value, except the :data:`DEFERRED` ones; an unset variable without a default is a
    ConfigError naming the key (``safeshift.toml: migration.target: ...``)."""
    named = tuple(p for p in path if isinstance(p, str))
    if any(named[: len(prefix)] == prefix for prefix in DEFERRED):
        return data
    if isinstance(data, str):
        return interpolate(data, f"{filename}: {_key(path)}") if "${" in data else data
    if isinstance(data, Mapping):
        return {k: interpolate_values(v, filename, (*path, k)) for k, v in data.items()}
    if isinstance(data, list):
        return [interpolate_values(v, filename, (*path, i)) for i, v in enumerate(data)]
    return data


def _key(path: tuple[str | int, ...]) -> str:
    """``("checks", "post", 0, "table")`` as ``checks.post[0].table``, as validation errors name keys."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def interpolate_url(raw: str, filename: str, allow_inline_secrets: bool = False) -> URL:
    where = f"{filename}: database.url"
    if not allow_inline_secrets:
        # a reference's literal default (${PW:-hunter2}) is written in the plan like any literal
        literal = ENV_REF.sub(lambda m: m.group(2) if m.group(2) else "ENV", raw)
        try:
            literal_url = make_url(literal)
        except ArgumentError:
            literal_url = None
        inline = literal_url is not None and (
            literal_url.password not in (None, "", "ENV")
            or any(v not in ("", "ENV") for v in secret_query_values(literal_url.query))
        )
        if inline:
            raise ConfigError(
                f"{where}: the URL holds an inline password; put the URL in an environment "
                "variable (url = \"${DATABASE_URL}\") or set allow_inline_secrets = true"
            )
    text = interpolate(raw, where)
    try:
        return make_url(text)
    except ArgumentError:
        raise ConfigError(
            f"{where}: expected a database URL such as sqlite:///app.db or "
            "postgresql://user@host/db"
        ) from None


def segments(text: str) -> Iterator[tuple[bool, str]]:
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
    return [m.group(1) for is_env, piece in segments(text) if not is_env for m in VAR.finditer(piece)]


def env_names(text: str) -> list[str]:
    """The environment variables ``text`` refers to."""
    names = []
    for is_env, piece in segments(text):
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
