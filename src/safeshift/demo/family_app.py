"""The chores-tracker API of the family seed, small enough to run beside the demo and the tests.

It has what the runbook's checks touch: ``/health``, the login form that returns a bearer
token, ``/api/v1/users/me`` and the new ``/api/v1/families/me`` (which fails before the
migration and works after). Like the real application it answers 503 while the
maintenance file exists and writes an application log (``ERROR`` lines for 5xx answers).

The generated users have fake password hashes, so every user logs in with one demo
password: given to :func:`start_app`, or read from ``FAMILY_DEMO_PASSWORD``, or made up
at start (``RunningApp.password``); it never appears in a plan file.

``broken`` simulates a release that fails on the new schema: once the ``families`` table
exists, API calls answer 500 after the first ``broken_after`` of them, so the smoke test
can pass and the watch window must catch it. ``slow_ms`` delays API answers on the new
schema instead (a latency trigger).

Run it alone: ``FAMILY_DATABASE_URL=sqlite:///family.db python -m safeshift.demo.family_app``.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Annotated, Any

import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI, Form, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import SQLAlchemyError

from safeshift.errors import ConfigError, SafeshiftError
from safeshift.secrets import first_line, register_secret

DATABASE_ENV = "FAMILY_DATABASE_URL"
PASSWORD_ENV = "FAMILY_DEMO_PASSWORD"
MAINTENANCE_ENV = "FAMILY_MAINTENANCE_FILE"
BROKEN_ENV = "FAMILY_APP_BROKEN"
LOG_ENV = "FAMILY_APP_LOG"
PORT_ENV = "FAMILY_APP_PORT"
DEFAULT_MAINTENANCE_FILE = "/tmp/maintenance_mode"  # the runbook's


@dataclass
class AppSettings:
    """How the demo application runs; ``broken``/``slow_ms`` may change while it runs."""

    db_url: str
    maintenance_file: Path
    password: str
    broken: bool = False
    broken_after: int = 0
    slow_ms: int = 0
    log_file: Path | None = None

    @classmethod
    def from_env(cls) -> AppSettings:
        """Settings from the environment, as the real application reads its configuration."""
        url = os.environ.get(DATABASE_ENV)
        if not url:
            raise ConfigError(f"{DATABASE_ENV} is not set: the demo application needs a database URL")
        password = os.environ.get(PASSWORD_ENV) or secrets.token_urlsafe(12)
        log = os.environ.get(LOG_ENV)
        return cls(
            db_url=url,
            maintenance_file=Path(os.environ.get(MAINTENANCE_ENV) or DEFAULT_MAINTENANCE_FILE),
            password=password,
            broken=os.environ.get(BROKEN_ENV, "").lower() in ("1", "true", "yes"),
            log_file=Path(log) if log else None,
        )


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # wait for a writer instead of failing at once (the migration may hold the file)
        return sa.create_engine(url, connect_args={"timeout": 5})
    return sa.create_engine(url, pool_pre_ping=True)


@dataclass
class _Service:
    """The application's state: database engine, issued tokens, the log."""

    settings: AppSettings
    engine: Engine
    tokens: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    api_calls_on_new_schema: int = 0

    def log(self, level: str, text: str) -> None:
        path = self.settings.log_file
        if path is None:
            return
        line = f"{datetime.now(UTC).isoformat(timespec='milliseconds')} {level} {' '.join(text.split())}\n"
        with self.lock, path.open("a", encoding="utf-8") as handle:
            handle.write(line)

    def migrated(self) -> bool:
        with self.engine.connect() as conn:
            return sa.inspect(conn).has_table("families")

    def misbehave(self) -> None:
        """The simulated faults of a bad release, active on the new schema only."""
        settings = self.settings
        if not (settings.broken or settings.slow_ms) or not self.migrated():
            return
        if settings.slow_ms:
            time.sleep(settings.slow_ms / 1000)
        if settings.broken:
            with self.lock:
                self.api_calls_on_new_schema += 1
                calls = self.api_calls_on_new_schema
            if calls > settings.broken_after:
                raise HTTPException(500, "demo break: this release fails on the new schema")

    def user_for(self, authorization: str | None) -> int:
        scheme, _, token = (authorization or "").partition(" ")
        with self.lock:
            user_id = self.tokens.get(token) if scheme.lower() == "bearer" else None
        if user_id is None:
            raise HTTPException(401, "not authenticated", headers={"WWW-Authenticate": "Bearer"})
        return user_id


def _database_error(service: _Service, exc: SQLAlchemyError) -> HTTPException:
    service.log("ERROR", f"database error: {first_line(exc, with_type=False)}")
    return HTTPException(500, "database error")


def create_app(settings: AppSettings) -> FastAPI:
    """The FastAPI application for ``settings`` (its engine is disposed with :func:`dispose_app`)."""
    service = _Service(settings=settings, engine=_engine(settings.db_url))
    app = FastAPI(title="chores-tracker (safeshift demo)", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service

    @app.middleware("http")
    async def maintenance_and_log(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        if settings.maintenance_file.exists():
            response: Response = JSONResponse({"detail": "maintenance"}, status_code=503, headers={"Retry-After": "30"})
        else:
            try:
                response = await call_next(request)
            except Exception as exc:  # the demo must answer 500 and log it, like a real server
                service.log("ERROR", f"{request.method} {request.url.path} unhandled {type(exc).__name__}")
                response = JSONResponse({"detail": "internal error"}, status_code=500)
        elapsed = (time.perf_counter() - started) * 1000
        level = "ERROR" if response.status_code >= 500 and response.status_code != 503 else "INFO"
        service.log(level, f"{request.method} {request.url.path} {response.status_code} {elapsed:.0f}ms")
        return response

    @app.get("/health")
    def health() -> dict[str, str]:
        try:
            with service.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise _database_error(service, exc) from None
        return {"status": "ok", "database": "ok"}

    @app.post("/api/v1/users/login")
    def login(username: Annotated[str, Form()], password: Annotated[str, Form()]) -> dict[str, str]:
        service.misbehave()
        try:
            with service.engine.connect() as conn:
                row = conn.execute(
                    sa.text("SELECT id, is_active FROM users WHERE username = :u"), {"u": username}
                ).first()
        except SQLAlchemyError as exc:
            raise _database_error(service, exc) from None
        good = hmac.compare_digest(password.encode(), settings.password.encode())
        if row is None or not good or not row.is_active:
            raise HTTPException(401, "incorrect username or password")
        token = secrets.token_urlsafe(24)
        with service.lock:
            service.tokens[token] = int(row.id)
        return {"access_token": token, "token_type": "bearer"}

    @app.get("/api/v1/users/me")
    def me(authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        user_id = service.user_for(authorization)
        service.misbehave()
        try:
            with service.engine.connect() as conn:
                row = conn.execute(
                    sa.text("SELECT id, username, email, is_parent, parent_id FROM users WHERE id = :id"), {"id": user_id}
                ).first()
        except SQLAlchemyError as exc:
            raise _database_error(service, exc) from None
        if row is None:
            raise HTTPException(404, "user not found")
        return {
            "id": row.id,
            "username": row.username,
            "email": row.email,
            "is_parent": bool(row.is_parent),
            "parent_id": row.parent_id,
        }

    @app.get("/api/v1/families/me")
    def my_family(authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        user_id = service.user_for(authorization)
        service.misbehave()
        query = sa.text(
            "SELECT f.id, f.name, f.invite_code, "
            "(SELECT COUNT(*) FROM users m WHERE m.family_id = f.id) AS members "
            "FROM users u JOIN families f ON f.id = u.family_id WHERE u.id = :id"
        )
        try:
            with service.engine.connect() as conn:
                row = conn.execute(query, {"id": user_id}).first()
        except SQLAlchemyError as exc:
            raise _database_error(service, exc) from None
        if row is None:
            raise HTTPException(404, "user has no family")
        return {"id": row.id, "name": row.name, "invite_code": row.invite_code, "members": int(row.members)}

    return app


def _service(app: FastAPI) -> _Service:
    service = app.state.service
    assert isinstance(service, _Service)
    return service


def dispose_app(app: FastAPI) -> None:
    """Close the application's database connections."""
    _service(app).engine.dispose()


class RunningApp:
    """The demo application serving on 127.0.0.1 in a background thread."""

    def __init__(self, app: FastAPI, server: uvicorn.Server, thread: threading.Thread, sock: socket.socket) -> None:
        self.app = app
        self._server = server
        self._thread = thread
        self._socket = sock
        host, port = sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"

    @property
    def settings(self) -> AppSettings:
        return _service(self.app).settings

    @property
    def password(self) -> str:
        return self.settings.password

    @property
    def broken(self) -> bool:
        return self.settings.broken

    @broken.setter
    def broken(self, value: bool) -> None:
        self.settings.broken = value

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and close connections; safe to call twice."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        with contextlib.suppress(OSError):
            self._socket.close()
        dispose_app(self.app)

    def __enter__(self) -> RunningApp:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_app(
    db_url: str | URL,
    maintenance_file: str | Path,
    broken: bool = False,
    *,
    password: str | None = None,
    broken_after: int = 0,
    slow_ms: int = 0,
    log_file: str | Path | None = None,
    startup_timeout: float = 10.0,
) -> RunningApp:
    """Serve the demo application on a free 127.0.0.1 port; returns once it accepts requests.

    ``password`` defaults to ``FAMILY_DEMO_PASSWORD`` or a fresh random one; it is
    registered as a secret either way.
    """
    url = db_url.render_as_string(hide_password=False) if isinstance(db_url, URL) else db_url
    chosen = password or os.environ.get(PASSWORD_ENV) or secrets.token_urlsafe(12)
    register_secret(chosen)
    settings = AppSettings(
        db_url=url,
        maintenance_file=Path(maintenance_file),
        password=chosen,
        broken=broken,
        broken_after=broken_after,
        slow_ms=slow_ms,
        log_file=Path(log_file) if log_file is not None else None,
    )
    app = create_app(settings)
    # Bind first so the port is known and cannot be taken between choosing and serving.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted sockets inherit this: without it, Nagle + delayed ACK add ~40 ms to each answer
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="family-app", daemon=True)
    thread.start()
    running = RunningApp(app, server, thread, sock)
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            running.stop()
            raise SafeshiftError(f"the demo application did not start within {startup_timeout:g}s")
        time.sleep(0.01)
    return running


def main() -> None:
    """Serve on ``FAMILY_APP_PORT`` (default 8000) with settings from the environment."""
    settings = AppSettings.from_env()
    register_secret(settings.password)
    app = create_app(settings)
    try:
        uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get(PORT_ENV, "8000")), log_level="info")
    finally:
        dispose_app(app)


if __name__ == "__main__":
    main()
