"""Smoke probes: the runbook's curl checks (health, login → token → /users/me) as data.

Each probe is one HTTP request with expectations; values captured from one answer
(the login's ``access_token``) fill ``{var}`` placeholders of the next. Everything a
probe reports passes through :func:`safeshift.secrets.redact`, and captured values and
credentials from the environment are registered as secrets before they are used.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from safeshift.app.template import as_text, render, render_data
from safeshift.config.env import env_names
from safeshift.config.models import SmokeProbe
from safeshift.errors import ConfigError, SafeshiftError
from safeshift.secrets import redact, redact_data, register_secret, register_url_text

_MISSING = object()
_BODY_SHOWN = 160
_BODY_KEPT = 2000


@dataclass
class ProbeResult:
    """What one probe saw; ``message`` says why it failed (or what it measured)."""

    name: str
    passed: bool
    status: int | None = None
    latency_ms: float | None = None
    message: str = ""
    request: str = ""
    body: str = ""  # a failed probe's answer (masked, the first _BODY_KEPT characters): what the app said

    def to_dict(self) -> dict[str, Any]:
        # Redacted again here: a secret registered after this result was made is masked too.
        data = {
            "name": self.name,
            "passed": self.passed,
            "status": self.status,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 2),
            "message": self.message,
            "request": self.request,
        }
        if self.body:
            data["body"] = self.body
        return dict(redact_data(data))


@dataclass
class _Prepared:
    method: str
    url: str
    headers: dict[str, str]
    form: dict[str, str] | None
    json: Any


def _prepare(probe: SmokeProbe, variables: Mapping[str, str]) -> _Prepared:
    where = f"smoke {probe.name!r}"
    form = None
    if probe.form is not None:
        form = {
            k: render(v, variables, f"{where} form.{k}", secret=True) if isinstance(v, str) else as_text(v)
            for k, v in probe.form.items()
        }
    return _Prepared(
        method=probe.method,
        url=_registered(render(probe.url, variables, f"{where} url", secret=False)),
        headers={k: render(v, variables, f"{where} headers.{k}", secret=True) for k, v in probe.headers.items()},
        form=form,
        json=render_data(probe.json_body, variables, f"{where} json", secret=True),
    )


def _registered(url: str) -> str:
    """A probe URL's credentials (userinfo, ``?key=``) become secrets before it is shown anywhere."""
    register_url_text(url)
    return url


def json_path(data: Any, path: str) -> Any:
    """``a.b.0.c`` inside decoded JSON; ``_MISSING`` when any step is absent."""
    current = data
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit() and -len(current) <= int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def _same(got: Any, want: Any) -> bool:
    """JSON equality that does not take true for 1 (Python would)."""
    if isinstance(got, bool) or isinstance(want, bool):
        return isinstance(got, bool) and isinstance(want, bool) and got == want
    return bool(got == want)


def _one_line(text: str) -> str:
    """A body shortened for a message: masked first, so a cut can never leave half a secret."""
    flat = " ".join(redact(text).split())
    return flat if len(flat) <= _BODY_SHOWN else flat[:_BODY_SHOWN] + "…"


def _kept_body(response: httpx.Response) -> str:
    """The answer of a failed probe for the report: masked first, then cut."""
    try:
        text = redact(response.text)
    except Exception:  # noqa: BLE001  (an undecodable body is not worth a failure of its own)
        return ""
    return text if len(text) <= _BODY_KEPT else text[:_BODY_KEPT] + "…"


class _ProbeFailed(Exception):
    """An expectation did not hold; the message is the reason."""


def _decoded(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise _ProbeFailed(f"answer is not JSON: {_one_line(response.text)}") from None


def _capture(source: str, response: httpx.Response) -> str:
    if source == "status":
        return str(response.status_code)
    if source == "body":
        return response.text
    if source.startswith("header."):
        name = source.removeprefix("header.")
        if name not in response.headers:
            raise _ProbeFailed(f"cannot capture {source}: no {name} header in the answer")
        return response.headers[name]
    value = json_path(_decoded(response), source.removeprefix("json."))
    if value is _MISSING or value is None:
        raise _ProbeFailed(f"cannot capture {source}: not in the answer")
    return as_text(value)


def _judge(probe: SmokeProbe, response: httpx.Response, latency_ms: float, variables: MutableMapping[str, str]) -> str:
    """Check every expectation in order; return a short success message or raise _ProbeFailed."""
    if response.status_code != probe.expect_status:
        raise _ProbeFailed(
            f"expected status {probe.expect_status}, got {response.status_code}: {_one_line(response.text)}"
        )
    if probe.expect_body is not None and probe.expect_body not in response.text:
        raise _ProbeFailed(f"answer does not contain {probe.expect_body!r}: {_one_line(response.text)}")
    if probe.expect_json:
        data = _decoded(response)
        for path, want in probe.expect_json.items():
            got = json_path(data, path)
            if got is _MISSING:
                raise _ProbeFailed(f"json {path} is missing, expected {json.dumps(want)}")
            if not _same(got, want):
                raise _ProbeFailed(f"json {path} is {json.dumps(got)}, expected {json.dumps(want)}")
    if probe.budget_ms is not None and latency_ms > probe.budget_ms:
        raise _ProbeFailed(f"took {latency_ms:.0f} ms, budget {probe.budget_ms:g} ms")
    captured = {var: _capture(source, response) for var, source in probe.capture.items()}
    for var, value in captured.items():
        if probe.capture[var] != "status":
            register_secret(value)  # tokens and ids from answers are credentials until proven otherwise
        variables[var] = value
    return f"{response.status_code} in {latency_ms:.0f} ms"


def run_probe(probe: SmokeProbe, client: httpx.Client, variables: MutableMapping[str, str]) -> ProbeResult:
    """Send one probe and judge its answer; captures are written into ``variables``."""
    shown = f"{probe.method} {probe.url}"
    try:
        prepared = _prepare(probe, variables)
    except SafeshiftError as exc:
        return ProbeResult(probe.name, False, message=redact(exc.message), request=redact(shown))
    shown = redact(f"{prepared.method} {prepared.url}")
    started = time.perf_counter()
    try:
        response = client.request(
            prepared.method,
            prepared.url,
            headers=prepared.headers,
            data=prepared.form,
            json=prepared.json,
            timeout=probe.timeout if probe.timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
    except httpx.HTTPError as exc:
        latency = (time.perf_counter() - started) * 1000
        problem = f"request failed: {type(exc).__name__}: {exc}"
        return ProbeResult(probe.name, False, latency_ms=latency, message=redact(problem), request=shown)
    latency = (time.perf_counter() - started) * 1000
    try:
        message = _judge(probe, response, latency, variables)
    except _ProbeFailed as exc:
        return ProbeResult(probe.name, False, response.status_code, latency, redact(str(exc)), shown, _kept_body(response))
    return ProbeResult(probe.name, True, response.status_code, latency, redact(message), shown)


def run_probes(
    probes: Sequence[SmokeProbe],
    client: httpx.Client,
    variables: MutableMapping[str, str],
    *,
    stop_on_failure: bool = True,
) -> list[ProbeResult]:
    """Run probes in order; captures land in ``variables`` for later probes (and the watch).

    A failed probe ends the chain (``stop_on_failure``), so the last result is the one
    that failed and says why; the watch window runs every probe each tick instead.
    """
    results: list[ProbeResult] = []
    for probe in probes:
        result = run_probe(probe, client, variables)
        results.append(result)
        if not result.passed and stop_on_failure:
            break
    return results


def failure_message(results: Sequence[ProbeResult]) -> str | None:
    """One line naming the first failed probe and why, or None when all passed."""
    for result in results:
        if not result.passed:
            return redact(f"smoke probe {result.name!r} failed: {result.message}")
    return None


def check_probe_environment(probes: Sequence[SmokeProbe], where: str = "smoke") -> None:
    """Raise a ConfigError for the first ``${ENV}`` a probe needs that is not set.

    Meant for preflight: a missing password must stop the run before the migration, not
    fail the smoke test afterwards and cause a rollback.
    """
    for probe in probes:
        for field, text in probe.templates():
            missing = unset_env(text)
            if missing:
                raise ConfigError(f"{where} {probe.name!r} {field}: environment variable {missing} is not set")


def unreachable_hosts(probes: Sequence[SmokeProbe], timeout: float = 5.0) -> list[str]:
    """One problem per probe host that does not accept a TCP connection, as
    ``smoke[i] ('name'): http://host:port does not answer (why)``.

    For preflight: the application must be up before the run takes it down, or the smoke
    test after the cutover fails for a reason that was there all along. Only the scheme,
    host and port of each URL count (its ``${ENV}`` filled in); a host that comes from a
    capture (``{var}``) cannot be known yet and is skipped. Each host is tried once.
    """
    problems: list[str] = []
    tried: dict[tuple[str, int], str | None] = {}
    for index, probe in enumerate(probes):
        target = _host_of(probe)
        if target is None:
            continue
        scheme, host, port = target
        if (host, port) not in tried:
            tried[(host, port)] = _connect_error(host, port, min(timeout, probe.timeout or timeout))
        error = tried[(host, port)]
        if error is not None:
            shown = f"[{host}]" if ":" in host else host
            problems.append(f"smoke[{index}] ({probe.name!r}): {scheme}://{shown}:{port} does not answer ({error})")
    return problems


def _host_of(probe: SmokeProbe) -> tuple[str, str, int] | None:
    """(scheme, host, port) of the probe's URL, or None when a capture decides the host."""
    try:
        url = render(probe.url, None, f"smoke {probe.name!r} url", secret=False)
    except SafeshiftError:
        return None  # a missing ${ENV} is reported by check_probe_environment
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if not host or "{" in parts.netloc:
        return None
    scheme = parts.scheme.lower()
    return scheme, host, port or (443 if scheme == "https" else 80)


def _connect_error(host: str, port: int, timeout: float) -> str | None:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except TimeoutError:
        return f"no answer within {timeout:g}s"
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def unset_env(text: str) -> str | None:
    """The first ``${VAR}`` in ``text`` that is unset and has no ``:-default``."""
    for name in env_names(text):
        if not os.environ.get(name) and f"${{{name}:-" not in text:
            return name
    return None


def register_probe_secrets(probes: Sequence[SmokeProbe]) -> None:
    """Register the environment values probes send in headers, forms and bodies (when set)."""
    for probe in probes:
        for field, text in probe.templates():
            if field == "url":
                register_url_text(text)  # a literal password in the template itself
                continue
            for name in env_names(text):
                register_secret(os.environ.get(name))


def describe_probes(probes: Sequence[SmokeProbe]) -> list[str]:
    """The chain as it would run, for dry runs: templates unresolved, so no secret is shown."""
    lines = []
    for probe in probes:
        body = " (form)" if probe.form is not None else " (json)" if probe.json_body is not None else ""
        expect = f"expect {probe.expect_status}"
        if probe.budget_ms is not None:
            expect += f" within {probe.budget_ms:g} ms"
        capture = f", capture {', '.join(sorted(probe.capture))}" if probe.capture else ""
        lines.append(redact(f"smoke {probe.name}: {probe.method} {probe.url}{body}: {expect}{capture}"))
    return lines
