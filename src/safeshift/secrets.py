"""Keep secrets out of everything safeshift writes or prints.

Secret values (the URL's password, env values named in the plan) are registered once;
:func:`redact` replaces them wherever text leaves the process: output, journal, report.
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy.engine import URL

MASK = "***"
_lock = threading.Lock()
_secrets: set[str] = set()
_names: dict[str, re.Pattern[str]] = {}  # user names: masked where they name someone, not inside paths


def register_secret(value: str | None) -> None:
    """Remember a value that must never be shown (short values are ignored as too common)."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def register_name(value: str | None) -> None:
    """Remember a user name from a URL's userinfo.

    A name is often an ordinary word ("root", "postgres") that also spells a home folder
    or a database, so it is masked where it names the user: as a whole word outside paths
    and host names (``user "alice"``, ``'root'@'localhost'``, ``{"user": "alice"}``) and
    as a URL's userinfo (``//alice@`` or ``//alice:``), never inside ``/home/alice/x``.
    """
    if value and len(value) >= 4:
        name = re.escape(value)
        pattern = re.compile(rf"(?<![\w/.-]){name}(?![\w/.-])|(?<=//){name}(?=[:@])")
        with _lock:
            _names[value] = pattern


# query parameters that carry credentials, whatever the driver calls them
# (password, passwd, pwd, sslpassword, api_key, access_token, secret, auth, ...)
SECRET_PARAM = re.compile(r"pass|pwd|secret|token|auth|credential|(^|[_-])key$|apikey", re.IGNORECASE)


def secret_query_values(query: Any) -> list[str]:
    """The values of credential-bearing query parameters (one value or a tuple of them per key)."""
    found: list[str] = []
    for key, value in dict(query).items():
        if SECRET_PARAM.search(str(key)):
            found.extend(str(v) for v in (value if isinstance(value, tuple | list) else [value]))
    return found


def register_url(url: URL) -> None:
    """Every credential-bearing part of a database URL: user name, password, password-like query values."""
    register_name(url.username)
    if url.password:
        register_secret(str(url.password))
    for value in secret_query_values(url.query):
        register_secret(value)


def register_url_text(text: str) -> None:
    """The same for an HTTP URL given as text (smoke probes): userinfo password, secret query values."""
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return
    register_secret(password)
    register_name(parts.username)
    for value in secret_query_values({k: v for k, v in parse_qsl(parts.query, keep_blank_values=False)}):
        register_secret(value)


def redact(text: str) -> str:
    """Replace every registered secret in ``text``."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
        names = list(_names.items())
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    for name, pattern in names:
        if name in text:
            text = pattern.sub(MASK, text)
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
    """The URL as it may be shown: user name, password and credential-bearing query values masked."""
    query = {k: MASK if SECRET_PARAM.search(str(k)) else v for k, v in url.query.items()}
    shown = url.set(query=query, username=MASK if url.username else None)
    text = shown.render_as_string(hide_password=True).replace("//%2A%2A%2A", f"//{MASK}", 1)
    return redact(text)
