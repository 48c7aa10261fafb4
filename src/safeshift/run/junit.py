"""``junit.xml``: the run as a JUnit report, for CI dashboards that read nothing else.

One test case per phase (``safeshift.phase``) and one per check (``safeshift.checks.<phase>``);
a failed or blocked phase and a failed check are failures carrying the message and the
offending keys, a skipped phase is skipped. Built from the report's data, masked like it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from safeshift.secrets import redact


def _text(value: object) -> str:
    """Masked, and without the characters XML 1.0 cannot hold (a control byte in a check name)."""
    shown = redact("" if value is None else str(value))
    return "".join(c for c in shown if c in "\t\n\r" or ord(c) >= 0x20)


def render_junit(data: dict[str, Any]) -> str:
    suites = ET.Element("testsuites", name="safeshift")
    suite = ET.SubElement(
        suites, "testsuite",
        name=_text(f"safeshift run {data.get('run_id')}"),
        timestamp=_text(data.get("started") or ""),
        hostname=_text((data.get("environment") or {}).get("host", "")),
    )
    props = ET.SubElement(suite, "properties")
    for key in ("outcome", "exit_code", "message", "database", "plan", "start_revision", "target_revision", "digest"):
        ET.SubElement(props, "property", name=key, value=_text(data.get(key)))
    tests = failures = skipped = 0
    total = 0.0
    for phase in data.get("phases", []):
        seconds = float(phase.get("seconds") or 0)
        case = ET.SubElement(suite, "testcase", classname="safeshift.phase", name=_text(phase.get("name")), time=f"{seconds:.3f}")
        tests, total = tests + 1, total + seconds
        status = phase.get("status")
        detail = phase.get("detail") or {}
        if status in ("failed", "blocked"):
            failures += 1
            message = detail.get("error") or f"phase {status}"
            failure = ET.SubElement(case, "failure", message=_text(message), type=_text(status))
            failure.text = _text(message)
        elif status == "skipped":
            skipped += 1
            ET.SubElement(case, "skipped", message=_text(detail.get("error") or "skipped"))
    for check in data.get("checks", []):
        seconds = float(check.get("seconds") or 0)
        case = ET.SubElement(
            suite, "testcase", classname=_text(f"safeshift.checks.{check.get('phase')}"), name=_text(check.get("name")),
            time=f"{seconds:.3f}",
        )
        tests, total = tests + 1, total + seconds
        if check.get("passed"):
            continue
        failures += 1
        samples = check.get("samples") or []
        if check.get("error"):
            message = f"could not run: {check.get('message')}"
        else:
            message = f"got {check.get('value')}, expected {check.get('expected')}"
            if check.get("message"):
                message += f": {check.get('message')}"
        if samples:
            message += " (offending: " + ", ".join(map(str, samples)) + ")"
        failure = ET.SubElement(case, "failure", message=_text(message), type=_text(check.get("kind") or "check"))
        lines = [message, *(f"offending key: {s}" for s in samples)]
        failure.text = _text("\n".join(lines))
    outcome = ET.SubElement(suite, "system-out")
    outcome.text = _text(f"{data.get('outcome')} (exit {data.get('exit_code')}): {data.get('message')}")
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    suite.set("time", f"{total:.3f}")
    for key in ("tests", "failures", "errors", "time"):
        suites.set(key, suite.get(key, "0"))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
