"""``report.html``: the run report for people, one self-contained file.

Inline CSS and inline SVG, no script, nothing fetched (a Content-Security-Policy says so),
so it reads the same offline, attached to a ticket or opened years later. It is rendered
from the report's data (``report.json``), which is how ``safeshift report RUN --html``
renders any run again. Every value that comes from the plan, the database or the user is
masked and HTML-escaped on the way in (:func:`e`); numbers are shown the way a plan writes
them: percent, milliseconds, seconds with one decimal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from safeshift.run.report import lint_summary, maintenance_window
from safeshift.run.report_svg import e, line_chart, parse_time, secs, timeline_svg

# Every report has these sections (a run that never reached one says so inside it).
SECTIONS = ("verdict", "timeline", "watch", "checks", "sql", "lint", "schema", "backup", "rollback", "smoke", "run")

_TITLES = {
    "succeeded": ("Succeeded", "ok"),
    "noop": ("Nothing to do", "ok"),
    "planned": ("Dry run: nothing was changed", "ok"),
    "rehearsed": ("Rehearsed on a copy", "ok"),
    "rolled_back": ("Rolled back", "warn"),
    "blocked": ("Blocked before any change", "warn"),
    "writes_saved": ("Rolled back, writes saved: a person must act", "bad"),
    "stopped": ("Rollback stopped: a person must act", "bad"),
    "failed": ("Failed: a person must act", "bad"),
    "interrupted": ("Interrupted: the process died", "bad"),
}

CSS = """
:root{--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--ink:#1f2328;--mute:#59636e;--line:#d1d9e0;--soft:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--ink);background:#fff}
main{max-width:1180px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:18px;margin:0 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:14px 0 6px}
section{margin:22px 0}
.verdict{border-radius:8px;padding:16px 20px;border:2px solid var(--line);border-left-width:10px}
.verdict.ok{border-color:var(--ok);background:#dafbe1}.verdict.warn{border-color:var(--warn);background:#fff8c5}
.verdict.bad{border-color:var(--bad);background:#ffebe9}
.verdict .msg{font-size:15px;margin:6px 0 12px;word-break:break-word}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:6px 18px;margin:0}
.facts div{min-width:0}.facts dt{color:var(--mute);font-size:12px;text-transform:uppercase;letter-spacing:.03em}
.facts dd{margin:0;font-weight:600;overflow-wrap:anywhere}
table.kv td:first-child{width:230px;color:var(--mute)}
nav{margin:12px 0 0;font-size:13px}nav a{margin-right:12px;color:#0969da;text-decoration:none}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:13px}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600}td .mute{font-size:12px}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.fail td{background:#ffebe9}tr.warn td{background:#fff8c5}
.pass{color:var(--ok);font-weight:700}.failx{color:var(--bad);font-weight:700}.mute{color:var(--mute)}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:6px 8px;margin:0;white-space:pre-wrap;word-break:break-word}
td pre{border:0;padding:0;background:none}
.keys{font-family:ui-monospace,Menlo,Consolas,monospace;color:var(--bad)}
.charts{display:flex;flex-wrap:wrap;gap:16px}.charts figure{margin:0;flex:0 1 540px;min-width:320px}
figcaption{font-size:12px;color:var(--mute)}
svg{max-width:100%;height:auto;display:block}
.pill{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;background:var(--soft);border:1px solid var(--line)}
.pill.ok{color:var(--ok)}.pill.bad{color:var(--bad)}.pill.warn{color:var(--warn)}
.diff .add{color:var(--ok)}.diff .del{color:var(--bad)}
details{margin:6px 0}summary{cursor:pointer;color:#0969da}
footer{color:var(--mute);font-size:12px;margin-top:30px;border-top:1px solid var(--line);padding-top:8px}
@media print{nav{display:none}details{display:block}}
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def pct(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.1f}%"


def count(value: float | None) -> str:
    """A count (JSON may hold it as 3.0): 3."""
    if value is None:
        return "–"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} ms"


def size(n: int | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: Iterable[int] = (), classes: Sequence[str] | None = None) -> str:
    """A table from already-escaped cells; ``numeric`` columns are right-aligned."""
    nums = set(numeric)
    head = "".join(f'<th{" class=n" if i in nums else ""}>{h}</th>' for i, h in enumerate(headers))
    thead = f"<thead><tr>{head}</tr></thead>" if any(headers) else ""
    body = []
    for index, row in enumerate(rows):
        css = f' class="{classes[index]}"' if classes and classes[index] else ""
        cells = "".join(f'<td{" class=n" if i in nums else ""}>{c}</td>' for i, c in enumerate(row))
        body.append(f"<tr{css}>{cells}</tr>")
    if not body:
        return ""
    kind = ' class="kv"' if not any(headers) else ""
    return f"<table{kind}>{thead}<tbody>{''.join(body)}</tbody></table>"


def _section(ident: str, title: str, body: str) -> str:
    return f'<section id="{ident}"><h2>{e(title)}</h2>{body}</section>'


def _none(text: str) -> str:
    return f'<p class="mute">{e(text)}</p>'


def _mark(passed: bool | None) -> str:
    if passed is None:
        return '<span class="mute">–</span>'
    return '<span class="pass">✓</span>' if passed else '<span class="failx">✗</span>'


# -- the sections -----------------------------------------------------------------------------
def _verdict(data: dict[str, Any]) -> str:
    outcome = str(data.get("outcome") or "interrupted")
    title, tone = _TITLES.get(outcome, (outcome, "warn"))
    window = maintenance_window(data.get("phases", []), data.get("finished") or "")
    start, target = data.get("start_revision"), data.get("target_revision")
    facts = [
        ("outcome", f"{outcome} (exit {data.get('exit_code', '?')})"),
        ("revision", f"{start or 'base'} → {target or '?'}"),
        ("run took", secs(_run_seconds(data))),
        ("maintenance window (downtime)", secs(window[0]) + (f" in {window[1]} spells" if window and window[1] > 1 else "") if window else "none"),
        ("database", data.get("database")),
        ("started", data.get("started")),
        ("finished", data.get("finished") or "–"),
        ("run id", data.get("run_id")),
    ]
    grid = "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in facts)
    links = "".join(f'<a href="#{s}">{s}</a>' for s in SECTIONS[1:])
    return (
        f'<header id="verdict" class="verdict {tone}"><h1>{e(title)}</h1>'
        f'<p class="msg">{e(data.get("message"))}</p><dl class="facts">{grid}</dl>'
        f"<nav>{links}</nav></header>"
    )


def _run_seconds(data: dict[str, Any]) -> float | None:
    start, end = parse_time(data.get("started")), parse_time(data.get("finished"))
    if start is not None and end is not None:
        return (end - start).total_seconds()
    seconds = data.get("seconds")
    return float(seconds) if isinstance(seconds, int | float) else None


def _timeline(data: dict[str, Any]) -> str:
    phases = data.get("phases", [])
    if not phases:
        return _section("timeline", "Timeline", _none("No phase ran."))
    window = maintenance_window(phases, data.get("finished") or "")
    svg = timeline_svg(phases, data.get("started") or "", data.get("finished") or "")
    t0 = parse_time(data.get("started"))
    rows, classes = [], []
    for p in phases:
        start = parse_time(p.get("started"))
        offset = f"+{secs((start - t0).total_seconds())}" if start is not None and t0 is not None else ""
        status = str(p.get("status"))
        note = p.get("detail", {}).get("error") or ""
        rows.append([e(p.get("name")), e(offset), e(p.get("started", "")), e(secs(p.get("seconds"))), e(status), e(note)])
        classes.append("fail" if status == "failed" else "warn" if status == "blocked" else "")
    summary = f"<p>Maintenance window: <b>{e(secs(window[0]))}</b>" + (f" in {window[1]} spells" if window[1] > 1 else "") + "</p>" if window else ""
    table = _table(["phase", "start", "at (UTC)", "duration", "status", "note"], rows, numeric=(1, 3), classes=classes)
    return _section("timeline", "Timeline", summary + svg + table)


def fired_ticks(triggered: str | None, ticks: Sequence[int]) -> set[int]:
    """The ticks a trigger fired on, read from its reason ("... on ticks 4-6"); the last tick otherwise."""
    if not triggered:
        return set()
    span = re.search(r"on ticks? (\d+)(?:-(\d+))?\s*$", triggered)
    if span:
        first = int(span.group(1))
        return set(range(first, int(span.group(2) or first) + 1))
    return {ticks[-1]} if ticks else set()


def _thresholds(texts: Sequence[str]) -> dict[str, list[tuple[str, float]]]:
    from safeshift.config.triggers import TriggerError, parse_trigger

    found: dict[str, list[tuple[str, float]]] = {}
    for text in texts:
        try:
            trigger = parse_trigger(text)
        except TriggerError:
            continue
        found.setdefault(trigger.metric, []).append((trigger.text, trigger.threshold))
    return found


def _watch(data: dict[str, Any]) -> str:
    watch = data.get("watch") or {}
    samples = watch.get("samples") or []
    if not samples:
        return _section("watch", "Watch window", _none("No watch window ran (none planned, or the run stopped before it)."))
    ticks = [int(s["tick"]) for s in samples]
    fired = fired_ticks(watch.get("triggered"), ticks)
    limits = _thresholds(watch.get("triggers") or [])
    rate_metrics = [m for m in ("error_rate", "tick_error_rate") if m == "error_rate" or m in limits]
    ms_metrics = [m for m in ("p95_ms", "p50_ms", "max_ms") if m == "p95_ms" or m in limits]
    colours = {"error_rate": "#cf222e", "tick_error_rate": "#fb8f44", "p95_ms": "#0969da", "p50_ms": "#54aeff", "max_ms": "#8250df"}
    charts = [
        line_chart(
            "error rate", ticks, [(m, [s.get(m) for s in samples], colours[m]) for m in rate_metrics],
            [(t, v) for m in rate_metrics for t, v in limits.get(m, [])], pct, fired,
        ),
        line_chart(
            "latency", ticks, [(m, [s.get(m) for s in samples], colours[m]) for m in ms_metrics],
            [(t, v) for m in ms_metrics for t, v in limits.get(m, [])], ms, fired,
        ),
    ]
    others = [m for m in limits if m not in rate_metrics and m not in ms_metrics]
    if others:
        palette = ("#8250df", "#bf3989", "#1b7c83", "#953800")
        series = [(m, [s.get(m) for s in samples], palette[i % len(palette)]) for i, m in enumerate(others)]
        charts.append(line_chart("other triggers", ticks, series, [(t, v) for m in others for t, v in limits[m]],
                                 count, fired))
    fired_text = watch.get("triggered")
    head = (
        f"<p>{e(watch.get('ticks'))} tick{'' if watch.get('ticks') == 1 else 's'} in {e(secs(watch.get('seconds')))} (planned {e(secs(watch.get('planned_seconds')))}); "
        f"{e(watch.get('requests'))} requests, {e(watch.get('failures'))} failed (error rate {e(pct(watch.get('error_rate')))}). "
        f"Triggers: {', '.join(f'<code>{e(t)}</code>' for t in watch.get('triggers') or []) or 'none'}.</p>"
        + (f'<p class="failx">Fired: {e(fired_text)}</p>' if fired_text else '<p class="pass">No trigger fired.</p>')
    )
    figures = "".join(f"<figure>{c}</figure>" for c in charts)
    rows, classes = [], []
    for s in samples:
        rows.append([
            e(s.get("tick")), e(f"{float(s.get('at_s') or 0):.1f} s"), e(count(s.get("requests"))), e(count(s.get("failures"))),
            e(pct(s.get("error_rate"))), e(ms(s.get("p50_ms"))), e(ms(s.get("p95_ms"))),
            e(count(s.get("log_errors"))), e(count(s.get("checks_failed"))), e("; ".join(s.get("problems") or [])),
        ])
        classes.append("fail" if int(s["tick"]) in fired else "")
    table = _table(["tick", "at", "requests", "failed", "error rate", "p50", "p95", "log errors", "checks failed", "problems"],
                   rows, numeric=range(0, 9), classes=classes)
    return _section("watch", "Watch window", head + f'<div class="charts">{figures}</div><details open><summary>every tick</summary>{table}</details>')


def _checks(data: dict[str, Any]) -> str:
    checks = data.get("checks") or []
    if not checks:
        return _section("checks", "Checks", _none("No check ran."))
    failed = [c for c in checks if not c.get("passed")]
    rows, classes = [], []
    for c in checks:
        samples = c.get("samples") or []
        keys = f'<span class="keys">{e(", ".join(map(str, samples)))}</span>' if samples else ""
        message = e(c.get("message")) if not c.get("passed") or c.get("error") else ""
        rows.append([e(c.get("phase")), e(c.get("name")), _mark(c.get("passed")), e(c.get("value")),
                     e(c.get("expected") or ""), " ".join(x for x in (keys, message) if x), e(secs(c.get("seconds"))) if c.get("seconds") is not None else ""])
        classes.append("" if c.get("passed") else "fail")
    head = f"<p>{len(checks) - len(failed)} passed, <b>{len(failed)} failed</b>.</p>" if failed else f'<p class="pass">All {len(checks)} checks passed.</p>'
    table = _table(["phase", "check", "", "value", "expected", "offending keys / message", "took"], rows, numeric=(3, 6), classes=classes)
    return _section("checks", "Checks", head + table)


def _apply_detail(data: dict[str, Any]) -> dict[str, Any]:
    for p in reversed(data.get("phases", [])):
        if p.get("name") == "apply":
            detail: dict[str, Any] = p.get("detail") or {}
            return detail
    return {}


def _sql(data: dict[str, Any]) -> str:
    detail = _apply_detail(data)
    parts: list[str] = []
    ran = detail.get("statements")
    if ran:
        rows, classes = [], []
        for index, st in enumerate(ran, 1):
            lock = f"{e(st['lock'])}<div class=mute>blocks {e(st.get('blocks') or '?')}</div>" if st.get("lock") else ""
            error = f'<div class="failx">{e(st["error"])}</div>' if st.get("error") else ""
            rows.append([e(index), f"<pre>{e(st.get('sql'))}</pre>{error}", e(st.get("count")), e(secs(st.get("seconds"))),
                         e(secs(st.get("max_seconds"))), lock, e(st.get("table") or "")])
            classes.append("fail" if st.get("error") else "")
        total = sum(float(st.get("seconds") or 0) for st in ran)
        parts.append(f"<p>{sum(int(st.get('count') or 0) for st in ran)} statements ran on the apply connection in {e(secs(total))} "
                     "(the same text folded into one line; locks as the lint reads each statement).</p>")
        parts.append(_table(["#", "statement", "runs", "total", "slowest", "lock", "table"], rows, numeric=(0, 2, 3, 4), classes=classes))
        if detail.get("statements_not_listed"):
            parts.append(_none(f"{detail['statements_not_listed']} more executions of other statements are not listed."))
    elif detail:
        parts.append(_none("No statement was seen on the apply connection (a migration run by an external command: see its output below)."))
    if detail.get("session"):
        parts.append("<h3>Session settings</h3>" + "".join(f"<pre>{e(s)}</pre>" for s in detail["session"]))
    waits = detail.get("lock_waits") or []
    if waits:
        parts.append("<h3>Lock waits</h3>" + _table(
            ["attempt", "waited", "retry in", "error"],
            [[e(w.get("attempt")), e(secs(w.get("waited_s"))), e(secs(w.get("retry_in_s")) if w.get("retry_in_s") is not None else "–"), e(w.get("error"))] for w in waits],
            numeric=(0, 1, 2),
        ))
    backfills = detail.get("backfills") or []
    if backfills:
        parts.append("<h3>Backfills</h3>" + _table(
            ["backfill", "table", "rows", "batches", "took", "rows/s", "resumed after key"],
            [[e(b.get("name")), e(b.get("table")), e(b.get("rows")), e(b.get("batches")), e(secs(b.get("seconds"))),
              e(f"{float(b.get('rows_per_s') or 0):.0f}"), e("" if b.get("resumed_from") is None else b["resumed_from"])] for b in backfills],
            numeric=(2, 3, 4, 5),
        ))
    if detail.get("output"):
        parts.append(f"<details><summary>what the migration printed</summary><pre>{e(json.dumps(detail['output'], indent=1, default=str))}</pre></details>")
    planned = data.get("statements") or []
    if planned:
        parts.append("<h3>Planned statements (dry run)</h3>" + _table(
            ["phase", "what", "statement", "lock"],
            [[e(st.get("phase")), e(st.get("what")), f"<pre>{e(st.get('sql') or '')}</pre>", e(st.get("lock") or "")] for st in planned],
        ))
    rehearsal = data.get("rehearsal") or {}
    if rehearsal.get("statements"):
        parts.append(f"<h3>Rehearsal on a copy: {e(secs(rehearsal.get('apply_seconds')))} to apply</h3>" + _table(
            ["took", "statement (slowest first)"],
            [[e(secs(st.get("seconds"))), f"<pre>{e(st.get('sql'))}</pre>"] for st in rehearsal["statements"][:20]], numeric=(0,),
        ))
    if rehearsal.get("lock_classes"):
        parts.append("<h3>Lock classes (asked of the server)</h3>" + _table(
            ["lock class", "statement"],
            [[e(lc.get("lock_class") or f"error: {lc.get('error', '')}"), f"<pre>{e(lc.get('sql'))}</pre>"] for lc in rehearsal["lock_classes"]],
        ))
    if not parts:
        parts.append(_none("No SQL ran: the run stopped before apply."))
    return _section("sql", "SQL that ran", "".join(parts))


def _observed(observed: dict[str, Any] | None) -> str:
    """The statements that ran on a copy, each with the lint's lock and the locks it took there."""
    if not observed:
        return ""
    head = f"<h3>Observed locks on {e(observed.get('where', 'a copy'))}</h3>"
    if observed.get("skipped"):
        return head + _none(f"Not observed: {observed['skipped']}")
    rows, classes = [], []
    for st in observed.get("statements", []):
        locks = ", ".join(
            lock["mode"] if lock["relation"].startswith("(") else f"{lock['mode']} on {lock['relation']}" for lock in st["observed"]
        )
        seen = "; ".join(part for part in (locks, st.get("note") or "") if part) or "nothing held"
        found = "".join(f'<div class="failx">{e(f["code"])} {e(f["severity"])}: {e(f["message"])}</div>' for f in st.get("findings", []))
        rows.append([e(st["index"]), f"<pre>{e(st['sql'])}</pre>{found}", e(st["declared"]), e(seen), e(", ".join(st["rewrote"]) or "no")])
        classes.append("warn" if st.get("findings") else "")
    return head + _table(["#", "statement", "declared", "observed", "rewrote"], rows, numeric=(0,), classes=classes)


def _lint(data: dict[str, Any]) -> str:
    findings = data.get("lint") or []
    observed = "".join(_observed(o) for o in (data.get("observed"), (data.get("rehearsal") or {}).get("observed")))
    if not findings:
        return _section("lint", "Lint", _none("No lint finding.") + observed)
    rows, classes = [], []
    for f in findings:
        where = f.get("table") or (f"statement {f['statement']}" if f.get("statement") is not None else "the migration")
        suppressed = f"yes: {f.get('reason') or ''}" if f.get("suppressed") else ""
        rows.append([e(f.get("code")), e(f.get("severity")), e(where), e(f.get("message")), e(suppressed)])
        classes.append("" if f.get("suppressed") else "fail" if f.get("severity") == "error" else "warn" if f.get("severity") == "warning" else "")
    version, unlinted = lint_summary(data)
    head = f"<p>Advice for {e(version)}.</p>" if version else ""
    if unlinted:  # what no rule judged is named first, with how it counts
        head += f"<p>Not linted ({len(unlinted)}):</p><ul>" + "".join(f"<li>{e(text)}</li>" for text in unlinted) + "</ul>"
    return _section("lint", "Lint", head + _table(["code", "severity", "where", "finding", "suppressed"], rows, classes=classes) + observed)


def _schema(data: dict[str, Any]) -> str:
    before = data.get("snapshot") or {}
    after = data.get("rows_after") or {}
    proof = (data.get("rollback") or {}).get("proof") or {}
    after_rollback = proof.get("row_counts") or {}
    if not before and not after:
        return _section("schema", "Schema and rows, before → after", _none("No snapshot was taken (the run stopped before it)."))
    parts = []
    names = sorted(set(before) | set(after) | set(after_rollback))
    headers = ["table", "rows before", "rows after migration"] + (["rows after rollback"] if after_rollback else [])
    rows = []
    for name in names:
        b, a = before.get(name), after.get(name)
        change = "" if b is None or a is None or a == b else f" ({a - b:+d})"
        row = [e(name), e("–" if b is None else b), e("–" if a is None else a) + e(change)]
        if after_rollback:
            row.append(e(after_rollback.get(name, "–")))
        rows.append(row)
    parts.append(_table(headers, rows, numeric=range(1, len(headers))))
    shape_before, shape_after = data.get("schema_before") or {}, data.get("schema_after") or {}
    if shape_before and shape_after:
        parts.append(_shape_diff(shape_before, shape_after))
    elif shape_before:
        parts.append(_none("The schema after the migration was not read (the run stopped before verify)."))
    return _section("schema", "Schema and rows, before → after", "".join(parts))


def _shape_diff(before: dict[str, list[str]], after: dict[str, list[str]]) -> str:
    """Tables added, dropped and changed, line by line (columns, keys, indexes, constraints)."""
    out, same = [], []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            same.append(name)
            continue
        if old is None:
            lines, title = [f'<span class="add">+ {e(x)}</span>' for x in new or []], "new table"
        elif new is None:
            lines, title = [f'<span class="del">− {e(x)}</span>' for x in old], "dropped"
        else:
            lines = [f'<span class="del">− {e(x)}</span>' for x in old if x not in new]
            lines += [f'<span class="add">+ {e(x)}</span>' for x in new if x not in old]
            title = "changed" if lines else "reordered"
        out.append(f'<h3>{e(name)} <span class="pill">{e(title)}</span></h3><pre class="diff">{chr(10).join(lines)}</pre>')
    if same:
        out.append(f'<p class="mute">Unchanged: {e(", ".join(same))}.</p>')
    return "".join(out)


def _backup(data: dict[str, Any]) -> str:
    backup = data.get("backup")
    if not backup:
        return _section("backup", "Backup", _none("No backup was taken (the run stopped before it)."))
    detail = backup.get("verify_detail") or {}
    rows = [
        ["file", f"<code>{e(backup.get('path'))}</code>"],
        ["size", e(size(backup.get("bytes")))],
        ["took", e(secs(backup.get("seconds")))],
        ["verified", _mark(bool(backup.get("verified"))) + (f" <code>{e(json.dumps(detail, default=str))}</code>" if detail else "")],
    ]
    return _section("backup", "Backup", _table(["", ""], rows))


def _rollback(data: dict[str, Any]) -> str:
    rollback = data.get("rollback") or {}
    if not rollback:
        return _section("rollback", "Rollback", _none("No rollback: the run did not need one."))
    proof = rollback.get("proof") or {}
    steps = ", ".join(f"{s.get('step')} {'ok' if s.get('ok') else 'FAILED'}" + (f" ({s['error']})" if s.get("error") else "") for s in rollback.get("steps", []))
    before = rollback.get("backup")
    fate = (rollback.get("writes") or {}).get("fate")
    if proof.get("equal") and fate == "saved":  # a run that discarded rows never says "proven equal" alone
        verdict = '<span class="pill warn">equal to the snapshot by a restore that DISCARDED the application\'s writes (saved)</span>'
    elif proof.get("equal"):
        verdict = '<span class="pill ok">proven equal to the snapshot</span>'
    elif fate == "kept" and data.get("outcome") == "rolled_back":
        verdict = '<span class="pill warn">revision, schema and pre-checks proven as before; the application\'s writes kept</span>'
    else:
        verdict = '<span class="pill bad">NOT proven equal</span>'
    rows = [
        ["reason", e(rollback.get("reason"))],
        ["backup before the rollback", f"<code>{e(before['path'])}</code> ({e(size(before.get('bytes')))}, verified)" if before else e("none (no rollback step ran)")],
        ["strategy and steps", e(f"{rollback.get('strategy')}: {steps or 'none'}")],
        ["proof", f"{verdict} revision {e(proof.get('revision') or 'base')}, {e(proof.get('tables_compared', 0))} tables compared, "
                  f"{e(proof.get('tables_hashed', 0))} hashed"],
    ]
    if rollback.get("maintenance"):
        rows.append(["maintenance", e(rollback["maintenance"])])
    parts = [_table(["", ""], rows)]
    if proof.get("differences"):
        parts.append("<h3>What differs</h3><ul>" + "".join(f"<li>{e(d)}</li>" for d in proof["differences"]) + "</ul>")
    for earlier in rollback.get("earlier_proofs") or []:
        parts.append("<h3>An earlier proof (before the restore) found</h3><ul>" + "".join(f"<li>{e(d)}</li>" for d in earlier.get("differences", [])) + "</ul>")
    parts.append(_writes(rollback.get("writes")))
    return _section("rollback", "Rollback", "".join(parts))


_FATE = {
    "kept": "kept in the database (the downgrade reached the state before; only these rows differ)",
    "saved": "DISCARDED by the restore and saved to {saved_to}: a person must re-apply them",
    "stopped": "still in the database: the rollback stopped before a restore would discard them; maintenance stays on",
}


def _writes(writes: dict[str, Any] | None) -> str:
    if not writes:
        return ""
    who = "the application (live after apply)" if writes.get("live") else "nobody expected (maintenance was on)"
    fate = _FATE.get(str(writes.get("fate")), str(writes.get("fate"))).format(saved_to=writes.get("saved_to"))
    rows = []
    for t in writes.get("tables", []):
        if "rows_before" in t:
            rows.append([e(t.get("table")), e(f"rows {t['rows_before']} → {t.get('rows_now')} (no key)"), "", "", ""])
            continue
        first = "; ".join(f"{kind}: {', '.join(map(str, t.get(f'first_{kind}') or []))}"
                          for kind in ("inserted", "updated", "deleted") if t.get(f"first_{kind}"))
        rows.append([e(t.get("table")), e(t.get("inserted")), e(t.get("updated")), e(t.get("deleted")), f'<span class="keys">{e(first)}</span>'])
    created = writes.get("created_tables") or {}
    extra = (f"<p>Tables the migration created held rows when the rollback began (they are in the backup before the rollback): "
             f"{e(', '.join(f'{t} ({n})' for t, n in created.items()))}</p>") if created else ""
    return (f"<h3>Application writes</h3><p>{e(writes.get('rows'))} rows differ from the state before, written by {e(who)}; "
            f"policy <code>{e(writes.get('policy'))}</code>: <b>{e(fate)}</b></p>"
            + _table(["table", "inserted", "updated", "deleted", "first keys"], rows, numeric=(1, 2, 3)) + extra)


def _smoke(data: dict[str, Any]) -> str:
    probes = data.get("smoke") or []
    if not probes:
        return _section("smoke", "Smoke probes", _none("No smoke probe ran."))
    rows, classes = [], []
    for p in probes:
        body = f"<details><summary>response body</summary><pre>{e(p['body'])}</pre></details>" if p.get("body") else ""
        rows.append([e(p.get("name")), _mark(p.get("passed")), e(p.get("status") or ""), e(ms(p.get("latency_ms"))),
                     f"<code>{e(p.get('request'))}</code>", e(p.get("message")) + body])
        classes.append("" if p.get("passed") else "fail")
    return _section("smoke", "Smoke probes", _table(["probe", "", "status", "latency", "request", "message"], rows, numeric=(2, 3), classes=classes))


def _run(data: dict[str, Any]) -> str:
    env = data.get("environment") or {}
    facts = data.get("facts") or {}
    approval = data.get("approval") or {}
    rows = [
        ["safeshift", e(env.get("safeshift", "?"))],
        ["host", e(env.get("host", "?"))],
        ["user", e(env.get("user", "?"))],
        ["python", e(env.get("python", "?"))],
        ["plan", f"<code>{e(data.get('plan'))}</code>"],
        ["plan digest", f"<code>{e(data.get('digest') or '–')}</code>"],
    ]
    if approval:
        rows.append(["approved", e(f"by {approval.get('by')} at {approval.get('at')} ({approval.get('how')})")])
    if facts:
        rows.append(["server", e(f"{facts.get('version')}, database size {size(facts.get('database_bytes'))}")])
    rehearsal = data.get("rehearsal") or {}
    if rehearsal:
        rows.append(["rehearsal", e(f"{'passed' if rehearsal.get('passed') else 'FAILED'}: predicted apply time "
                                      f"{secs(rehearsal.get('predicted_apply_seconds'))}, {rehearsal.get('statement_count', 0)} statements")])
    for key, label in (("journal", "journal"), ("report", "report.json"), ("report_md", "report.md"),
                       ("report_html", "report.html"), ("junit", "junit.xml")):
        if data.get(key):
            rows.append([e(label), f"<code>{e(data[key])}</code>"])
    return _section("run", "Run", _table(["", ""], rows))


def render_html(data: dict[str, Any]) -> str:
    """The whole page for one run's report data (``report.json``)."""
    body = "".join(part(data) for part in (_verdict, _timeline, _watch, _checks, _sql, _lint, _schema, _backup, _rollback, _smoke, _run))
    env = data.get("environment") or {}
    outcome = data.get("outcome") or "interrupted"
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>safeshift {e(outcome)}: run {e(data.get('run_id'))}</title><style>{CSS}</style></head>"
        f"<body><main>{body}<footer>safeshift {e(env.get('safeshift', ''))} · run {e(data.get('run_id'))} · "
        f"plan digest {e(data.get('digest') or '–')}</footer></main></body></html>\n"
    )
