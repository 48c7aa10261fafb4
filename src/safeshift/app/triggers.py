"""Rollback triggers evaluated over the watch window's ticks.

The grammar (``metric op number [for N ticks]``, :class:`Trigger`, :func:`parse_trigger`,
the metrics) is part of the plan and lives in :mod:`safeshift.config.triggers`, where the
``[watch]`` section is validated at load time; this module picks the trigger that fires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from safeshift.config.triggers import Trigger


def first_fired(triggers: Sequence[Trigger], history: Sequence[Mapping[str, float | None]]) -> str | None:
    """The first trigger (in plan order) that fires on ``history``, as its reason."""
    for trigger in triggers:
        reason = trigger.fired(history)
        if reason is not None:
            return reason
    return None
