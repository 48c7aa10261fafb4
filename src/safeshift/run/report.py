"""The run report: ``report.json`` (the RunResult) and ``report.md`` for people."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safeshift.secrets import redact, redact_data

if TYPE_CHECKING:
    from safeshift.run.outcome import RunResult


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _pct(rate: float | None) -> str:
    """A rate as a plan writes its trigger: 0.75 is 75.0%."""
    return "–" if rate is None else f"{rate * 100:.1f}%"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} ms"


def _count(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def _time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def lint_summary(data: dict[str, Any]) -> tuple[str | None, list[str]]:
    """The server version the lint's advice was for (from preflight), and each statement, revision or
    file it could not judge, with how it counted against fail_on ([lint] unlintable) or why it did not."""
    version = next(
        (p["detail"]["lint"].get("server_version") for p in data.get("phases", []) if "lint" in (p.get("detail") or {})), None
    )
    unlinted = []
    for f in data.get("lint") or []:
        if f.get("not_linted") or f.get("code") == "SS094":  # SS094: a report written before not_linted
            counts = f"suppressed: {f.get('reason')}" if f.get("suppressed") else f"counts as {f.get('severity')}"
            unlinted.append(f"{f['code']}: {f['message']} ({counts})")
    return version, unlinted


def maintenance_window(phases: list[dict[str, Any]], finished: str) -> tuple[float, int] | None:
    """Seconds the application spent in maintenance mode during the run (the rollback's too):
    from each ``maintenance:on`` to the end of the ``maintenance:off`` after it (or the run's end)."""
    total, spells, opened = 0.0, 0, None
    for p in phases:
        start = _time(p.get("started", ""))
        if p["name"] == "maintenance:on" and opened is None and start is not None:
            opened, spells = start, spells + 1
        elif p["name"] == "maintenance:off" and opened is not None and start is not None:
            total += (start - opened).total_seconds() + float(p.get("seconds", 0.0))
            opened = None
    if opened is not None and (end := _time(finished)) is not None:
        total += (end - opened).total_seconds()
    return (total, spells) if spells else None


def render_markdown(data: dict[str, Any]) -> str:
    lines = [
        f"# safeshift run {data['run_id']}",
        "",
        f"- **Outcome:** {data['outcome']} (exit {data['exit_code']})",
        f"- **Message:** {data['message']}",
        f"- **Database:** `{data['database']}`",
        f"- **Plan:** `{data['plan']}`",
        f"- **Revision:** {data['start_revision'] or 'base'} → {data['target_revision']}",
        f"- **Started / finished:** {data['started']} / {data['finished']}",
    ]
    env = data.get("environment") or {}
    if env:
        lines.append(f"- **Ran by:** {env.get('user', '?')} on {env.get('host', '?')}, safeshift {env.get('safeshift', '?')}")
    facts = data.get("facts")
    if facts:
        lines.append(f"- **Server:** {facts['version']}, database size {_size(facts['database_bytes'])}")
    window = maintenance_window(data["phases"], data.get("finished") or "")
    if window is not None:
        seconds, spells = window
        lines.append(f"- **Maintenance window (downtime):** {seconds:.1f} s" + (f" in {spells} spells" if spells > 1 else ""))
    lines += [f"- **Warning:** {w}" for w in data.get("warnings", [])]
    lines += ["", "## Phases", "", "| phase | started | status | seconds |", "|---|---|---|---:|"]
    lines += [f"| {p['name']} | {p.get('started', '')} | {p['status']} | {p['seconds']:.3f} |" for p in data["phases"]]
    backfills = [b for p in data["phases"] if p["name"] == "apply" for b in p["detail"].get("backfills", [])]
    if backfills:
        lines += ["", "## Backfills", "", "| backfill | table | rows | batches | seconds | rows/s | resumed after key |",
                  "|---|---|---:|---:|---:|---:|---|"]
        for b in backfills:
            resumed = "" if b.get("resumed_from") is None else str(b["resumed_from"])
            lines.append(
                f"| {b['name']} | {b['table']} | {b['rows']} | {b['batches']} | {b['seconds']:.2f} "
                f"| {b['rows_per_s']:.0f} | {resumed} |"
            )
        lines += [f"- {b['name']}: {w}" for b in backfills for w in b.get("warnings", [])]
    if data["checks"]:
        lines += ["", "## Checks", "", "| phase | check | passed | value | expected | offending |", "|---|---|---|---:|---|---|"]
        for c in data["checks"]:
            samples = ", ".join(str(s) for s in c["samples"]) or (c["message"] if not c["passed"] else "")
            mark = "✅" if c["passed"] else "❌"
            lines.append(f"| {c['phase']} | {c['name']} | {mark} | {c['value']} | {c['expected'] or ''} | {samples} |")
    backup = data.get("backup")
    if backup:
        lines += [
            "",
            "## Backup",
            "",
            f"- File: `{backup['path']}` ({_size(backup['bytes'])}, {backup['seconds']:.2f} s)",
            f"- Verified: {'yes' if backup['verified'] else 'no'} {json.dumps(backup['verify_detail']) if backup['verify_detail'] else ''}",
        ]
    if data["snapshot"]:
        after = data.get("rows_after") or {}
        if after:
            lines += ["", "## Row counts (before → after the migration)", "", "| table | before | after |", "|---|---:|---:|"]
            lines += [f"| {t} | {data['snapshot'].get(t, '–')} | {after.get(t, '–')} |" for t in sorted(set(data["snapshot"]) | set(after))]
        else:
            lines += ["", "## Snapshot (row counts)", "", "| table | rows |", "|---|---:|"]
            lines += [f"| {t} | {n} |" for t, n in data["snapshot"].items()]
    ran = [st for p in data["phases"] if p["name"] == "apply" for st in p.get("detail", {}).get("statements", [])]
    if ran:
        lines += ["", "## SQL that ran (apply)", "", "| runs | seconds | lock | statement |", "|---:|---:|---|---|"]
        for st in ran[:50]:
            sql = st["sql"].replace("|", "\\|")
            failed = f" **failed: {st['error']}**" if st.get("error") else ""
            lines.append(f"| {st['count']} | {st['seconds']:.4f} | {st.get('lock') or ''} | `{sql[:160]}`{failed} |")
        if len(ran) > 50:
            lines.append(f"| | | | and {len(ran) - 50} more (report.html lists them all) |")
    rollback = data.get("rollback")
    if rollback:
        proof = rollback.get("proof", {})
        lines += [
            "",
            "## Rollback",
            "",
            f"- Reason: {rollback['reason']}",
            f"- Backup before the rollback: `{rollback['backup']['path']}` ({_size(rollback['backup']['bytes'])}, verified)"
            if rollback.get("backup") else "- Backup before the rollback: none (no rollback step ran)",
            f"- Strategy: {rollback['strategy']}; steps: "
            + ", ".join(f"{s['step']} {'ok' if s['ok'] else 'FAILED'}" for s in rollback["steps"]),
            f"- Proof: {'database equals the snapshot' if proof.get('equal') else 'NOT EQUAL'}"
            f" (revision {proof.get('revision') or 'base'}, {proof.get('tables_compared', 0)} tables compared)",
        ]
        lines += [f"  - {d}" for d in proof.get("differences", [])]
        for earlier in rollback.get("earlier_proofs", []):
            lines.append("- An earlier proof (before the restore) found:")
            lines += [f"  - {d}" for d in earlier.get("differences", [])]
        lines += _writes_lines(rollback.get("writes"))
        if proof.get("row_counts"):
            lines += ["", "| table | snapshot | after rollback |", "|---|---:|---:|"]
            lines += [
                f"| {t} | {data['snapshot'].get(t)} | {n} |" for t, n in proof["row_counts"].items()
            ]
    if data.get("smoke"):
        lines += ["", "## Smoke probes", "", "| probe | passed | status | ms | message |", "|---|---|---:|---:|---|"]
        for p in data["smoke"]:
            ms = "" if p.get("latency_ms") is None else f"{p['latency_ms']:.0f}"
            lines.append(f"| {p['name']} | {'✅' if p['passed'] else '❌'} | {p.get('status') or ''} | {ms} | {p.get('message') or ''} |")
    watch = data.get("watch")
    if watch:
        lines += [
            "",
            "## Watch window",
            "",
            f"- {watch['ticks']} ticks in {watch['seconds']:.1f} s; {watch['requests']} requests, "
            f"{watch['failures']} failed (error rate {_pct(watch['error_rate'])})",
            f"- Triggers: {', '.join(watch['triggers'])}",
            f"- Fired: {watch['triggered'] or 'none'}",
            "",
            "| tick | error rate | p50 ms | p95 ms | log errors | checks failed |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for t in watch["samples"]:
            lines.append(
                f"| {t['tick']} | {_pct(t['error_rate'])} | {_ms(t['p50_ms'])} | {_ms(t['p95_ms'])} "
                f"| {_count(t['log_errors'])} | {_count(t['checks_failed'])} |"
            )
    if data.get("digest"):
        lines += ["", "## Approval", "", f"- Plan digest: `{data['digest']}`"]
        if data.get("approval"):
            a = data["approval"]
            lines.append(f"- Approved by {a['by']} at {a['at']} ({a['how']})")
    rehearsal = data.get("rehearsal")
    if rehearsal:
        lines += [
            "",
            "## Rehearsal on a copy",
            "",
            f"- Result: {'passed' if rehearsal.get('passed') else 'FAILED'}",
            f"- Predicted apply time: {rehearsal.get('predicted_apply_seconds')} s "
            f"({rehearsal.get('statement_count', 0)} statements); verify {rehearsal.get('verify_seconds', '?')} s",
        ]
        if rehearsal.get("lock_classes"):
            lines += ["", "| lock class (asked of the server) | statement |", "|---|---|"]
            lines += [f"| {lc['lock_class'] or 'error: ' + lc.get('error', '')} | `{lc['sql'][:120]}` |" for lc in rehearsal["lock_classes"]]
        if rehearsal.get("statements"):
            lines += ["", "| seconds | statement (slowest first) |", "|---:|---|"]
            lines += [f"| {st['seconds']:.4f} | `{st['sql'][:120]}` |" for st in rehearsal["statements"][:10]]
    if data.get("lint"):
        version, unlinted = lint_summary(data)
        lines += ["", "## Lint", ""] + ([f"Advice for {version}.", ""] if version else [])
        if unlinted:  # what no rule judged is named first, with how it counts
            lines += [f"Not linted ({len(unlinted)}):"] + [f"- {text}" for text in unlinted] + [""]
        lines += ["| code | severity | where | finding | suppressed |", "|---|---|---|---|---|"]
        for f in data["lint"]:
            where = f.get("table") or (f"statement {f['statement']}" if f.get("statement") is not None else "the migration")
            suppressed = f"yes: {f.get('reason') or ''}" if f.get("suppressed") else ""
            lines.append(f"| {f['code']} | {f['severity']} | {where} | {f['message']} | {suppressed} |")
    for observed in (data.get("observed"), (data.get("rehearsal") or {}).get("observed")):
        lines += observed_lines(observed)
    if data.get("statements"):
        lines += ["", "## Planned statements", ""]
        for st in data["statements"]:
            lines.append(f"- {st['phase']}: {st['what']}" + (f"\n\n  ```sql\n  {st['sql']}\n  ```" if st["sql"] else ""))
    return redact("\n".join(lines) + "\n")


def write_report(result: RunResult, folder: Path) -> None:
    """Write the report files (report.json, report.md, report.html, junit.xml) and record their paths."""
    from safeshift.run.executed import annotate_locks
    from safeshift.run.junit import render_junit
    from safeshift.run.report_html import render_html

    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / "report.json"
    md_path = folder / "report.md"
    html_path = folder / "report.html"
    junit_path = folder / "junit.xml"
    result.report = str(json_path)
    result.report_md = str(md_path)
    result.report_html = str(html_path)
    result.junit = str(junit_path)
    if result.facts is not None:  # in place, on the result: report.json and --json show the same locks
        annotate_locks({"facts": result.facts.to_dict(), "phases": [{"name": p.name, "detail": p.detail} for p in result.phases]})
    data = redact_data(result.to_dict())
    json_path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(data), encoding="utf-8")
    html_path.write_text(render_html(data), encoding="utf-8")
    junit_path.write_text(render_junit(data), encoding="utf-8")


_FATE = {
    "kept": "kept in the database (the downgrade reached the state before; only these rows differ)",
    "saved": "DISCARDED by the restore and saved to `{saved_to}`: a person must re-apply them",
    "stopped": "still in the database: the rollback stopped before a restore would discard them; maintenance stays on",
}


def observed_lines(observed: dict[str, Any] | None) -> list[str]:
    """The statements that ran on a copy, each with the lint's lock and the locks it took there."""
    if not observed:
        return []
    lines = ["", f"## Observed locks ({observed.get('where', 'a copy')})", ""]
    if observed.get("skipped"):
        return [*lines, f"- Not observed: {observed['skipped']}"]
    lines += ["| # | statement | declared | observed | rewrote | finding |", "|---:|---|---|---|---|---|"]
    for st in observed.get("statements", []):
        locks = ", ".join(
            lock["mode"] if lock["relation"].startswith("(") else f"{lock['mode']} on {lock['relation']}" for lock in st["observed"]
        )
        seen = "; ".join(part for part in (locks, st.get("note") or "") if part) or "nothing held"
        found = "; ".join(f"{f['code']} {f['severity']}: {f['message']}" for f in st.get("findings", []))
        sql = " ".join(st["sql"].split())[:120].replace("|", "\\|")
        lines.append(f"| {st['index']} | `{sql}` | {st['declared']} | {seen} | {', '.join(st['rewrote']) or 'no'} | {found} |")
    if observed.get("reads_not_listed"):
        lines.append(f"\n{observed['reads_not_listed']} reads that changed nothing are not listed.")
    return lines


def _writes_lines(writes: dict[str, Any] | None) -> list[str]:
    """The rows that differed from the before-state when the rollback looked, and their fate."""
    if not writes:
        return []
    who = "the application (live after apply)" if writes.get("live") else "nobody expected (maintenance was on)"
    lines = [
        "",
        "### Application writes",
        "",
        f"- {writes['rows']} rows differ from the state before, written by {who}; policy `{writes['policy']}`:",
        "  " + _FATE.get(writes["fate"], writes["fate"]).format(saved_to=writes.get("saved_to")),
        "",
        "| table | inserted | updated | deleted | first keys |",
        "|---|---:|---:|---:|---|",
    ]
    for table in writes.get("tables", []):
        if "rows_before" in table:
            lines.append(f"| {table['table']} | rows {table['rows_before']} → {table['rows_now']} (no key) | | | |")
            continue
        first = "; ".join(
            f"{kind}: {', '.join(map(str, table[f'first_{kind}']))}"
            for kind in ("inserted", "updated", "deleted") if table[f"first_{kind}"]
        )
        lines.append(f"| {table['table']} | {table['inserted']} | {table['updated']} | {table['deleted']} | {first} |")
    created = writes.get("created_tables") or {}
    if created:
        lines.append("")
        lines.append(
            "- Tables the migration created held rows when the rollback began (they are in the backup before the rollback): "
            + ", ".join(f"{t} ({n})" for t, n in created.items())
        )
    return lines
