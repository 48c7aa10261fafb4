"""A small SQL text scanner: where the comments, strings and statement ends are.

The rules look at the sqlglot tree first, but some statements only survive as text
(MariaDB's ``ALGORITHM=INPLACE`` on CREATE INDEX, ``VACUUM FULL``...). Regexes on raw SQL
would match words inside strings and comments, so they run on a *masked* copy instead:
comments blanked, string contents blanked, every offset and line unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


@dataclass(frozen=True)
class Comment:
    text: str  # without the -- / # / /* */ markers
    line: int  # 0-based line within the scanned text


@dataclass
class Scanned:
    masked: str  # same length and lines as the input; comments and string contents are spaces
    comments: list[Comment] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)  # offsets just after each top-level ';'
    stripped: str = ""  # comments blanked, strings kept: safe to execute or append to
    unterminated: str | None = None  # what runs to the end of the text unclosed, e.g. "/* comment"
    unterminated_line: int = 0  # 0-based line where it opens

    @property
    def code(self) -> str:
        """The masked text without its whitespace runs: empty means comments only."""
        return " ".join(self.masked.split())


def _blank(text: str) -> str:
    return "".join("\n" if ch == "\n" else " " for ch in text)


def scan(sql: str, *, hash_comments: bool = False, backslash_escapes: bool = False) -> Scanned:
    """Mask ``sql``; ``hash_comments``/``backslash_escapes`` are MySQL's lexical rules."""
    out: list[str] = []
    kept: list[str] = []  # like out, but with string contents intact
    comments: list[Comment] = []
    ends: list[int] = []
    i, n, line = 0, len(sql), 0
    unterminated: str | None = None
    opened = 0
    while i < n:
        ch = sql[i]
        nxt = sql[i + 1] if i + 1 < n else ""
        if (ch == "-" and nxt == "-") or (ch == "#" and hash_comments):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            start = i + (2 if ch == "-" else 1)
            comments.append(Comment(sql[start:j].strip(), line))
            out.append(" " * (j - i))
            kept.append(" " * (j - i))
            i = j
            continue
        if ch == "/" and nxt == "*":
            j = sql.find("*/", i + 2)
            if j < 0:
                unterminated, opened = unterminated or "/* comment", opened if unterminated else line
            j = n if j < 0 else j + 2
            body = sql[i + 2 : j - 2] if sql.endswith("*/", 0, j) else sql[i + 2 : j]
            comments.append(Comment(body.strip(), line))
            chunk = sql[i:j]
            out.append(_blank(chunk))
            kept.append(_blank(chunk))
            line += chunk.count("\n")
            i = j
            continue
        if ch in ("'", '"', "`"):
            j = i + 1
            while j < n:
                if backslash_escapes and ch == "'" and sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # doubled quote
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                what = "string" if ch == "'" else "quoted identifier"
                unterminated, opened = unterminated or f"{ch} {what}", opened if unterminated else line
            j = min(j + 1, n)
            chunk = sql[i:j]
            if ch == "'":  # string contents never matter to a rule; identifiers do
                out.append("'" + _blank(chunk[1:-1]) + ("'" if len(chunk) > 1 else ""))
            else:
                out.append(chunk)
            kept.append(chunk)
            line += chunk.count("\n")
            i = j
            continue
        if ch == "$":
            m = _DOLLAR_TAG.match(sql, i)
            if m:
                close = sql.find(m.group(0), m.end())
                if close < 0:
                    unterminated, opened = unterminated or f"{m.group(0)} string", opened if unterminated else line
                j = n if close < 0 else close + len(m.group(0))
                chunk = sql[i:j]
                out.append(m.group(0) + _blank(chunk[len(m.group(0)) :]))
                kept.append(chunk)
                line += chunk.count("\n")
                i = j
                continue
        if ch == ";":
            ends.append(i + 1)
        if ch == "\n":
            line += 1
        out.append(ch)
        kept.append(ch)
        i += 1
    masked = "".join(out)
    return Scanned(
        masked=masked[:n], comments=comments, ends=ends, stripped="".join(kept)[:n], unterminated=unterminated,
        unterminated_line=opened,
    )


def strip_bom(text: str) -> str:
    """Without a leading UTF-8 byte-order mark (editors on Windows write one; parsers choke on it)."""
    return text[1:] if text.startswith("\ufeff") else text


def split_script(text: str, dialect_name: str = "postgresql") -> list[str]:
    """A SQL script as statements, each keeping the comments written just before it.

    ``"\\n".join(split_script(t))`` keeps the script's line numbers when each statement
    ends its line, so findings' ``line`` point into the file. Trailing comment-only text
    is dropped.
    """
    mysql = dialect_name in ("mysql", "mariadb")
    text = strip_bom(text)
    scanned = scan(text, hash_comments=mysql, backslash_escapes=mysql)
    pieces: list[str] = []
    start = 0
    masked = scanned.masked
    for end in [*scanned.ends, len(text)]:
        # a comment after the ';' on the same line belongs to this statement
        newline = masked.find("\n", end)
        newline = len(text) if newline < 0 else newline
        if end < len(text) and not masked[end:newline].strip():
            end = newline
        if end <= start:
            continue
        piece = text[start:end]
        start = end
        if piece.startswith("\r\n"):
            piece = piece[2:]
        elif piece.startswith("\n"):
            piece = piece[1:]
        if piece.strip():
            pieces.append(piece)
    if pieces:
        last = scan(pieces[-1], hash_comments=mysql, backslash_escapes=mysql)
        if not last.code and last.unterminated is None:  # an unclosed /* is kept: the lint reports it
            pieces.pop()
    return pieces
