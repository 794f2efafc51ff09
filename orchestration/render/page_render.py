"""One page: markdown, inline expressions, {#if}/{#each} blocks, and dispatch to the components."""

from __future__ import annotations

import json
import re
import secrets
import string
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from html import escape
from pathlib import Path

from markdown_it import MarkdownIt

from . import charts, relative, tables, values
from .components import Routes, site_href
from .excel import FormatError
from .formats import AUTO, check_fmt, evidence_type, format_value, summarize, text_value
from .page_source import Node, RenderError, parse_body
from .queries import Result

_IF = re.compile(r"\{#if\s+([^{}\n]+)\}(.*?)(?:\{:else\}(.*?))?\{/if\}", re.S)
_COND = re.compile(r"(.+?)\s*(>=|<=|==|!=|>|<)\s*(.+)")
_EACH = re.compile(r"\{#each\s+(\w+)\s+as\s+(\w+)\s*\}(.*?)\{/each\}", re.S)
_EXPR = re.compile(r"\{([^{}\n]+)\}")
_MARKER = re.compile(r"\{#if [^}]*\}|\{:else\}|\{/if\}")
_FMT_CALL = re.compile(r"""fmt\(\s*(.+?)\s*,\s*(?:'([^']+)'|"([^"]+)")\s*\)""")
_ROW_REF = re.compile(r"(\w+)\[(\d+)\]\.(\w+)")
_HREF = re.compile(r'href="(/[^"]*)"')
_COMPONENT = re.compile(r"<[A-Z][A-Za-z0-9]*")
_TOKENS = re.compile(r"<p>(zzev\d+qzz)</p>|(zzev\d+qzz)")  # render_nodes' placeholders
_HEADING = re.compile(r"<h([23])>(.*?)</h\1>", re.S)
_TAG = re.compile(r"<[^>]+>")
ALERT_STATUS = {
    "info": "info",
    "positive": "positive",
    "success": "positive",
    "warning": "warning",
    "negative": "negative",
    "error": "negative",
}


_NONCE = "".join(secrets.choice(string.ascii_lowercase) for _ in range(16))  # tokens no data can hold
_MD = MarkdownIt("commonmark", {"html": False}).enable("table")


@lru_cache(maxsize=512)
def _markdown(text: str) -> str:
    """Markdown -> HTML. Values and components are tokens by then (render_nodes), so every key of a
    template page renders the same text: parsed once, not once per key."""
    return _MD.render(text)


@lru_cache(maxsize=64)
def _parse(text: str, page: Path, first_line: int) -> list[Node]:
    """parse_body, once per distinct text: every key of a template page whose {#if} blocks resolve
    the same way has the same components (nodes are read, never changed, while rendering)."""
    return parse_body(text, page, first_line)


@lru_cache(maxsize=1024)
def _fmt_call(expr: str) -> tuple[str, str] | None:
    """`fmt(<value>, '<fmt>')`: (value expression, fmt), parsed once per expression text."""
    m = _FMT_CALL.fullmatch(expr)
    return (m.group(1), m.group(2) or m.group(3)) if m else None


@lru_cache(maxsize=1024)
def _row_ref(expr: str) -> tuple[str, int, str] | None:
    """`q[i].col`: (q, i, col), parsed once per expression text."""
    m = _ROW_REF.fullmatch(expr)
    return (m.group(1), int(m.group(2)), m.group(3)) if m else None


@lru_cache(maxsize=1024)
def _inline_plan(text: str) -> tuple[tuple[tuple[str, str, int], ...], str] | None:
    """A text node without blocks or components as (literal before, expression, its line offset) per
    `{…}` and the literal after the last; None when PageRender.inline_text must look at it whole."""
    if "{#" in text or "{/" in text or _COMPONENT.search(text):
        return None
    pieces, pos = [], 0
    for m in _EXPR.finditer(text):
        pieces.append((text[pos : m.start()], m.group(1), text.count("\n", 0, m.start())))
        pos = m.end()
    return tuple(pieces), text[pos:]


@lru_cache(maxsize=64)
def _misplaced_marker(text: str) -> tuple[int, str] | None:
    """The first `{#if …}`/`{:else}`/`{/if}` of `text` not alone on its line between blank lines:
    (line index, marker), or None. Once per distinct text (a template page's body, for every key)."""
    lines = text.split("\n")
    for n, line in enumerate(lines):
        for m in _MARKER.finditer(line):
            prev = lines[n - 1].strip() if n > 0 else ""
            nxt = lines[n + 1].strip() if n + 1 < len(lines) else ""
            if line.strip() != m.group(0) or prev or nxt:
                return n, m.group(0)
    return None


@dataclass
class PageRender:
    """State while rendering one page."""

    page: Path
    results: dict[str, Result]
    params: dict[str, str]
    depth: int
    first_line: int = 1
    links: set[str] = field(default_factory=set)  # internal URLs this page points to
    toc: list[tuple[int, str, str]] = field(default_factory=list)  # (level, id, text)
    counter: int = 0
    routes: Routes | None = None  # template pages' URLs -> their shells
    prebuilt: dict = field(default_factory=dict)  # (query, line) -> keyed_run.Prebuilt: rows built in SQL
    # token -> a SQL-built table's rows JSON, left out of the page's text until it is final (splice)
    spliced: dict[str, str] = field(default_factory=dict)

    def href(self, url: str) -> str:
        """A page URL as the relative link written into this page."""
        return site_href(url, self.depth, self.routes)

    def rows_token(self, rows_json: str) -> str:
        """A placeholder for a table's rows JSON (letters only: markdown, escaping and the page's
        regexes leave it alone); `splice` puts the rows in once the page's text is final, so the
        rows (up to ~100 MB for a roll-up cell) are not copied and scanned by every pass."""
        token = f"zzrows{_NONCE}{len(self.spliced)}qzz"
        self.spliced[token] = rows_json
        return token

    def splice(self, text: str, in_json_string: bool = False) -> str:
        """`text` with each rows token replaced by its rows. `in_json_string`: text is JSON whose
        strings held the tokens (a data file): the rows get the same escaping json.dumps gives them
        there (per character, so escaping the piece alone is byte-identical)."""
        for token, rows in self.spliced.items():
            if in_json_string:
                rows = json.dumps(rows, ensure_ascii=False)[1:-1]
                if "\u2028" in rows or "\u2029" in rows:
                    rows = rows.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
            text = text.replace(token, rows, 1)
        return text

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def fail(self, msg: str, node: Node | None = None) -> RenderError:
        where = f"{self.page}:{node.line}" if node is not None and node.line else f"page {self.page}"
        return RenderError(f"{where}: {msg}")

    # --- data access -------------------------------------------------------------------------

    def result(self, node: Node, attr: str = "data") -> Result:
        ref = node.attrs.get(attr)
        if not ref:
            raise self.fail(f"<{node.name}> needs {attr}={{query}}", node)
        if ref not in self.results:
            raise self.fail(f"<{node.name}> {attr}={{{ref}}}: no such query on this page", node)
        return self.results[ref]

    def col(self, node: Node, res: Result, name: str) -> int:
        try:
            return res.column(name)
        except KeyError:
            raise self.fail(
                f"<{node.name} data={{{node.attrs.get('data')}}}>: column '{name}' not in query "
                f"(has {', '.join(res.columns)})",
                node,
            ) from None

    def check_fmt(self, node: Node, *attrs: str) -> None:
        for a in attrs:
            try:
                check_fmt(node.attrs.get(a))
            except FormatError as exc:
                raise self.fail(f"<{node.name} {a}=…>: {exc}", node) from None

    def fmt(
        self, value, fmt: str | None, node: Node | None = None, res: Result | None = None, column=None
    ) -> str:
        """Format as Evidence would: auto formats look at the whole column of `res`."""
        try:
            summary = None
            # only the auto formats (and no fmt) look at the column (formats.resolve)
            if res is not None and column is not None and not (fmt and fmt.lower() not in AUTO):
                i = res.column(column)
                summary = summarize([r[i] for r in res.rows], evidence_type(res.types[i]))
            return format_value(value, fmt, summary, column)
        except FormatError as exc:
            raise self.fail(str(exc), node) from None

    def empty(self, node: Node, res: Result) -> str | None:
        """Evidence's emptySet: an empty result fails the build unless emptySet is warn or pass."""
        if res.rows:
            return None
        mode = node.attrs.get("emptySet", "error")
        if mode not in ("error", "warn", "pass"):
            raise self.fail(f"<{node.name} emptySet={mode}>: error, warn or pass", node)
        if mode == "error":
            raise self.fail(
                f"<{node.name} data={{{node.attrs.get('data')}}}>: the query returned no rows; Evidence "
                'fails the build here: add emptySet="pass" emptyMessage="…" if it may be empty',
                node,
            )
        return node.attrs.get("emptyMessage", "No records")

    # --- inline expressions ------------------------------------------------------------------

    def eval_expr(self, expr: str, row: dict | None = None, line: int = 0) -> str:
        """{q[0].col} {q.length} {params.x} {row.col} and fmt(<one of those>, 'fmt')."""
        expr = expr.strip()
        m = _fmt_call(expr)
        if m:
            inner, fmt = m
            value = self._value(inner, row, line)
            try:
                return format_value(value, fmt)
            except FormatError as exc:
                raise self._at(line, str(exc)) from None
        return text_value(self._value(expr, row, line))

    def _at(self, line: int, msg: str) -> RenderError:
        return RenderError(f"{self.page}:{line}: {msg}" if line else f"page {self.page}: {msg}")

    def _value(self, expr: str, row: dict | None, line: int = 0):
        expr = expr.strip()
        if m := _row_ref(expr):
            q, i, c = m
            if q not in self.results:
                raise self._at(line, f"{{{expr}}}: no query '{q}'")
            res = self.results[q]
            if c not in res.columns:
                raise self._at(line, f"{{{expr}}}: column '{c}' not in query '{q}'")
            if i >= len(res.rows):
                msg = f"'{q}' has {len(res.rows)} rows (Evidence fails the build)"
                raise self._at(line, f"{{{expr}}}: {msg}; wrap it in {{#if {q}.length > {i}}}")
            if relative.published(res.columns, res.types, res.rows[i], c):
                raise self._at(
                    line, f"{{{expr}}}: a day count published relative (relative.py): show it in a table"
                )
            return res.rows[i][res.column(c)]
        head, _, tail = expr.partition(".")
        if head == "params" and tail in self.params:
            return self.params[tail]
        if tail == "length" and head in self.results:
            return len(self.results[head].rows)
        if row is not None and head == row["__name__"]:
            if tail not in row:
                raise self._at(line, f"{{{expr}}}: no column '{tail}'")
            return row[tail]
        raise self._at(line, f"unsupported expression {{{expr}}} (see docs/pages.md)")

    def condition(self, expr: str, line: int) -> bool:
        """{#if}: `<value>` (truthy) or `<value> <op> <number|'text'|value>`."""
        m = _COND.fullmatch(expr.strip())
        if not m:
            return bool(self._value(expr.strip(), None, line))
        left = self._value(m.group(1).strip(), None, line)
        raw = m.group(3).strip()
        if re.fullmatch(r"-?\d+(\.\d+)?", raw):
            right = Decimal(raw)
            left = None if left is None else Decimal(str(left))
        elif raw[:1] in "'\"" and raw[-1:] == raw[:1]:
            right, left = raw[1:-1], None if left is None else str(left)
        else:
            right = self._value(raw, None, line)
        op = m.group(2)
        if op in ("==", "!="):
            return (left == right) == (op == "==")
        if left is None or right is None:
            return False
        return {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[op]

    def resolve_blocks(self, text: str) -> str:
        """{#if cond}...{:else}...{/if} (not nested) may wrap components. Each of `{#if …}`,
        `{:else}` and `{/if}` must stand alone on its line between blank lines (else Evidence's
        markdown puts it inside a paragraph and the build fails). Line numbers are kept."""
        misplaced = _misplaced_marker(text)
        if misplaced is not None:
            n, marker = misplaced
            raise self._at(
                self.first_line + n,
                f"{marker} must stand alone on its line, with a blank line before and after",
            )
        if "{#if" not in text:
            return text

        def choose(m: re.Match) -> str:
            cond = self.condition(m.group(1), self.first_line + text.count("\n", 0, m.start()))
            spans = [(m.start(), m.start(2), False), (m.start(2), m.end(2), cond)]
            if m.group(3) is not None:
                spans += [(m.end(2), m.start(3), False), (m.start(3), m.end(3), not cond)]
            spans.append((spans[-1][1], m.end(), False))
            # dropped parts become their newlines, so later line numbers stay right
            return "".join(text[a:b] if keep else "\n" * text.count("\n", a, b) for a, b, keep in spans)

        return _IF.sub(choose, text)

    def render_page(self, body: str) -> str:
        html = self.render_nodes(_parse(self.resolve_blocks(body), self.page, self.first_line))
        return _HEADING.sub(self._heading, html)

    def _heading(self, m: re.Match) -> str:
        level, inner = int(m.group(1)), m.group(2)
        hid = f"s{len(self.toc) + 1}"
        self.toc.append((level, hid, _TAG.sub("", inner)))
        return f'<h{level} id="{hid}">{inner}</h{level}>'

    def plain_text(self, text: str) -> str:
        """Expressions in a title: plain text result."""
        return _EXPR.sub(lambda m: self.eval_expr(m.group(1)), text)

    # --- markdown + components ---------------------------------------------------------------

    def render_nodes(self, nodes: list[Node]) -> str:
        tokens: dict[str, str] = {}
        parts: list[str] = []
        group: list[str] | None = None  # consecutive BigValues share a row

        def token(html: str, block: bool) -> str:
            key = f"zzev{len(tokens)}qzz"
            tokens[key] = html
            return f"\n\n{key}\n\n" if block else key

        for node in nodes:
            if node.name == "":
                if group is not None and node.text.strip() == "":
                    continue
                group = None
                parts.append(self.inline_text(node, token))
            elif node.name == "BigValue":
                html = values.big_value(self, node)
                if group is None:
                    group = [html]
                    parts.append(token("", block=True))
                    tokens[parts[-1].strip()] = group  # filled as the run grows
                else:
                    group.append(html)
            else:
                group = None
                if node.name == "Value":
                    parts.append(token(values.value(self, node), block=False))
                else:
                    parts.append(token(self.block(node), block=True))
        html = _markdown("".join(parts))
        final = {
            key: '<div class="big-values">' + "".join(value) + "</div>" if isinstance(value, list) else value
            for key, value in tokens.items()
        }
        if any("zzev" in value for value in final.values()):  # a value holding a token's text: one by
            for key, value in final.items():  # one, in order, as it always was
                html = html.replace(f"<p>{key}</p>", value).replace(key, value)
        else:  # one pass; the same text, as no value holds a token
            html = _TOKENS.sub(lambda m: final.get(m.group(1) or m.group(2), m.group(0)), html)
        return _HREF.sub(self._rewrite_href, html)

    def _rewrite_href(self, m: re.Match) -> str:
        url = m.group(1).replace("&amp;", "&")
        self.links.add(url)
        return f'href="{escape(self.href(url))}"'

    def inline_text(self, node: Node, token) -> str:
        text = node.text
        plan = _inline_plan(text)
        if plan is not None:  # no block, no component: the expressions, parsed once per text
            pieces, tail = plan
            out = []
            for literal, expr, offset in pieces:
                out.append(literal)
                out.append(token(escape(self.eval_expr(expr, None, node.line + offset)), False))
            out.append(tail)
            return "".join(out)

        def line_of(pos: int) -> int:
            return node.line + text.count("\n", 0, pos)

        if m := _COMPONENT.search(text):
            raise self._at(
                line_of(m.start()), f"unsupported or malformed component {m.group(0)}... (see docs/pages.md)"
            )

        def each(m: re.Match) -> str:
            q, var, body = m.group(1), m.group(2), m.group(3)
            if q not in self.results:
                raise self._at(line_of(m.start()), f"{{#each {q}}}: no such query")
            res = self.results[q]
            # `{#each}` and `{/each}` on their own lines: repeat the lines between, not blank lines
            lead = "\n" if body.startswith("\n") else ""
            body = body[len(lead) :]
            out = [lead]
            for vals in res.rows:
                row = dict(zip(res.columns, vals, strict=True)) | {"__name__": var}

                def value(e: re.Match, row=row) -> str:
                    return token(escape(self.eval_expr(e.group(1), row, line_of(m.start()))), False)

                out.append(_EXPR.sub(value, body))
            return "".join(out)

        text = _EACH.sub(each, text)
        if "{#" in text or "{/" in text:
            raise self._at(node.line, "unsupported or unbalanced {#...} block (see docs/pages.md)")
        return _EXPR.sub(
            lambda m: token(escape(self.eval_expr(m.group(1), None, line_of(m.start()))), False), text
        )

    def block(self, node: Node) -> str:
        if node.name == "DataTable":
            return tables.data_table(self, node)
        if node.name in charts.CHART_TYPES:
            return charts.chart(self, node)
        if node.name == "Details":
            title = escape(node.attrs.get("title", "详情"))
            inner = self.render_nodes(node.children)
            is_open = " open" if node.attrs.get("open", "false") == "true" else ""
            return f'<details class="details"{is_open}><summary>{title}</summary>{inner}</details>'
        if node.name == "Alert":
            status = node.attrs.get("status", "info")
            if status not in ALERT_STATUS:
                raise self.fail(f"<Alert status={status}>: use one of {', '.join(ALERT_STATUS)}", node)
            return (
                f'<div class="alert alert-{ALERT_STATUS[status]}" role="note">'
                f"{self.render_nodes(node.children)}</div>"
            )
        raise self.fail(f"<{node.name}> is only valid inside <DataTable>", node)
