"""The rules, one per module; importing this package registers them all."""

from __future__ import annotations

from safeshift.lint.rules import (  # noqa: F401  (each module registers its rule)
    ss001_blocking_index,
    ss002_table_rewrite,
    ss003_not_null_without_default,
    ss004_foreign_key_validation,
    ss005_destructive,
    ss006_rename,
    ss007_unbatched_dml,
    ss008_explicit_lock,
    ss009_sqlite_refuses,
    ss010_partition_lock,
)
from safeshift.lint.rules.base import LINT_RULES, Hit, Rule, register, rule_classes

__all__ = ["LINT_RULES", "Hit", "Rule", "register", "rule_classes"]
