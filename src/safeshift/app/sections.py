"""Plan-load checks that span sections (the watch names probes and checks defined elsewhere).

Called by :func:`safeshift.loading.load_plan`, so a watch that names a probe that does not
exist is a one-line configuration error before anything runs, like every other plan
mistake. Credentials the probes and hooks will send are registered as secrets here too,
so they are masked from the very first line safeshift prints.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from safeshift.app.maintenance import HttpConfig, build_maintenance
from safeshift.app.notify import register_notify_secrets
from safeshift.app.probes import check_probe_environment, register_probe_secrets, unset_env
from safeshift.config.env import env_names, strings
from safeshift.errors import ConfigError
from safeshift.secrets import register_secret

if TYPE_CHECKING:
    from safeshift.config.models import Plan


def validate_app_sections(plan: Plan, post_checks: Sequence[str]) -> None:
    """Raise a one-line ConfigError when ``[maintenance]``, ``[[smoke]]`` and ``[watch]`` disagree.

    ``post_checks``: the names of the plan's post-checks (``watch.checks`` must name some).
    """
    name = plan.source.name
    hook = build_maintenance(plan.maintenance, source=name, base_dir=plan.base_dir)
    if hook is not None and isinstance(hook.config, HttpConfig):
        for spec in (hook.config.on, hook.config.off):
            for text in [*spec.headers.values(), *strings(spec.json_body)]:
                for env in env_names(text):
                    register_secret(os.environ.get(env))
    register_probe_secrets(plan.smoke)
    register_notify_secrets(plan.notify)
    watch = plan.watch
    if watch is None:
        return
    smoke_names = [p.name for p in plan.smoke]
    for index, probe in enumerate(watch.probes or ()):
        if probe not in smoke_names:
            known = ", ".join(smoke_names) or "none: add [[smoke]] probes"
            raise ConfigError(f"{name}: watch.probes[{index}]: no smoke probe named {probe!r} (known: {known})")
    if watch.checks:
        for index, check in enumerate(watch.checks):
            if check not in post_checks:
                known = ", ".join(repr(c) for c in post_checks) or "none"
                raise ConfigError(f"{name}: watch.checks[{index}]: no post-check named {check!r} (known: {known})")
    probes = smoke_names if watch.probes is None else watch.probes
    if not probes and watch.log_file is None and not watch.checks:
        raise ConfigError(f"{name}: watch: nothing to watch: add [[smoke]] probes, log_file or checks")
    metrics = {t.metric for t in watch.parsed_triggers()}
    probe_metrics = metrics - {"log_errors", "checks_failed"}
    if probe_metrics and not probes and watch.triggers is not None:
        raise ConfigError(
            f"{name}: watch.triggers: {', '.join(sorted(probe_metrics))} needs probes, and the watch has none"
        )


def check_app_environment(plan: Plan) -> None:
    """Raise a ConfigError naming the first ``${VAR}`` the application side needs and lacks.

    For preflight: a missing password or app URL must stop the run before anything
    changes, not fail the smoke test after the migration and cause a rollback.
    """
    name = plan.source.name
    if plan.maintenance is not None:
        for key, value in plan.maintenance.model_dump().items():
            for text in strings(value):
                missing = unset_env(text)
                if missing:
                    raise ConfigError(f"{name}: maintenance.{key}: environment variable {missing} is not set")
    check_probe_environment(plan.smoke, where=f"{name}: smoke")
    if plan.watch is not None and plan.watch.log_file is not None:
        missing = unset_env(plan.watch.log_file)
        if missing:
            raise ConfigError(f"{name}: watch.log_file: environment variable {missing} is not set")
