"""The rollback proof's direct comparison with the backup (dialects/_rowsums.py).

It may only ever say "equal": every way two tables can differ (a value, its type, its
case, a row more or less, a column's name or order, a NULL key) must leave it silent, so
that the leaf hashes decide and name the keys.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from safeshift.dialects._rowsums import _copy_sums, _insert_sums, _sqlite_table_same, _uri

SCHEMA = "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE, amount NUMERIC, extra)"
ROWS = [(1, "alice", 1.5, None), (2, "bob", 2, 2), (3, "", 0, "x")]


def pair(tmp_path: Path, before: list[str], now: list[str], schema: str = SCHEMA) -> sqlite3.Connection:
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name, statements in (("before", before), ("now", now)):
        db = sqlite3.connect(tmp_path / f"{name}.sqlite3")
        db.execute(schema)
        db.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", ROWS)
        for statement in statements:
            db.execute(statement)
        db.commit()
        db.close()
    conn = sqlite3.connect(_uri(tmp_path / "before.sqlite3"), uri=True, isolation_level=None)
    conn.execute("ATTACH DATABASE ? AS live", (_uri(tmp_path / "now.sqlite3"),))
    return conn


def test_sqlite_same_rows_in_another_physical_order_are_equal(tmp_path: Path) -> None:
    conn = pair(tmp_path, [], ["DELETE FROM t WHERE id = 1", "INSERT INTO t VALUES (1, 'alice', 1.5, NULL)"])
    assert _sqlite_table_same(conn, "t") is True


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE t SET name = 'ALICE' WHERE id = 1",  # equal under NOCASE, not as bytes
        "UPDATE t SET extra = 2.0 WHERE id = 2",  # 2 and 2.0: equal numbers, other storage class
        "UPDATE t SET extra = CAST(extra AS BLOB) WHERE id = 3",  # text and blob of the same bytes
        "UPDATE t SET extra = NULL WHERE id = 3",
        "UPDATE t SET name = NULL WHERE id = 3",  # '' and NULL
        "DELETE FROM t WHERE id = 2",
        "INSERT INTO t VALUES (4, 'dave', 4, NULL)",
        "UPDATE t SET id = 5 WHERE id = 3",  # the same row under another key
    ],
)
def test_sqlite_any_difference_is_not_equal(tmp_path: Path, change: str) -> None:
    assert _sqlite_table_same(pair(tmp_path, [], [change]), "t") is False


def test_sqlite_other_columns_no_key_or_no_table_are_not_equal(tmp_path: Path) -> None:
    renamed = pair(tmp_path / "renamed", [], ["ALTER TABLE t RENAME COLUMN extra TO other"])
    assert _sqlite_table_same(renamed, "t") is False
    assert _sqlite_table_same(renamed, "missing") is False
    nokey = "CREATE TABLE t (id INTEGER, name TEXT, amount NUMERIC, extra)"
    assert _sqlite_table_same(pair(tmp_path / "nokey", [], [], schema=nokey), "t") is False


def test_sqlite_null_keys_never_pair(tmp_path: Path) -> None:
    """A non-integer primary key may hold NULL in SQLite: such rows cannot be shown equal."""
    schema = "CREATE TABLE t (id TEXT PRIMARY KEY, name TEXT, amount NUMERIC, extra)"
    conn = pair(tmp_path, ["INSERT INTO t VALUES (NULL, 'n', 0, NULL)"], ["INSERT INTO t VALUES (NULL, 'n', 0, NULL)"], schema)
    assert _sqlite_table_same(conn, "t") is False


COPY = b"""--
SET statement_timeout = 0;
COPY public.t (id, name) FROM stdin;
1\talice
2\tbob
\\.
COPY other.t (id, name) FROM stdin;
9\tzed
\\.
"""


def sums(data: bytes, schema: str = "public") -> dict[str, tuple[int, int]]:
    return _copy_sums(data.splitlines(keepends=True), schema)


def test_copy_rows_are_a_multiset_per_table_of_the_schema() -> None:
    reordered = COPY.replace(b"1\talice\n2\tbob\n", b"2\tbob\n1\talice\n")
    assert sums(COPY) == sums(reordered)
    assert sums(COPY)["t"][0] == 2
    assert sums(COPY, "other")["t"][0] == 1
    for changed in (
        COPY.replace(b"2\tbob", b"2\tBob"),
        COPY.replace(b"2\tbob\n", b""),
        COPY.replace(b"2\tbob\n", b"2\tbob\n3\t\\N\n"),
        COPY.replace(b"(id, name)", b"(id, nick)", 1),
    ):
        assert sums(changed)["t"] != sums(COPY)["t"]
    cut = COPY.split(b"\\.\n")[0]
    assert "t" not in sums(cut)  # data that does not end is never equal


MARIADB = b"""CREATE TABLE `t` (
  `id` int(11) NOT NULL
);
INSERT INTO `t` VALUES
(1,'a;\\n'),
(2,'b'),
(3,'c');
INSERT INTO `t` VALUES
(4,'d');
INSERT INTO `u``v` VALUES (1,'x'),(2,'y');
-- Dump completed
"""


def test_insert_rows_are_a_multiset_per_table(tmp_path: Path) -> None:
    def scan(data: bytes) -> dict[str, tuple[int, int]]:
        path = tmp_path / "dump.sql"
        path.write_bytes(data)
        return _insert_sums(path)

    base = scan(MARIADB)
    assert base["t"][0] == 4 and base["u`v"][0] == 1  # mysqldump style: one statement a line
    resplit = MARIADB.replace(b"(3,'c');\nINSERT INTO `t` VALUES\n(4,'d');", b"(3,'c'),\n(4,'d');")
    assert scan(resplit) == base
    reordered = MARIADB.replace(b"(1,'a;\\n'),\n(2,'b'),", b"(2,'b'),\n(1,'a;\\n'),")
    assert scan(reordered)["t"] == base["t"]
    for changed in (MARIADB.replace(b"(2,'b')", b"(2,'B')"), MARIADB.replace(b"(2,'b'),\n", b"")):
        assert scan(changed)["t"] != base["t"]
    assert "t" not in scan(MARIADB.split(b"(4,'d');")[0])  # a statement that does not end
