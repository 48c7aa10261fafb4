"""``engine = "command"``: an external migration tool (Prisma, dbmate, a script) run as a subprocess.

The tool gets the database URL in its environment (``url_env``, default ``DATABASE_URL``) and
never on its command line, where ``ps`` and shell history would show the password. No shell
runs: a plan string is split like a shell would split it and ``$VARS`` are not expanded.
stdin is closed, so a tool that prompts fails instead of hanging a production run.
Output is captured and redacted; ``upgrade``/``downgrade`` return it (or attach it to their error) for the journal.

What the migrator cannot know it asks: ``current`` prints the revision; ``pending`` (optional)
prints one pending revision per line ("ID description"); ``stamp`` (optional) records
``{revision}`` as applied without running it (``safeshift baseline``). Without ``pending``, ``target_name``
says which revision ``up`` leads to (checked after ``up``); without either, one step is always
pending and the tool decides. ``{target}`` in ``up`` and ``{revision}`` in ``down`` (``base``
for an empty database) are filled in. The tool runs in the plan's folder.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import URL, Connection

from safeshift.errors import ConfigError, SafeshiftError
from safeshift.migrators.base import MIGRATORS, Migrator, Output, Revision, attach_output
from safeshift.secrets import redact, register_url

if TYPE_CHECKING:
    from safeshift.config.models import MigrationSection, Plan

MAX_OUTPUT = 20_000  # characters kept of each stream (the end, where errors are)
_STOP_GRACE_S = 5.0


class CommandFailed(SafeshiftError):
    """The migration tool exited non-zero, timed out or could not start."""


@dataclass
class CommandRun:
    """One command the migrator ran, redacted: what the journal records."""

    step: str
    argv: list[str]
    exit_code: int | None
    seconds: float
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    env: list[str] = field(default_factory=list)  # names of the variables we set, never values

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tool_url(url: URL) -> str:
    """The URL as migration tools expect it: no SQLAlchemy driver suffix, SQLite path absolute.

    ``postgresql+psycopg://u:p@h/db`` becomes ``postgresql://u:p@h/db`` (Prisma, dbmate,
    golang-migrate and psql all read that form); the tool runs in the plan's folder, so a
    relative SQLite path is made absolute first.
    """
    backend = url.get_backend_name()
    plain = url.set(drivername="mysql" if backend == "mariadb" else backend)
    if backend == "sqlite" and plain.database and plain.database != ":memory:" and not plain.database.startswith("file:"):
        plain = plain.set(database=str(Path(plain.database).expanduser().resolve()))
    return plain.render_as_string(hide_password=False)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _clip(text: str) -> str:
    if len(text) <= MAX_OUTPUT:
        return text
    return f"[... {len(text) - MAX_OUTPUT} characters cut ...]\n" + text[-MAX_OUTPUT:]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End the tool and anything it started (its own process group): TERM, then KILL."""
    for sig, wait in ((signal.SIGTERM, _STOP_GRACE_S), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@MIGRATORS.register
class CommandMigrator(Migrator):
    name = "command"
    renders_sql = False  # render() shows a command line: nothing to lint

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self.runs: list[CommandRun] = []  # every command run, in order

    @property
    def section(self) -> MigrationSection:
        return self.plan.migration

    def _where(self, key: str) -> str:
        return f"{self.plan.source.name}: migration.{key}"

    def argv(self, key: str, **values: str) -> list[str]:
        """The command for ``key`` with ``{target}``/``{revision}`` filled in (ConfigError if unusable)."""
        raw: tuple[str, ...] | None = getattr(self.section, key)
        if raw is None:
            raise ConfigError(f"{self._where(key)}: not set")
        url_env = self.section.url_env
        argv = list(raw)
        for arg in argv:
            if "${" in arg or f"${url_env}" in arg:
                raise ConfigError(
                    f"{self._where(key)}: no shell runs the command, so {arg!r} would be passed as written; "
                    f"the tool finds the database URL in its environment as {url_env}"
                )
        for name, value in values.items():
            argv = [arg.replace("{" + name + "}", value) for arg in argv]
        program = argv[0]
        if os.sep in program or (os.altsep and os.altsep in program):
            path = self.plan.resolve(program)
            if not path.is_file():
                raise ConfigError(f"{self._where(key)}: program {program} not found (relative to the plan's folder)")
            argv[0] = str(path)
        elif shutil.which(program) is None:
            raise ConfigError(f"{self._where(key)}: program {program!r} not found on PATH")
        return argv

    def _run(self, key: str, conn: Connection | None, **values: str) -> CommandRun:
        argv = self.argv(key, **values)
        env = dict(os.environ)
        set_names: list[str] = []
        if conn is not None:
            register_url(conn.engine.url)
            env[self.section.url_env] = tool_url(conn.engine.url)
            set_names.append(self.section.url_env)
        timeout = float(self.section.timeout)
        started = time.perf_counter()
        try:
            proc = subprocess.Popen(
                argv,
                cwd=self.plan.base_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group, so a timeout can stop all of it
            )
        except OSError as exc:
            raise CommandFailed(f"{key} command could not start {argv[0]}: {exc.strerror or exc}") from None
        timed_out = False
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _stop(proc)
            out, err = proc.communicate()
        except BaseException:  # Ctrl-C: the tool is in its own group and would not see it
            _stop(proc)
            raise
        run = CommandRun(
            step=key,
            argv=[redact(a) for a in argv],
            exit_code=proc.returncode,
            seconds=round(time.perf_counter() - started, 3),
            stdout=_clip(redact(out.decode("utf-8", errors="replace"))),
            stderr=_clip(redact(err.decode("utf-8", errors="replace"))),
            timed_out=timed_out,
            env=set_names,
        )
        self.runs.append(run)
        # an up/down command's output is the journal's, failed or not
        output = run.to_dict() if key in ("up", "down") else None
        why = _last_line(run.stderr) or _last_line(run.stdout) or "no output"
        if timed_out:
            raise attach_output(CommandFailed(f"{key} command timed out after {timeout:g}s and was stopped: {why}"), output)
        if proc.returncode != 0:
            code = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
            raise attach_output(CommandFailed(f"{key} command failed ({code}): {why}"), output)
        return run

    # -- Migrator -----------------------------------------------------------------------
    def current(self, conn: Connection) -> str | None:
        return _last_line(self._run("current", conn).stdout) or None

    def resolve_target(self, target: str) -> str:
        if target == "head":
            return str(self.section.target_name or "head")
        return target

    def pending(self, conn: Connection, target: str) -> list[Revision]:
        if self.section.pending is not None:
            lines = [line.strip() for line in self._run("pending", conn).stdout.splitlines() if line.strip()]
            return [Revision(id=line.split()[0], message=" ".join(line.split()[1:])) for line in lines]
        goal = self.resolve_target(target)
        if goal != "head":
            return [] if self.current(conn) == goal else [Revision(id=goal, message="up command")]
        return [Revision(id="head", message="up command (the tool decides what is pending)")]

    def upgrade(self, conn: Connection, target: str) -> Output | None:
        if conn.in_transaction():
            conn.commit()  # hold no lock the tool's own connection would wait for
        goal = self.resolve_target(target)
        output = self._run("up", conn, target=goal).to_dict()
        if goal != "head":
            try:
                now = self.current(conn)
            except BaseException as exc:
                attach_output(exc, output)
                raise
            if now != goal:
                raise attach_output(
                    CommandFailed(f"up command succeeded but the database is at {now or 'base'}, expected {goal}"), output
                )
        return output

    def downgrade(self, conn: Connection, revision: str | None) -> Output | None:
        if self.section.down is None:
            raise ConfigError(
                f"{self._where('down')}: not set, so engine 'command' cannot downgrade; "
                "set it or use rollback.strategy = \"restore\""
            )
        if conn.in_transaction():
            conn.commit()
        return self._run("down", conn, revision=revision or "base").to_dict()

    def stamp(self, conn: Connection, revision: str, *, force: bool = False) -> list[Revision]:
        """The plan's ``stamp`` command with ``{revision}`` filled in: the tool records the baseline."""
        if self.section.stamp is None:
            raise ConfigError(
                f"{self._where('stamp')}: not set, so engine 'command' cannot record a baseline: record it with "
                "the tool itself (prisma migrate resolve --applied NAME, flyway baseline, manage.py migrate --fake, "
                "dbmate/migrate force) or set stamp = \"tool ... {revision}\""
            )
        current = self.current(conn)
        if current is not None and not force:
            beyond = current == revision
            if not beyond and self.section.pending is not None:
                beyond = revision not in [r.id for r in self.pending(conn, revision)]
            if beyond:
                raise ConfigError(
                    f"the database is already at {current}, at or beyond {revision}; nothing was recorded "
                    f"(--force runs the stamp command anyway)"
                )
        if conn.in_transaction():
            conn.commit()
        self._run("stamp", conn, revision=revision)
        return [Revision(id=revision, message="stamp command")]

    def reached(self, current: str | None, target: str | None) -> bool | None:
        if target == "head" and not self.section.target_name:
            return None  # the tool names its head only by its own word "head"
        return current == target

    def files(self) -> list[Path]:
        """Scripts named in the commands that live in the plan's folder (part of what is reviewed)."""
        found: set[Path] = set()
        for key in ("up", "down", "current", "pending", "stamp"):
            for arg in getattr(self.section, key) or ():
                if arg.startswith("-") or "{" in arg:
                    continue
                path = self.plan.resolve(arg)
                if path.is_file() and self.plan.base_dir in path.resolve().parents:
                    found.add(path)
        return sorted(found)

    def render(self, start: str | None, target: str, dialect_name: str) -> list[str]:
        argv = self.argv("up", target=self.resolve_target(target))
        return [f"{self.section.url_env}=<database.url> {shlex.join(argv)}"]
