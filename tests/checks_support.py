"""Helpers for the check-kind tests: a small schema, building and running one check.

Every table is tiny and created fresh per test on each database (the ``db`` fixture).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from safeshift.checks import (
    CheckContext,
    CheckResult,
    capture_baseline,
    get_check_class,
    run_checks,
)
from safeshift.checks.base import Check

md = sa.MetaData()
families = sa.Table(
    "families",
    md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(50)),
    sa.Column("invite_code", sa.String(16)),
)
users = sa.Table(
    "users",
    md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("family_id", sa.Integer, nullable=True),
    sa.Column("parent_id", sa.Integer, nullable=True),
    sa.Column("is_parent", sa.Boolean, nullable=False, default=False),
    sa.Column("email", sa.String(50), nullable=True),
    sa.Column("nick", sa.String(50), nullable=True),
    sa.Index("ix_users_family_id", "family_id"),
)
teams = sa.Table(
    "teams",
    md,
    sa.Column("org", sa.String(10), primary_key=True),
    sa.Column("num", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("title", sa.String(20)),
    sa.UniqueConstraint("title", "org", name="uq_teams_title"),
)
members = sa.Table(
    "members",
    md,
    sa.Column("org", sa.String(10), primary_key=True),
    sa.Column("num", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("team_org", sa.String(10), nullable=True),
    sa.Column("team_num", sa.Integer, nullable=True),
    sa.Column("label", sa.String(20), nullable=True),
    sa.Index("ix_members_team", "team_org", "team_num"),
)
pets = sa.Table(
    "pets",
    md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id", name="fk_pets_owner"), nullable=True),
)
events = sa.Table(  # no primary key
    "events",
    md,
    sa.Column("user_id", sa.Integer, nullable=True),
    sa.Column("what", sa.String(20)),
)


def insert(engine: Engine, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(table.insert(), [dict(r) for r in rows])


def execute(engine: Engine, statement: sa.Executable) -> None:
    with engine.begin() as conn:
        conn.execute(statement)


def insert_unchecked(engine: Engine, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows that break a FOREIGN KEY while the constraint stays declared.

    SQLite does not enforce keys unless asked; MariaDB skips checks per session;
    PostgreSQL gets the constraint re-added NOT VALID, as a careless migration might.
    """
    with engine.begin() as conn:
        name = conn.dialect.name
        if name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE pets DROP CONSTRAINT fk_pets_owner")
        elif name in ("mysql", "mariadb"):
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
        conn.execute(table.insert(), [dict(r) for r in rows])
        if name == "postgresql":
            conn.exec_driver_sql(
                "ALTER TABLE pets ADD CONSTRAINT fk_pets_owner FOREIGN KEY (owner_id) "
                "REFERENCES users (id) NOT VALID"
            )
        elif name in ("mysql", "mariadb"):
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")


def make(kind: str, phase: str = "post", **config: Any) -> Check:
    """A check as build_checks would make it from ``[[checks.<phase>]] kind = ...``."""
    cls = get_check_class(kind)
    assert cls is not None, kind
    return cls(cls.Config.model_validate({"kind": kind, **config}), phase, 0)


def run(
    engine: Engine,
    check: Check,
    *,
    snapshot: Mapping[str, int] | None = None,
    baseline: dict[str, Any] | None = None,
    base_dir: Path | None = None,
) -> CheckResult:
    with engine.connect() as conn:
        ctx = CheckContext(conn=conn, snapshot=snapshot, base_dir=base_dir, baseline=baseline or {})
        return run_checks([check], ctx)[0]


def capture(engine: Engine, *checks: Check) -> dict[str, Any]:
    with engine.connect() as conn:
        return capture_baseline(list(checks), CheckContext(conn=conn))


def family_rows(engine: Engine) -> None:
    """Two clean families: 1 (parent 1, children 3, 4) and 2 (parent 2, child 5)."""
    insert(engine, families, [{"id": 1, "name": "a", "invite_code": "AAAA"}, {"id": 2, "name": "b", "invite_code": "BBBB"}])
    insert(
        engine,
        users,
        [
            {"id": 1, "family_id": 1, "parent_id": None, "is_parent": True},
            {"id": 2, "family_id": 2, "parent_id": None, "is_parent": True},
            {"id": 3, "family_id": 1, "parent_id": 1, "is_parent": False},
            {"id": 4, "family_id": 1, "parent_id": 1, "is_parent": False},
            {"id": 5, "family_id": 2, "parent_id": 2, "is_parent": False},
        ],
    )
