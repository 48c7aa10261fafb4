"""The application side of a cutover: maintenance mode, smoke probes, the watch window.

Modules (import them directly). The plan sections ``[maintenance]``, ``[[smoke]]`` and
``[watch]`` are models of :mod:`safeshift.config.models`; ``sections`` checks them against
each other when a plan is loaded.

- ``maintenance``: ``build_maintenance(section) -> MaintenanceHook | None`` (file, command, http)
- ``probes``: ``run_probes(probes, client, variables) -> list[ProbeResult]``
- ``watch``: ``Watcher(...).run() -> WatchResult``; ``triggers``: which trigger fires (the grammar: ``safeshift.config.triggers``)
- ``view``: Rich rendering of probe results and a live watch table, for the CLI
"""
