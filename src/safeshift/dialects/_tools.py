"""Running the databases' own command-line tools (pg_dump, mariadb-dump, ...) safely.

Shared by the server dialects. Every child process is started through :func:`spawn` so
the rules hold in one place: credentials travel only in the environment or a 0600 file,
stderr is captured and boiled down to one redacted line, and a tool that is missing is a
``ConfigError`` naming the Debian package to install.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from sqlalchemy import String, literal
from sqlalchemy.engine import Connection

from safeshift.dialects.base import Progress
from safeshift.errors import BackupError, ConfigError
from safeshift.secrets import first_line, redact

# Indirection so tests can record every command line (and prove no secret is on it).
Popen: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen

_POLL_SECONDS = 0.25
_MAX_ERROR_CHARS = 300


def find_tool(candidates: Sequence[str], package: str) -> str:
    """The first of ``candidates`` on PATH, else a ConfigError telling what to install."""
    for name in candidates:
        path = shutil.which(name)
        if path:
            return path
    names = " or ".join(candidates)
    raise ConfigError(
        f"{names} not found on PATH: install the Debian package {package} (apt-get install {package})"
    )


def one_line(stderr: str, fallback: str) -> str:
    """The line of a tool's stderr worth showing: the first error, else the last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    chosen = next((line for line in lines if re.search(r"\berror\b|ERROR|FATAL", line)), None)
    text = chosen or (lines[-1] if lines else fallback)
    text = redact(text)
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdin: IO[Any] | int | None = subprocess.DEVNULL,
    stdout: IO[Any] | int | None = subprocess.DEVNULL,
    stderr: IO[Any] | int | None = None,
) -> subprocess.Popen[bytes]:
    """Start a tool. Never through a shell: arguments are passed as they are.

    On Linux the tool gets SIGKILL when safeshift dies, so a loader never outlives the
    process that decides whether its work may commit.
    """
    return Popen(
        list(argv), env=dict(env) if env is not None else None, stdin=stdin, stdout=stdout, stderr=stderr,
        preexec_fn=_die_with_parent,
    )


def _die_with_parent() -> None:
    """In the child, before exec: ask the kernel for SIGKILL when the parent goes (Linux only)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):  # not Linux: the tool may outlive us, as before
        pass


def run_tool(
    argv: Sequence[str],
    *,
    what: str,
    env: Mapping[str, str] | None = None,
    stdin: IO[Any] | int | None = subprocess.DEVNULL,
    stdout: IO[Any] | int | None = subprocess.DEVNULL,
    watch: Path | None = None,
    progress: Progress | None = None,
    tick: Callable[[], None] | None = None,
) -> None:
    """Run a tool to completion; raise BackupError with one line when it fails.

    ``watch`` is a file the tool grows (a dump); its size is reported through ``progress``.
    ``tick`` is called while the tool runs (a loader's progress through its input).
    """
    with tempfile.TemporaryFile() as err:
        try:
            proc = spawn(argv, env=env, stdin=stdin, stdout=stdout, stderr=err)
        except OSError as exc:
            raise BackupError(f"{what} failed: cannot start {Path(argv[0]).name}: {exc.strerror}") from None
        try:
            while True:
                try:
                    proc.wait(timeout=_POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    report_size(watch, progress)
                    if tick is not None:
                        tick()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        report_size(watch, progress)
        if tick is not None:
            tick()
        if proc.returncode != 0:
            raise BackupError(f"{what} failed: {one_line(read_back(err), f'exit status {proc.returncode}')}")


def input_read(handle: IO[bytes], progress: Progress | None) -> Callable[[], None] | None:
    """A tick reporting how far a child process has read ``handle`` (they share its offset)."""
    if progress is None:
        return None
    total = os.fstat(handle.fileno()).st_size

    def tick() -> None:
        with contextlib.suppress(OSError):
            progress(os.lseek(handle.fileno(), 0, os.SEEK_CUR), total)

    return tick


def read_back(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", "replace")


def report_size(path: Path | None, progress: Progress | None) -> None:
    if path is None or progress is None:
        return
    with contextlib.suppress(OSError):
        progress(path.stat().st_size, None)


def commit_file(tmp: Path, dest: Path) -> None:
    """fsync ``tmp``, rename it over ``dest`` and fsync the folder: the backup survives a crash."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, dest)
    dir_fd = os.open(dest.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def private_file(text: str, suffix: str) -> Iterator[Path]:
    """A 0600 temporary file holding ``text`` (e.g. a password), removed afterwards."""
    fd, name = tempfile.mkstemp(prefix="safeshift-", suffix=suffix)
    path = Path(name)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        yield path
    finally:
        path.unlink(missing_ok=True)


def scratch_name(database: str, label: str, run_id: str, max_bytes: int) -> str:
    """``<db>_safeshift_<label>_<id>``, shortened to the server's identifier limit.

    The id part is the sanitized tail of the run id (its random part), so two runs of
    the same database never share a scratch database.
    """
    short = re.sub(r"[^a-z0-9_]", "_", run_id.lower())[-12:].strip("_") or "x"
    suffix = f"_safeshift_{label}_{short}"
    head = database
    while head and len((head + suffix).encode()) > max_bytes:
        head = head[:-1]
    if not head:  # a database name so long nothing of it fits: keep a stable digest instead
        head = hashlib.sha256(database.encode()).hexdigest()[:8]
    return (head + suffix)[: max_bytes]


def sql_literal(conn: Connection, value: str) -> str:
    """``value`` as a quoted SQL string literal, for the few statements that take no parameters."""
    compiled = literal(value, String()).compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    return str(compiled)


def quote_ident(conn: Connection, name: str) -> str:
    return str(conn.dialect.identifier_preparer.quote_identifier(name))


def compare_counts(backup: str, snapshot: dict[str, int], counts: dict[str, int]) -> None:
    """Raise BackupError naming the first table whose restored row count differs from the snapshot."""
    for name in sorted(set(snapshot) | set(counts)):
        want, got = snapshot.get(name), counts.get(name)
        if want is None:
            raise BackupError(f"backup {backup} does not match the snapshot: table {name} is not in the snapshot")
        if got is None:
            raise BackupError(f"backup {backup} does not match the snapshot: table {name} is missing from the backup")
        if got != want:
            raise BackupError(
                f"backup {backup} does not match the snapshot: table {name} has {got} rows, expected {want}"
            )


def db_error(exc: BaseException) -> str:
    """A driver error in one redacted line (MySQL drivers' ``(errno, message)`` or the first line)."""
    orig = getattr(exc, "orig", None) or exc
    args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
    if len(args) >= 2 and isinstance(args[0], int):
        return redact(f"({args[0]}) {args[1]}")
    return first_line(exc, with_type=False)


def elapsed(started: float) -> float:
    return time.perf_counter() - started
