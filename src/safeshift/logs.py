"""Where third-party log records go: Alembic's "Context impl …" and "Running upgrade …" lines
belong in the run's journal (and on stderr with ``-v``), not mixed into safeshift's output.

A project's ``env.py`` usually calls ``logging.config.fileConfig(config.config_file_name)``
(``alembic init`` writes it so), which installs a stderr handler from ``alembic.ini`` and
turns the ``alembic`` logger to INFO. Inside :func:`captured` that call does nothing: the
records are routed by safeshift to the sinks registered with :func:`route`, and the logging
set-up of the process is left as it was found.
"""

from __future__ import annotations

import contextlib
import logging
import logging.config
from collections.abc import Callable, Iterator
from typing import Any

Sink = Callable[[logging.LogRecord], None]

_sinks: list[Sink] = []


def route(sink: Sink) -> Callable[[], None]:
    """Send captured records to ``sink`` (the run's journal, the ``-v`` view) until the returned
    function is called."""
    _sinks.append(sink)

    def unroute() -> None:
        with contextlib.suppress(ValueError):
            _sinks.remove(sink)

    return unroute


@contextlib.contextmanager
def routed(sink: Sink) -> Iterator[None]:
    """:func:`route` for the length of a ``with`` block."""
    unroute = route(sink)
    try:
        yield
    finally:
        unroute()


class _Forward(logging.Handler):
    """Hands each record to every sink; a sink that fails never fails the migration."""

    def emit(self, record: logging.LogRecord) -> None:
        for sink in list(_sinks):
            with contextlib.suppress(Exception):
                sink(record)


def _skipped(*args: Any, **kwargs: Any) -> None:
    """env.py's logging set-up while safeshift routes the records: nothing to do."""


@contextlib.contextmanager
def captured(*names: str) -> Iterator[None]:
    """Around a call into a library that logs (``captured("alembic")``): INFO and above of these
    loggers (and their children) go to the sinks only, whatever env.py does to logging.

    Everything touched (levels, handlers, propagation, the ``disabled`` flags that an earlier
    ``fileConfig`` may have set, ``logging.config.fileConfig``/``dictConfig``) is restored on
    the way out, so nesting and the process's own logging are safe.
    """
    manager = logging.root.manager
    loggers = [logging.getLogger(name) for name in names]
    children = [
        logger
        for key, logger in list(manager.loggerDict.items())
        if isinstance(logger, logging.Logger) and any(key.startswith(f"{name}.") for name in names)
    ]
    saved = [(lg, lg.level, lg.propagate, lg.handlers[:], lg.disabled) for lg in loggers]
    saved_children = [(lg, lg.disabled) for lg in children]
    originals = (logging.config.fileConfig, logging.config.dictConfig)
    handler = _Forward(logging.INFO)
    for logger in loggers:
        logger.handlers = [handler]
        logger.propagate = False
        logger.setLevel(logging.INFO)
        logger.disabled = False
    for logger in children:
        logger.disabled = False
    logging.config.fileConfig = _skipped
    logging.config.dictConfig = _skipped
    try:
        yield
    finally:
        logging.config.fileConfig, logging.config.dictConfig = originals
        for logger, level, propagate, handlers, disabled in saved:
            logger.setLevel(level)
            logger.propagate = propagate
            logger.handlers = handlers
            logger.disabled = disabled
        for logger, disabled in saved_children:
            logger.disabled = disabled


def describe(record: logging.LogRecord) -> dict[str, Any]:
    """A record as a journal event's fields."""
    try:
        message = record.getMessage()
    except Exception:  # a record whose arguments do not fit its format
        message = str(record.msg)
    return {"logger": record.name, "level": record.levelname, "message": message.strip()}
