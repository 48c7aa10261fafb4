"""The SQL-file migrator: numbered up/down files, checksums, dialect folders, statement splitting.

Round trips run on every reachable database; each test reopens the database to check what
is really there, not what the migrator says.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from helpers import drop_scratch, scratch_url
from safeshift.dialects import get_dialect
from safeshift.errors import ConfigError
from safeshift.loading import parse_plan
from safeshift.migrators import get_migrator, output_of
from safeshift.migrators.sqlfiles import (
    VERSION_TABLE,
    Migration,
    SqlFileError,
    SqlFilesMigrator,
    split_statements,
)


def make_migrator(folder: Path, files: dict[str, str]) -> SqlFilesMigrator:
    """A plan in ``folder`` whose migrations/ holds ``files`` (relative path -> SQL)."""
    for rel, sql in files.items():
        path = folder / "migrations" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)
    (folder / "migrations").mkdir(parents=True, exist_ok=True)
    plan = parse_plan(
        {"database": {"url": "sqlite:///unused.db"}, "migration": {"engine": "sql", "directory": "migrations"}},
        folder / "safeshift.toml",
    )
    migrator = get_migrator(plan)
    assert isinstance(migrator, SqlFilesMigrator)
    return migrator


WIDGETS = {
    "0001_widgets.up.sql": """
        -- widgets; with a comment that has a ; in it
        CREATE TABLE widgets (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL);
        INSERT INTO widgets (id, name) VALUES (1, 'semi;colon'), (2, 'it''s'), (3, '100%');
    """,
    "0001_widgets.down.sql": "DROP TABLE widgets;",
    "0002_gadgets.up.sql": """
        /* gadgets belong to widgets; block comment */
        CREATE TABLE gadgets (id INTEGER PRIMARY KEY, widget_id INTEGER NOT NULL);
        INSERT INTO gadgets (id, widget_id) SELECT id, id FROM widgets WHERE name LIKE '%o%'
    """,
    "0002_gadgets.down.sql": "DROP TABLE gadgets;\n",
}


def tables(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(sa.inspect(conn).get_table_names())


def versions(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT version, name, checksum FROM {VERSION_TABLE} ORDER BY version")).all()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def test_round_trip(db_engine: Engine, tmp_path: Path) -> None:
    sql = make_migrator(tmp_path, WIDGETS)
    with db_engine.connect() as conn:
        assert sql.current(conn) is None
        assert [(r.id, r.message) for r in sql.pending(conn, "head")] == [("0001", "widgets"), ("0002", "gadgets")]
        assert sql.resolve_target("head") == "0002"
        sql.upgrade(conn, "0001")
        assert sql.current(conn) == "0001"
        output = sql.upgrade(conn, "head")
        assert sql.current(conn) == "0002"
        assert sql.pending(conn, "head") == []
    assert output is not None and [f["file"] for f in output["files"]] == [
        "migrations/0002_gadgets.up.sql"
    ]
    assert tables(db_engine) == ["gadgets", VERSION_TABLE, "widgets"]
    digest = hashlib.sha256((tmp_path / "migrations" / "0001_widgets.up.sql").read_bytes()).hexdigest()
    assert versions(db_engine)[0] == ("0001", "widgets", digest)
    with db_engine.connect() as conn:
        names = conn.execute(sa.text("SELECT name FROM widgets ORDER BY id")).scalars().all()
        assert names == ["semi;colon", "it's", "100%"]
        assert conn.execute(sa.text("SELECT COUNT(*) FROM gadgets")).scalar() == 1
        sql.downgrade(conn, "0001")
        assert sql.current(conn) == "0001"
    assert tables(db_engine) == [VERSION_TABLE, "widgets"]
    with db_engine.connect() as conn:
        sql.downgrade(conn, None)
        assert sql.current(conn) is None
    assert tables(db_engine) == []  # back at base, the bookkeeping table is gone too


def test_failing_file_names_file_and_line(db_kind: str, db_engine: Engine, tmp_path: Path) -> None:
    sql = make_migrator(
        tmp_path,
        {
            "0001_widgets.up.sql": WIDGETS["0001_widgets.up.sql"],
            "0002_broken.up.sql": "CREATE TABLE gadgets (id INTEGER PRIMARY KEY);\n\nSELECT * FROM no_such_table;\n",
        },
    )
    with db_engine.connect() as conn:
        with pytest.raises(SqlFileError, match=r"^migrations/0002_broken.up.sql: statement 2 \(line 3\) failed: ") as info:
            sql.upgrade(conn, "head")
        assert sql.current(conn) == "0001"  # 0001 committed on its own
    output = output_of(info.value)
    assert output is not None and output["files"][-1]["ok"] is False
    expected = ["widgets"] if db_kind != "mysql" else ["gadgets", "widgets"]  # MySQL DDL commits itself
    assert [t for t in tables(db_engine) if t != VERSION_TABLE] == expected


def test_interrupted_upgrade_carries_its_partial_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C between files: the same KeyboardInterrupt comes out, with what ran so far attached."""
    sql = make_migrator(tmp_path, WIDGETS)
    original = SqlFilesMigrator._run_file

    def interrupted(self: SqlFilesMigrator, conn: Connection, mig: Migration, *args: Any, **kwargs: Any) -> None:
        if mig.version == "0002":
            raise KeyboardInterrupt
        original(self, conn, mig, *args, **kwargs)

    monkeypatch.setattr(SqlFilesMigrator, "_run_file", interrupted)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with engine.connect() as conn, pytest.raises(KeyboardInterrupt) as info:
        sql.upgrade(conn, "head")
    engine.dispose()
    output = output_of(info.value)
    assert output is not None and output["direction"] == "up"
    assert [(f["file"], f["ok"]) for f in output["files"]] == [("migrations/0001_widgets.up.sql", True)]



def test_changed_applied_file_is_refused(tmp_path: Path, db_engine: Engine) -> None:
    sql = make_migrator(tmp_path, WIDGETS)
    with db_engine.connect() as conn:
        sql.upgrade(conn, "0001")
    path = tmp_path / "migrations" / "0001_widgets.up.sql"
    path.write_text(path.read_text() + "\n-- an innocent-looking edit\n")
    with db_engine.connect() as conn, pytest.raises(ConfigError) as info:
        sql.pending(conn, "head")
    message = str(info.value)
    assert message.startswith("migrations/0001_widgets.up.sql: changed after it was applied")
    assert "\n" not in message
    with db_engine.connect() as conn, pytest.raises(ConfigError, match="0001_widgets.up.sql: changed"):
        sql.upgrade(conn, "head")
    assert "gadgets" not in tables(db_engine)


def test_crlf_checkout_is_not_a_change(tmp_path: Path) -> None:
    sql = make_migrator(tmp_path, WIDGETS)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with engine.connect() as conn:
        sql.upgrade(conn, "0001")
    path = tmp_path / "migrations" / "0001_widgets.up.sql"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    with engine.connect() as conn:
        assert [r.id for r in sql.pending(conn, "head")] == ["0002"]
    engine.dispose()


def test_dialect_folder_overrides_generic(db_kind: str, db_engine: Engine, tmp_path: Path) -> None:
    sql = make_migrator(
        tmp_path,
        {
            "0001_things.up.sql": "CREATE TABLE generic_things (id INTEGER PRIMARY KEY);",
            "0001_things.down.sql": "DROP TABLE generic_things;",
            "sqlite/0001_things.up.sql": "CREATE TABLE lite_things (id INTEGER PRIMARY KEY);",
            "sqlite/0001_things.down.sql": "DROP TABLE lite_things;",
            "postgresql/0001_things.up.sql": "CREATE TABLE pg_things (id INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY);",
            "postgresql/0001_things.down.sql": "DROP TABLE pg_things;",
        },
    )
    expected = {"sqlite": "lite_things", "postgresql": "pg_things", "mysql": "generic_things"}[db_kind]
    with db_engine.connect() as conn:
        sql.upgrade(conn, "head")
    assert expected in tables(db_engine)
    folder = "" if db_kind == "mysql" else f"{db_kind}/"
    digest = hashlib.sha256((tmp_path / "migrations" / f"{folder}0001_things.up.sql").read_bytes()).hexdigest()
    assert versions(db_engine)[0][2] == digest  # the checksum is of the file that ran
    with db_engine.connect() as conn:
        sql.downgrade(conn, None)
    assert tables(db_engine) == []


def test_render_picks_the_dialect_file_and_shows_bookkeeping(tmp_path: Path) -> None:
    sql = make_migrator(
        tmp_path,
        {
            "0001_a.up.sql": "CREATE TABLE a (id INTEGER);",
            "0002_b.up.sql": "CREATE TABLE b (id INTEGER); CREATE TABLE c (id INTEGER);",
            "postgresql/0002_b.up.sql": "CREATE TABLE b (id BIGINT);",
        },
    )
    pg = sql.render("0001", "head", "postgresql")
    assert pg[0] == "-- migrations/postgresql/0002_b.up.sql\nCREATE TABLE b (id BIGINT)"
    assert pg[1].startswith(f"INSERT INTO {VERSION_TABLE} (version, name, checksum, applied_at) VALUES ('0002', 'b', '")
    lite = sql.render(None, "head", "sqlite")
    assert [s.splitlines()[-1] for s in lite if not s.startswith("INSERT")] == [
        "CREATE TABLE a (id INTEGER)",
        "CREATE TABLE b (id INTEGER)",
        "CREATE TABLE c (id INTEGER)",
    ]


def test_missing_down_file_fails_before_anything_runs(tmp_path: Path, db_engine: Engine) -> None:
    files = dict(WIDGETS)
    del files["0001_widgets.down.sql"]
    sql = make_migrator(tmp_path, files)
    with db_engine.connect() as conn:
        sql.upgrade(conn, "head")
        with pytest.raises(ConfigError, match=r"^migrations/0001_widgets.down.sql is missing: cannot downgrade 0001"):
            sql.downgrade(conn, None)
        assert sql.current(conn) == "0002"  # 0002's down did not run either
    assert "gadgets" in tables(db_engine)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"0001_a.sql": "SELECT 1;"}, "migrations/0001_a.sql: not a migration file name"),
        ({"0001_a.down.sql": "SELECT 1;"}, "migrations/0001_a.down.sql: has no matching 0001_a.up.sql"),
        ({"0001_a.up.sql": "", "1_b.up.sql": ""}, "version 1 is already 0001_a"),
        ({"0001_a.up.sql": "", "postgres/0001_a.up.sql": ""}, "migrations/postgres: unknown database folder 'postgres'"),
        ({"0001_a.up.sql": "BEGIN;\nCREATE TABLE a (id INTEGER);\nCOMMIT;"}, "0001_a.up.sql: line 1: BEGIN"),
        ({"0001_a.up.sql": "SELECT 'oops;"}, "0001_a.up.sql: line 1: unterminated string"),
    ],
)
def test_bad_folders_are_one_line_errors(files: dict[str, str], message: str, tmp_path: Path) -> None:
    sql = make_migrator(tmp_path, files)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with pytest.raises(ConfigError) as info, engine.connect() as conn:
        sql.upgrade(conn, "head")
    assert message in str(info.value) and "\n" not in str(info.value)
    engine.dispose()


def test_unapplied_older_version_is_refused(tmp_path: Path) -> None:
    sql = make_migrator(tmp_path, {"0001_a.up.sql": "CREATE TABLE a (id INTEGER);", "0003_c.up.sql": "CREATE TABLE c (id INTEGER);"})
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with engine.connect() as conn:
        sql.upgrade(conn, "head")
        (tmp_path / "migrations" / "0002_b.up.sql").write_text("CREATE TABLE b (id INTEGER);")
        with pytest.raises(ConfigError, match="0002_b.up.sql: older than the applied version 0003"):
            sql.pending(conn, "head")
    engine.dispose()


def test_unknown_target(tmp_path: Path) -> None:
    sql = make_migrator(tmp_path, WIDGETS)
    assert sql.resolve_target("2") == "0002"
    assert sql.resolve_target("0001_widgets") == "0001"
    with pytest.raises(ConfigError, match=r"migration.target: no migration '0009' \(known: 0001, 0002, or head\)"):
        sql.resolve_target("0009")


def test_plain_pysqlite_engine_still_gets_transactional_ddl(tmp_path: Path) -> None:
    """Without safeshift's SQLite engine, pysqlite would autocommit the CREATE TABLE."""
    sql = make_migrator(tmp_path, {"0001_a.up.sql": "CREATE TABLE a (id INTEGER);\nSELECT * FROM missing;"})
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with engine.connect() as conn, pytest.raises(SqlFileError):
        sql.upgrade(conn, "head")
    assert tables(engine) == []
    engine.dispose()


# -- splitting --------------------------------------------------------------------------

PG_SCRIPT = r"""
-- a comment; with a semicolon
CREATE FUNCTION touch() RETURNS trigger AS $body$
BEGIN
  NEW.note := 'a;b';  -- inside the body
  RETURN NEW;
END;
$body$ LANGUAGE plpgsql;
DO $$ BEGIN RAISE NOTICE 'x;y'; END $$;
/* block /* nested; */ still a comment; */
SELECT E'it\'s;', 'o''k;', "odd;name", $1::text FROM t -- trailing; comment
;
CREATE FUNCTION one() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;
SELECT 'no delimiter at the end'
"""


def test_split_postgresql() -> None:
    statements = split_statements(PG_SCRIPT, "postgresql")
    assert len(statements) == 5
    assert statements[0].startswith("CREATE FUNCTION touch()") and statements[0].endswith("LANGUAGE plpgsql")
    assert "NEW.note := 'a;b';" in statements[0]
    assert statements[1] == "DO $$ BEGIN RAISE NOTICE 'x;y'; END $$"
    assert statements[2] == "SELECT E'it\\'s;', 'o''k;', \"odd;name\", $1::text FROM t"
    assert statements[3].endswith("SELECT CASE WHEN true THEN 2 END; END")
    assert statements[4] == "SELECT 'no delimiter at the end'"


def test_split_sqlite_trigger_and_mysql_delimiter() -> None:
    sqlite_script = """
        CREATE TRIGGER t AFTER INSERT ON a BEGIN
          UPDATE a SET x = CASE WHEN NEW.y THEN 1 ELSE 2 END; DELETE FROM b;
        END;
        SELECT 'a\\'; SELECT 2;
    """
    assert [s.split()[0] + "…" + s.split()[-1] for s in split_statements(sqlite_script, "sqlite")] == [
        "CREATE…END",
        "SELECT…'a\\'",
        "SELECT…2",
    ]
    mysql_script = """# a comment;
        SELECT 'a\\';b', `odd;name` FROM t;
        DELIMITER $$
        CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END$$
        DELIMITER ;
        /*!40101 SET NAMES utf8mb4 */;
        /* only a comment; */
    """
    assert split_statements(mysql_script, "mysql") == [
        "SELECT 'a\\';b', `odd;name` FROM t",
        "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END",
        "/*!40101 SET NAMES utf8mb4 */",
    ]


@pytest.fixture
def pg_engine(tmp_path: Path) -> Iterator[Engine]:
    url = scratch_url("postgresql", tmp_path)
    engine = get_dialect(url).create_engine()
    try:
        yield engine
    finally:
        engine.dispose()
        drop_scratch("postgresql", url)


@pytest.mark.server
def test_dollar_quoted_function_runs_on_postgresql(tmp_path: Path, pg_engine: Engine) -> None:
    db_engine = pg_engine
    sql = make_migrator(
        tmp_path,
        {
            "postgresql/0001_fn.up.sql": """
                CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, stamp TEXT);
                CREATE FUNCTION stamp_note() RETURNS trigger AS $fn$
                BEGIN
                  NEW.stamp := 'stamped; ' || NEW.body;  -- a ; in a string in a body
                  RETURN NEW;
                END;
                $fn$ LANGUAGE plpgsql;
                CREATE TRIGGER notes_stamp BEFORE INSERT ON notes FOR EACH ROW EXECUTE FUNCTION stamp_note();
                INSERT INTO notes (id, body) VALUES (1, '50%');
            """,
            "postgresql/0001_fn.down.sql": "DROP TABLE notes; DROP FUNCTION stamp_note();",
        },
    )
    with db_engine.connect() as conn:
        sql.upgrade(conn, "head")
        assert conn.execute(sa.text("SELECT stamp FROM notes")).scalar() == "stamped; 50%"
        conn.rollback()
        sql.downgrade(conn, None)
    assert tables(db_engine) == []


def test_plan_keys_must_match_the_engine(tmp_path: Path) -> None:
    for migration, message in [
        ({"engine": "sql", "config": "alembic.ini"}, "key 'config' is not used by engine 'sql'"),
        ({"engine": "sql", "up": "x"}, "key 'up' is not used by engine 'sql' (its keys: directory, engine, target)"),
        ({"engine": "alembic", "directory": "m"}, "key 'directory' is not used by engine 'alembic'"),
        ({"engine": "sql", "direktory": "m"}, "migration.direktory: unknown key"),
    ]:
        with pytest.raises(ConfigError) as info:
            parse_plan({"database": {"url": "sqlite:///x.db"}, "migration": migration}, tmp_path / "safeshift.toml")
        assert message in str(info.value)
        assert str(info.value).startswith("safeshift.toml: migration")


def test_missing_folder(tmp_path: Path) -> None:
    plan = parse_plan(
        {"database": {"url": "sqlite:///x.db"}, "migration": {"engine": "sql", "directory": "nope"}},
        tmp_path / "safeshift.toml",
    )
    with pytest.raises(ConfigError, match=r"safeshift.toml: migration.directory: folder .*nope not found"):
        get_migrator(plan).resolve_target("head")


@pytest.mark.server
def test_lock_timeout_stays_recognisable_through_the_file_error(tmp_path: Path, pg_engine: Engine) -> None:
    """The runner retries lock timeouts; wrapping the driver error must not hide it."""
    sql = make_migrator(
        tmp_path,
        {
            "0001_t.up.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY);",
            "0002_alter.up.sql": "ALTER TABLE t ADD COLUMN note TEXT;",
        },
    )
    dialect = get_dialect(pg_engine.url)
    with pg_engine.connect() as conn:
        sql.upgrade(conn, "0001")
    with pg_engine.connect() as holder, pg_engine.connect() as conn:
        holder.execute(sa.text("LOCK TABLE t IN ACCESS EXCLUSIVE MODE"))
        conn.execute(sa.text("SET lock_timeout = '200ms'"))
        conn.commit()
        with pytest.raises(SqlFileError) as info:
            sql.upgrade(conn, "head")
        holder.rollback()
        assert dialect.is_lock_timeout(info.value)
        assert str(info.value).startswith("migrations/0002_alter.up.sql: statement 1 (line 1) failed: LockNotAvailable")
        assert sql.current(conn) == "0001"
