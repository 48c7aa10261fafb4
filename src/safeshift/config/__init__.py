"""The plan file: its models, ``${ENV}`` interpolation, one-line messages, loading.

This room imports nothing of safeshift but the leaf modules (``errors``, ``secrets``), so
every other room may import it. Modules (import them directly):

- ``models``: the pydantic models of every section and :class:`Plan`
- ``load``: ``load_plan(path)`` (models only), ``resolve_workdir``/``backup_dir`` (the plan's folders)
- ``env``: ``${VAR}`` / ``${VAR:-default}`` interpolation, the pure template helpers
- ``messages``: ``validation_message`` (a pydantic error as one line)
- ``compare``: the comparison operators (``==``, ``>=``, ...) every comparison uses
- ``triggers``: the grammar of the watch window's rollback triggers

Loading a plan for a run (every section checked, check kinds and hooks included) is
``safeshift.loading.load_plan``.
"""
