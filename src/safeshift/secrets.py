"""Keep secrets out of everything safeshift writes or prints.

Secret values (the URL's password, env values named in the plan) are registered once;
:func:`redact` replaces them wherever text leaves the process: output, journal, report.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.engine import URL

MASK = "***"
_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a value that must never be shown (short values are ignored as too common)."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def register_url(url: URL) -> None:
    if url.password:
        register_secret(str(url.password))


def redact(text: str) -> str:
    """Replace every registered secret in ``text``."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_data(data: Any) -> Any:
    """Redact strings anywhere inside JSON-like data."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {k: redact_data(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [redact_data(v) for v in data]
    return data


def first_line(exc: BaseException, *, with_type: bool = True) -> str:
    """A (driver) error in one redacted line: ``"OperationalError: database is locked"``.

    The error SQLAlchemy wrapped (``orig``) is shown when there is one. Without the type
    name it is the line alone, or the type name when the error has no text. (Here rather
    than in errors.py because it redacts: secrets may import errors, never the reverse.)
    """
    orig = getattr(exc, "orig", None)
    err = orig if isinstance(orig, BaseException) else exc
    lines = str(err).strip().splitlines()
    text = lines[0].strip() if lines else ""
    if with_type:
        return redact(f"{type(err).__name__}: {text}")
    return redact(text or type(err).__name__)


def safe_url(url: URL) -> str:
    """The URL as it may be shown: password masked."""
    return url.render_as_string(hide_password=True)
