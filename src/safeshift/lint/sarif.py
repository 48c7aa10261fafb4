"""SARIF 2.1.0 output, so CI code-scanning shows findings on the migration file."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from safeshift.lint.core import META_RULES
from safeshift.lint.model import Finding
from safeshift.lint.rules import rule_classes
from safeshift.lint.version import ServerVersion

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _version() -> str:
    try:
        return metadata.version("safeshift")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0"


def _rules(findings: list[Finding]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for code, cls in rule_classes().items():
        rules.append(
            {
                "id": code,
                "name": cls.name,
                "shortDescription": {"text": cls.summary()},
                "fullDescription": {"text": cls.section("Anti-pattern") or cls.summary()},
                "help": {"text": cls.section("Best practice") or cls.suggestion},
            }
        )
    for meta in META_RULES:
        rules.append({"id": meta.code, "name": meta.name, "shortDescription": {"text": meta.summary}})
    known = {r["id"] for r in rules}
    for finding in findings:
        if finding.code not in known:
            known.add(finding.code)
            rules.append({"id": finding.code, "name": finding.name, "shortDescription": {"text": finding.name}})
    return rules


def to_sarif(findings: list[Finding], source_name: str, server_version: ServerVersion | None = None) -> dict[str, Any]:
    """A SARIF log with one run; ``source_name`` is the artifact the lines refer to; the run's
    properties say which server version the advice was written for."""
    rules = _rules(findings)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results: list[dict[str, Any]] = []
    for finding in findings:
        text = finding.message + (f" Suggestion: {finding.suggestion}" if finding.suggestion else "")
        result: dict[str, Any] = {
            "ruleId": finding.code,
            "ruleIndex": index[finding.code],
            "level": finding.severity,
            "message": {"text": text},
        }
        location: dict[str, Any] = {"artifactLocation": {"uri": source_name}}
        if finding.line is not None:
            location["region"] = {"startLine": finding.line}
        result["locations"] = [{"physicalLocation": location}]
        properties: dict[str, Any] = {}
        if finding.statement is not None:
            properties["statement"] = finding.statement
        if finding.table is not None:
            properties["table"] = finding.table
        if properties:
            result["properties"] = properties
        if finding.suppressed:
            result["suppressions"] = [{"kind": "inSource", "justification": finding.reason or ""}]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "safeshift",
                        "version": _version(),
                        "rules": rules,
                    }
                },
                "results": results,
                **({"properties": {"serverVersion": server_version.describe()}} if server_version else {}),
            }
        ],
    }
