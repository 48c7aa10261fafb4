"""Alembic, in-process: ``alembic.command`` with our connection, never a subprocess.

The connection is handed to ``env.py`` through ``config.attributes["connection"]``
(Alembic's documented recipe), so the run's lock and timeouts apply to the migration.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine

from safeshift.errors import ConfigError
from safeshift.logs import captured
from safeshift.migrators.base import MIGRATORS, Migrator, Output, Rendered, Revision
from safeshift.secrets import first_line

_DIALECT_URLS = {"sqlite": "sqlite://", "postgresql": "postgresql://", "mysql": "mysql+pymysql://"}


@MIGRATORS.register
class AlembicMigrator(Migrator):
    name = "alembic"
    version_tables = ("alembic_version",)

    @property
    def config_path(self) -> Path:
        return self.plan.resolve(self.plan.migration.config)

    def _config(self, output: io.StringIO | None = None) -> Config:
        path = self.config_path
        if not path.is_file():
            raise ConfigError(f"{self.plan.source.name}: migration.config: Alembic config {path} not found")
        cfg = Config(str(path), output_buffer=output or io.StringIO(), stdout=io.StringIO())  # never our stdout
        location = cfg.get_main_option("script_location")
        found = _script_folder(location, path.parent) if location else None
        if found is not None:
            cfg.set_main_option("script_location", str(found))
        return cfg

    def _script(self) -> ScriptDirectory:
        try:
            return ScriptDirectory.from_config(self._config())
        except CommandError as exc:
            raise ConfigError(f"{self.plan.source.name}: migration.config: {exc}") from None

    def current(self, conn: Connection) -> str | None:
        with captured("alembic"):
            heads = MigrationContext.configure(conn).get_current_heads()
        if conn.in_transaction():
            conn.commit()
        return ",".join(sorted(heads)) if heads else None

    def resolve_target(self, target: str) -> str:
        script = self._script()
        try:
            revs = script.get_revisions(target)
        except CommandError as exc:
            raise ConfigError(f"{self.plan.source.name}: migration.target: {exc}") from None
        if not revs:
            raise ConfigError(f"{self.plan.source.name}: migration.target: no revision {target!r}")
        return ",".join(sorted(r.revision for r in revs if r is not None))

    def pending(self, conn: Connection, target: str) -> list[Revision]:
        script = self._script()
        current = self.current(conn)
        try:
            revs = list(script.iterate_revisions(target, current or "base"))
        except (CommandError, RevisionError) as exc:  # also a target behind the database's revision
            raise ConfigError(f"{self.plan.source.name}: migration.target: {exc}") from None
        revs.reverse()
        return [Revision(id=r.revision, message=(r.doc or "").strip()) for r in revs]

    def _with_connection(self, conn: Connection) -> Config:
        """The connection for env.py both ways: Alembic's documented ``attributes["connection"]``,
        and ``sqlalchemy.url`` for an env.py (like ``alembic init``'s) that builds its own engine
        from the ini file: that URL must be the plan's database, never the ini's."""
        cfg = self._config()
        cfg.attributes["connection"] = conn
        url = conn.engine.url.render_as_string(hide_password=False)
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # the ini's interpolation
        return cfg

    def check_target(self, conn: Connection) -> None:
        """Run env.py once, read-only (``alembic current``), and watch which databases it connects to.

        An env.py that uses the connection safeshift passes, or ``sqlalchemy.url``, reaches the
        plan's database; one that builds its URL from elsewhere (an environment variable, a
        hard-coded DSN) would migrate another database while the run "succeeds": refused now.
        """
        seen: list[URL] = []

        def connected(connection: Connection) -> None:
            seen.append(connection.engine.url)

        event.listen(Engine, "engine_connect", connected)
        try:
            with captured("alembic"):
                command.current(self._with_connection(conn))
        except Exception as exc:
            raise ConfigError(f"{self.plan.source.name}: migration.config: env.py failed: {first_line(exc)}") from None
        finally:
            event.remove(Engine, "engine_connect", connected)
            if conn.in_transaction():
                conn.rollback()
        ours = _identity(conn.engine.url)
        for url in seen:
            if _identity(url) != ours:
                raise ConfigError(
                    f"{self.plan.source.name}: migration.config: env.py connects to "
                    f"{url.render_as_string(hide_password=True)}, not the plan's database "
                    f"{conn.engine.url.render_as_string(hide_password=True)}: make env.py use "
                    "config.attributes['connection'] (or sqlalchemy.url, which safeshift sets)"
                )

    def stamp(self, conn: Connection, revision: str, *, force: bool = False) -> list[Revision]:
        """``alembic stamp`` on the plan's database (through env.py, as an upgrade would run):
        the version table says ``revision``, nothing else runs. ``force`` replaces whatever is
        recorded (``purge``), also a later revision."""
        self.resolve_target(revision)  # an unknown revision is a one-line error
        current = self.current(conn)
        try:
            todo = self.pending(conn, revision)
        except ConfigError:  # Alembic will not walk "up" to an ancestor: the database is beyond it
            todo = []
        if current is not None and not todo and not force:
            raise ConfigError(
                f"alembic_version: the database is already at {current}, at or beyond {revision}; "
                f"nothing was recorded (--force records {revision} anyway)"
            )
        if force and current is not None and not todo:
            todo = self._history(revision)
        with captured("alembic"):
            try:
                command.stamp(self._with_connection(conn), revision, purge=force)
            except CommandError as exc:
                raise ConfigError(f"{self.plan.source.name}: baseline {revision}: {exc}") from None
        if conn.in_transaction():
            conn.commit()
        return todo

    def _history(self, revision: str) -> list[Revision]:
        """``revision`` and its ancestors, oldest first."""
        revs = [r for r in self._script().iterate_revisions(revision, "base") if r is not None]
        revs.reverse()
        return [Revision(id=r.revision, message=(r.doc or "").strip()) for r in revs]

    def upgrade(self, conn: Connection, target: str) -> Output | None:
        with captured("alembic"):
            command.upgrade(self._with_connection(conn), target)
        return None  # Alembic logs (to the journal, see safeshift.logs) and prints nothing of its own online

    def downgrade(self, conn: Connection, revision: str | None) -> Output | None:
        with captured("alembic"):
            command.downgrade(self._with_connection(conn), revision or "base")
        return None

    def files(self) -> list[Path]:
        script_dir = Path(self._script().dir)
        found = [self.config_path]
        found += sorted(p for p in script_dir.rglob("*") if p.is_file() and p.suffix in (".py", ".mako", ".sql"))
        return [p for p in found if "__pycache__" not in p.parts]

    def render_each(self, start: str | None, target: str, dialect_name: str) -> list[Rendered]:
        """Each pending revision rendered on its own (``prev:rev``): one that needs a live database
        (batch mode's reflection, an inspector) is named, and the others are still linted."""
        script = self._script()
        try:
            revisions = [r for r in script.iterate_revisions(target, start or "base") if r is not None]
        except CommandError as exc:
            return [Rendered(None, [], str(exc))]
        revisions.reverse()
        if any(isinstance(r.down_revision, tuple | list) for r in revisions):
            return super().render_each(start, target, dialect_name)  # merges: one span, as Alembic walks it
        out: list[Rendered] = []
        previous = start
        for rev in revisions:
            try:
                out.append(Rendered(rev.revision, self.render(previous, rev.revision, dialect_name)))
            except Exception as exc:
                out.append(Rendered(rev.revision, [], first_line(exc)))
            previous = rev.revision
        return out

    def render(self, start: str | None, target: str, dialect_name: str) -> list[str]:
        output = io.StringIO()
        cfg = self._config(output)
        cfg.set_main_option("sqlalchemy.url", _DIALECT_URLS.get(dialect_name, "sqlite://"))
        span = f"{start}:{target}" if start else target
        with captured("alembic"):
            command.upgrade(cfg, span, sql=True)
        return _split_sql(output.getvalue())


def _identity(url: URL) -> tuple[str, str | None, int | None, str | None]:
    """Which database a URL names, whatever its driver (a SQLite file by its resolved path)."""
    database = url.database
    if url.get_backend_name() == "sqlite" and database and database != ":memory:":
        database = str(Path(database).expanduser().resolve())
    port = url.port or {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}.get(url.get_backend_name())
    return url.get_backend_name(), url.host, port, database


def _split_sql(script: str) -> list[str]:
    """Alembic's offline script as a list of statements.

    Blank lines and Alembic's own comments go; a ``-- safeshift:`` comment stays as an item
    of its own, so the lint applies it to the statement that follows. A ``;`` inside a
    PostgreSQL dollar-quoted body (``CREATE FUNCTION ... AS $$ ... $$``) ends nothing.
    """
    statements: list[str] = []
    buf: list[str] = []
    for line in script.splitlines():
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("--")):
            if stripped.lower().startswith("-- safeshift:"):
                statements.append(stripped.rstrip(";").strip())
            continue
        buf.append(line)
        if stripped.endswith(";") and not _in_dollar_quote("\n".join(buf)):
            statements.append("\n".join(buf).strip())
            buf = []
    if buf:
        statements.append("\n".join(buf).strip())
    return statements


_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


def _in_dollar_quote(text: str) -> bool:
    """Does ``text`` end inside a ``$tag$ ... $tag$`` body (PostgreSQL's dollar quoting)?"""
    open_tag: str | None = None
    for match in _DOLLAR_TAG.finditer(text):
        if open_tag is None:
            open_tag = match.group(0)
        elif match.group(0) == open_tag:
            open_tag = None
    return open_tag is not None


def _script_folder(location: str, ini_dir: Path) -> Path | None:
    """Where a relative ``script_location`` points, or None to leave it to Alembic.

    Alembic reads it relative to the current directory, so a project's ini works from the
    project's root; safeshift runs from anywhere. So: the ini's folder (a project whose
    ini sits at its root), the current directory (as Alembic would), then the ini's parent
    folders (an ini shipped inside a package names the folder from the package root, as
    ``mlflow/store/db_migrations`` does from site-packages). A ``package:folder`` resource
    and an absolute or ``%(here)s`` path are Alembic's to resolve.
    """
    if "%(here)s" in location or Path(location).is_absolute():
        return None
    if ":" in location and not (ini_dir / location).exists():
        return None  # package:resource (Alembic imports the package)
    for base in (ini_dir, Path.cwd(), *ini_dir.parents):
        candidate = base / location
        if candidate.is_dir():
            return candidate
    return ini_dir / location  # Alembic's "path doesn't exist" names the ini-relative place
