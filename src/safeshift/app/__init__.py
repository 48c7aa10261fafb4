"""The application side of a cutover: maintenance mode, smoke probes, the watch window.

Modules (import them directly; this package stays empty because :mod:`safeshift.plan`
imports :mod:`safeshift.app.config` while it loads):

- ``config``: the plan sections ``[maintenance]``, ``[[smoke]]``, ``[watch]``
- ``maintenance``: ``build_maintenance(section) -> MaintenanceHook | None`` (file, command, http)
- ``probes``: ``run_probes(probes, client, variables) -> list[ProbeResult]``
- ``watch``: ``Watcher(...).run() -> WatchResult``; ``triggers``: the trigger grammar
- ``view``: Rich rendering of probe results and a live watch table, for the CLI
"""
