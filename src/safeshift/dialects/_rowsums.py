"""A table's rows now compared with a backup without loading it: the rollback proof's fast path.

The slow path restores the backup into a scratch database and captures leaf checksums
there (table_unchanged), which costs a full restore plus a hash of every row. Here every
row is compared straight from the backup:

- SQLite: the backup is itself a database file, attached read-only next to the live one;
  one join on the primary key counts the rows equal in every column (same storage class,
  bytes compared binary) and both tables' counts. Equal counts everywhere: the same rows.
- PostgreSQL: the backup's COPY text (``pg_restore --data-only``, no server involved) and
  the live database's (``pg_dump --data-only``: the same tool settings, so the same text for
  the same value), each table's rows summed as a multiset (count, sum of a 64-bit hash of
  each row's line): the order of the rows in the heap does not matter.
- MariaDB/MySQL: the live database dumped with the backup's own tool and options into a
  temporary file, and each table's INSERT rows summed the same way in both files.

Each dialect's ``rows_same_as_backup`` calls its part here. This path only ever says "equal": a table it cannot show equal (a row differs, a tool
fails, a dialect it does not know) goes the slow way, which also names the differing keys.
The servers' row hash is Python's ``hash`` of the line's bytes: 64-bit SipHash, keyed at
random per process (unless PYTHONHASHSEED fixes the key), so no data is made to collide on
purpose; both sides are hashed in the same process, and the sums are exact integers.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from safeshift import faults
from safeshift.background import Background
from safeshift.dialects import _tools
from safeshift.errors import BackupError

Sums = dict[str, tuple[int, int]]  # table -> (rows, sum of row hashes)


def equal_tables(sides: tuple[Sums, Sums], tables: list[str]) -> set[str]:
    """The tables of ``tables`` with the same row multiset on both sides."""
    before, now = sides
    return {t for t in tables if t in before and before[t] == now.get(t)}


# --- SQLite: attach the backup file, join on the key ----------------------------------------


def _uri(path: Path) -> str:
    return path.resolve().as_uri() + "?mode=ro"


def sqlite_same(live: str | None, backup: Path, tables: list[str]) -> set[str]:
    """The tables whose rows in the database file ``live`` are exactly the backup file's."""
    if not live or live == ":memory:":
        return set()
    conn = sqlite3.connect(_uri(backup), uri=True, isolation_level=None)
    try:
        conn.execute("ATTACH DATABASE ? AS live", (_uri(Path(live)),))
        return {t for t in tables if _sqlite_table_same(conn, t)}
    finally:
        conn.close()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_table_same(conn: sqlite3.Connection, table: str) -> bool:
    """Whether ``live.table`` holds exactly ``main.table``'s rows (main: the backup)."""
    info = conn.execute(f"PRAGMA main.table_info({_q(table)})").fetchall()
    if not info or info != conn.execute(f"PRAGMA live.table_info({_q(table)})").fetchall():
        return False  # not the same columns (or no table): the slow path says what differs
    key = [row[1] for row in sorted((r for r in info if r[5]), key=lambda r: r[5])]
    if not key:
        return False
    # The key is unique on both sides (a primary key), so each live row pairs with at most one
    # backup row whose key is byte-identical; NULL keys never pair. Pairs equal in every
    # column (storage class and value; text compared as bytes) == both counts: a bijection.
    on = " AND ".join(f"n.{_q(k)} = o.{_q(k)}" for k in key)
    same = " AND ".join(
        f"n.{_q(c)} IS o.{_q(c)} COLLATE BINARY AND typeof(n.{_q(c)}) = typeof(o.{_q(c)})"
        for c in (row[1] for row in info)
    )
    t = _q(table)
    query = (
        f"SELECT (SELECT count(*) FROM live.{t}), (SELECT count(*) FROM main.{t}), "  # noqa: S608
        f"(SELECT count(*) FROM live.{t} AS n JOIN main.{t} AS o ON {on} WHERE {same})"
    )
    now, before, paired = conn.execute(query).fetchone()
    return bool(now == before == paired)


# --- row-line multisets ----------------------------------------------------------------------


def _both(before: Callable[[], Sums], now: Callable[[], Sums]) -> tuple[Sums, Sums]:
    """Both sides at once (each mostly waits on its own tool); an error in either is raised."""
    live = Background(now, "safeshift-live-rows")
    try:
        first = before()
    finally:
        live.wait()
    return first, live.result()


@contextlib.contextmanager
def _tool_output(argv: list[str], env: dict[str, str] | None = None) -> Iterator[IO[bytes]]:
    """A tool's standard output as a stream; the tool must exit 0 once it is read."""
    with tempfile.TemporaryFile() as err:
        proc = _tools.spawn(argv, env=env, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        try:
            yield proc.stdout
        except BaseException:
            proc.kill()
            raise
        finally:
            proc.stdout.close()
            code = proc.wait()
        if code != 0:
            detail = _tools.one_line(_tools.read_back(err), f"exit status {code}")
            raise BackupError(f"{Path(argv[0]).name} failed: {detail}")


_COPY = re.compile(rb'^COPY (?:("(?:[^"]|"")+"|[^ ."]+)\.)?("(?:[^"]|"")+"|[^ ("]+) (.*) FROM stdin;\n$')


def _copy_sums(lines: Iterable[bytes], schema: str) -> Sums:
    """Per table of ``schema``: rows and the sum of their COPY lines' hashes (the column
    list is hashed in too: the same rows under other column names are not the same)."""
    from safeshift.dialects.postgresql import _unquote

    sums: Sums = {}
    current: str | None = None
    rows = total = 0
    for line in lines:
        if current is not None:
            if line == b"\\.\n":
                sums[current] = (rows, total)
                current = None
            else:
                rows += 1
                total += hash(line)
        elif line.startswith(b"COPY "):
            match = _COPY.match(line)
            if match is not None and _unquote(match.group(1) or b"public") == schema:
                current, rows, total = _unquote(match.group(2)), 0, hash(match.group(3))
    if current is not None:
        sums.pop(current, None)  # the data of a table did not end: never equal
    return sums


def postgresql_sums(before_argv: list[str], now_argv: list[str], env: dict[str, str], schema: str) -> tuple[Sums, Sums]:
    """The backup's COPY rows (``pg_restore --data-only`` to standard output) and the live
    database's (``pg_dump --data-only``, run with ``env``), each summed per table of ``schema``."""

    def before() -> Sums:
        with _tool_output(before_argv) as out:
            return _copy_sums(out, schema)

    def now() -> Sums:
        with _tool_output(now_argv, env) as out:
            return _copy_sums(out, schema)

    return _both(before, now)


_INSERT = re.compile(rb"^INSERT INTO `((?:[^`]|``)+)` VALUES ?")


def _insert_sums(path: Path) -> Sums:
    """Per table of a mariadb-dump/mysqldump file: its INSERT row lines and the sum of their
    hashes, each line without the statement's head and its closing "," or ";" (mariadb-dump
    writes one row a line; mysqldump one statement a line, cut the same way for the same rows).
    The tools escape newlines inside values, so a line ends only where a row does."""
    sums: Sums = {}
    table: str | None = None
    rows = total = 0
    with open(path, "rb") as dump:
        for line in dump:
            if table is None:
                if not line.startswith(b"INSERT INTO "):
                    continue
                match = _INSERT.match(line)
                if match is None:
                    continue
                table = match.group(1).replace(b"``", b"`").decode("utf-8", "replace")
                rows, total = sums.get(table, (0, 0))
                line = line[match.end():]
                if line in (b"\n", b""):  # mariadb-dump: the rows start on the next line
                    continue
            end = line.endswith(b";\n")
            rows += 1
            total += hash(line[:-2] if line.endswith((b",\n", b";\n")) else line.rstrip(b"\n"))
            if end:
                sums[table] = (rows, total)
                table = None
    if table is not None:
        sums.pop(table, None)  # a statement that does not end: never equal
    return sums


def mysql_sums(backup: Path, dump_now: Callable[[Path], object], dest: Path) -> tuple[Sums, Sums]:
    """The backup file's INSERT rows and the live database's, dumped by ``dump_now`` into ``dest``
    (the backup's own tool and options: the same text for the same rows; removed afterwards)."""

    def now() -> Sums:
        try:
            dump_now(dest)
            faults.hit("proof:live-dump")
            return _insert_sums(dest)
        finally:
            dest.unlink(missing_ok=True)

    return _both(lambda: _insert_sums(backup), now)
