"""``[[notify]]``: tell a team's chat (or any webhook) that a production migration started,
failed a phase, rolled back or finished.

Each post is a JSON body with a Slack-compatible ``text`` line and the whole event (run id,
outcome, message, durations, the report's path), masked like everything safeshift writes.
A notification must never change a run: every post runs in a thread of its own, a failure
or a timeout is journaled and nothing else, and the run waits for outstanding posts only
once, at its end, at most the longest ``timeout`` of the targets.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from safeshift.app.template import render
from safeshift.config.env import env_names
from safeshift.config.models import NotifyTarget
from safeshift.errors import SafeshiftError
from safeshift.secrets import first_line, redact, redact_data, register_secret, register_url_text

# (journal event, data): how a post's fate is recorded (the run's journal)
Record = Callable[[str, dict[str, Any]], None]


class Notifier:
    """Posts events to the plan's webhooks without ever holding the run up for longer than a timeout."""

    def __init__(self, targets: Sequence[NotifyTarget], record: Record, *, client: httpx.Client | None = None) -> None:
        self.targets = list(targets)
        self.record = record
        self._threads: list[tuple[threading.Thread, NotifyTarget, str, str]] = []
        self._lock = threading.Lock()
        self._client = client

    def send(self, event: str, text: str, data: dict[str, Any]) -> None:
        """Post ``event`` to every target that wants it; returns at once."""
        body = redact_data({"text": text, "event": event, **data})
        for index, target in enumerate(self.targets):
            if not target.wants(event):
                continue
            try:
                url = render(target.url, None, f"notify[{index}].url", secret=True)
                register_url_text(url)  # a password or token in the URL is masked from here on
            except SafeshiftError as exc:
                self._record("not_posted", target, event, "", error=exc.message)
                continue
            thread = threading.Thread(target=self._post, args=(target, url, event, body), daemon=True,
                                      name=f"safeshift-notify-{event}")
            with self._lock:
                self._threads.append((thread, target, url, event))
            thread.start()

    def flush(self) -> None:
        """Wait for the posts still on their way, at most the longest timeout; journal those that did not end."""
        with self._lock:
            pending = [t for t in self._threads if t[0].is_alive()]
        if not pending:
            return
        deadline = time.monotonic() + max(t[1].timeout for t in pending)
        for thread, _target, _url, _event in pending:
            thread.join(max(0.0, deadline - time.monotonic()))
        for thread, target, url, event in pending:
            if thread.is_alive():
                self._record("not_posted", target, event, url, error=f"no answer within {target.timeout:g} s (the run went on)")

    def _post(self, target: NotifyTarget, url: str, event: str, body: dict[str, Any]) -> None:
        started = time.perf_counter()
        try:
            if self._client is not None:
                response = self._client.post(url, json=body, timeout=target.timeout)
            else:
                with httpx.Client(timeout=target.timeout) as client:
                    response = client.post(url, json=body)
        except Exception as exc:  # noqa: BLE001  (a notification never fails the run)
            self._record("not_posted", target, event, url, error=first_line(exc), seconds=time.perf_counter() - started)
            return
        seconds = time.perf_counter() - started
        if response.is_success:
            self._record("posted", target, event, url, status=response.status_code, seconds=seconds)
        else:
            answer = " ".join(response.text.split())[:160]
            self._record("not_posted", target, event, url, status=response.status_code, seconds=seconds,
                         error=f"HTTP {response.status_code}: {answer}")

    def _record(self, kind: str, target: NotifyTarget, event: str, url: str, **data: Any) -> None:
        if "seconds" in data:
            data["seconds"] = round(float(data["seconds"]), 3)
        entry = {"notice": event, "url": redact(url or target.url), **({"name": target.name} if target.name else {}), **data}
        try:
            self.record(kind, entry)
        except Exception:  # noqa: BLE001  (the journal closed under a post that outlived the run)
            pass


def register_notify_secrets(targets: Sequence[NotifyTarget]) -> None:
    """A webhook URL is a credential (Slack's path is its token): when it comes from the
    environment, the whole value is masked; a literal one's password and token parameters are."""
    for target in targets:
        register_url_text(target.url)
        for name in env_names(target.url):
            register_secret(os.environ.get(name))
