"""Adopting safeshift on an existing project: ``safeshift init`` (a first plan from the project's
files and live schema) and the readers of external tools' version tables (``safeshift revisions``).

Recording where a legacy database stands (``safeshift baseline``) is the migrators' own
(:meth:`safeshift.migrators.base.Migrator.stamp`).
"""

from __future__ import annotations

from safeshift.adopt.init import InitResult, init_project
from safeshift.adopt.revisions import ToolRevisions, read_revisions
from safeshift.adopt.tools import TOOLS

__all__ = ["TOOLS", "InitResult", "ToolRevisions", "init_project", "read_revisions"]
