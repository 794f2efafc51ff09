"""Turn a parsed page (markdown + components) and its query results into HTML."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from html import escape
from pathlib import Path

from markdown_it import MarkdownIt

from .formats import FormatError, check_fmt, format_value
from .page_source import Node, RenderError, parse_body, parse_list
from .queries import Result

_IF = re.compile(r"\{#if\s+([^{}\n]+)\}(.*?)(?:\{:else\}(.*?))?\{/if\}", re.S)
_COND = re.compile(r"(.+?)\s*(>=|<=|==|!=|>|<)\s*(.+)")
_EACH = re.compile(r"\{#each\s+(\w+)\s+as\s+(\w+)\s*\}(.*?)\{/each\}", re.S)
_EXPR = re.compile(r"\{([^{}\n]+)\}")
_FMT_CALL = re.compile(r"""fmt\(\s*(.+?)\s*,\s*(?:'([^']+)'|"([^"]+)")\s*\)""")  # a name or Excel code
_ROW_REF = re.compile(r"(\w+)\[(\d+)\]\.(\w+)")
_HREF = re.compile(r'href="(/[^"]*)"')
ALERT_STATUS = {
    "info": "info",
    "positive": "positive",
    "success": "positive",
    "warning": "warning",
    "negative": "negative",
    "error": "negative",
}
NUMERIC_TYPES = ("INTEGER", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "DOUBLE", "FLOAT")
NUMERIC_TYPES += ("DECIMAL", "REAL")
CHART_TYPES = {"LineChart": "line", "BarChart": "bar", "AreaChart": "area"}


def site_href(url: str, depth: int) -> str:
    """Evidence-style absolute page URL (/clients/C001) -> relative static file href."""
    if not url.startswith("/") or url.startswith("//"):
        return url
    path, sep, rest = url[1:].partition("#")
    path, qsep, query = path.partition("?")
    if path == "" or path.endswith("/"):
        path += "index.html"
    elif not re.search(r"\.\w+$", path.rsplit("/", 1)[-1]):
        path += ".html"
    suffix = (qsep + query if qsep else "") + (sep + rest if sep else "")
    return "../" * depth + path + suffix


def to_json_value(v):
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, dt.time):
        return v.strftime("%H:%M:%S")
    if v is None or isinstance(v, bool | int | float | str):
        return v
    return str(v)


# Characters that may end or confuse a <script> element or a JS string, as JSON \u escapes: with them
# no string (`</script>`, `<!--<script>`, U+2028) can close the element or start a comment state.
_SCRIPT_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_SCRIPT_UNSAFE_RE = re.compile("[<>&\u2028\u2029]")


def embed_json(payload) -> str:
    """`payload` as JSON text safe inside any HTML <script> element, for any string it holds."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return _SCRIPT_UNSAFE_RE.sub(lambda m: _SCRIPT_UNSAFE[m.group(0)], text)


def json_script(element_id: str, payload) -> str:
    return f'<script type="application/json" id="{element_id}">{embed_json(payload)}</script>'


@dataclass
class PageRender:
    """State while rendering one page."""

    page: Path
    results: dict[str, Result]
    params: dict[str, str]
    depth: int
    links: set[str] = field(default_factory=set)  # internal URLs this page points to
    counter: int = 0
    md: MarkdownIt = field(default_factory=lambda: MarkdownIt("commonmark", {"html": False}).enable("table"))

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def fail(self, msg: str) -> RenderError:
        return RenderError(f"page {self.page}: {msg}")

    # --- data access -------------------------------------------------------------------------

    def result(self, node: Node, attr: str = "data") -> Result:
        ref = node.attrs.get(attr)
        if not ref:
            raise self.fail(f"<{node.name}> needs {attr}={{query}}")
        if ref not in self.results:
            raise self.fail(f"<{node.name}> {attr}={{{ref}}}: no such query on this page")
        return self.results[ref]

    def col(self, node: Node, res: Result, name: str) -> int:
        try:
            return res.column(name)
        except KeyError:
            raise self.fail(
                f"<{node.name} data={{{node.attrs.get('data')}}}>: column '{name}' not in query "
                f"(has {', '.join(res.columns)})"
            ) from None

    def fmt(self, value, fmt: str | None) -> str:
        try:
            return format_value(value, fmt)
        except FormatError as exc:
            raise self.fail(str(exc)) from None

    # --- inline expressions ------------------------------------------------------------------

    def eval_expr(self, expr: str, row: dict | None = None) -> str:
        """{q[0].col} {q.length} {params.x} {row.col} and fmt(<one of those>, 'name')."""
        expr = expr.strip()
        m = _FMT_CALL.fullmatch(expr)
        fmt = None
        if m:
            expr, fmt = m.group(1), m.group(2) or m.group(3)
        value = self._value(expr, row)
        return self.fmt(value, fmt)

    def _value(self, expr: str, row: dict | None):
        if m := _ROW_REF.fullmatch(expr):
            q, i, c = m.group(1), int(m.group(2)), m.group(3)
            if q not in self.results:
                raise self.fail(f"{{{expr}}}: no query '{q}'")
            res = self.results[q]
            if c not in res.columns:
                raise self.fail(f"{{{expr}}}: column '{c}' not in query '{q}'")
            return res.rows[i][res.column(c)] if i < len(res.rows) else None
        head, _, tail = expr.partition(".")
        if head == "params" and tail in self.params:
            return self.params[tail]
        if tail == "length" and head in self.results:
            return len(self.results[head].rows)
        if row is not None and head == row["__name__"]:
            if tail not in row:
                raise self.fail(f"{{{expr}}}: no column '{tail}'")
            return row[tail]
        raise self.fail(f"unsupported expression {{{expr}}} (see docs/pages.md)")

    def condition(self, expr: str) -> bool:
        """{#if}: `<value>` (truthy) or `<value> <op> <number|'text'|value>`."""
        m = _COND.fullmatch(expr.strip())
        if not m:
            v = self._value(expr.strip(), None)
            return bool(v)
        left = self._value(m.group(1).strip(), None)
        raw = m.group(3).strip()
        if re.fullmatch(r"-?\d+(\.\d+)?", raw):
            right = Decimal(raw)
            left = None if left is None else Decimal(str(left))
        elif raw[:1] in "'\"" and raw[-1:] == raw[:1]:
            right, left = raw[1:-1], None if left is None else str(left)
        else:
            right = self._value(raw, None)
        op = m.group(2)
        if op in ("==", "!="):
            return (left == right) == (op == "==")
        if left is None or right is None:
            return False
        return {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[op]

    def resolve_blocks(self, text: str) -> str:
        """{#if cond}...{:else}...{/if} (not nested) may wrap components too."""
        return _IF.sub(lambda m: m.group(2) if self.condition(m.group(1)) else (m.group(3) or ""), text)

    def render_page(self, body: str) -> str:
        return self.render_nodes(parse_body(self.resolve_blocks(body), self.page))

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
                parts.append(self.inline_text(node.text, token))
            elif node.name == "BigValue":
                html = self.big_value(node)
                if group is None:
                    group = [html]
                    parts.append(token("", block=True))
                    tokens[parts[-1].strip()] = group  # filled as the run grows
                else:
                    group.append(html)
            else:
                group = None
                if node.name == "Value":
                    parts.append(token(self.value(node), block=False))
                else:
                    parts.append(token(self.block(node), block=True))
        html = self.md.render("".join(parts))
        for key, value in tokens.items():
            if isinstance(value, list):
                value = '<div class="big-values">' + "".join(value) + "</div>"
            html = html.replace(f"<p>{key}</p>", value).replace(key, value)
        return _HREF.sub(self._rewrite_href, html)

    def _rewrite_href(self, m: re.Match) -> str:
        url = m.group(1).replace("&amp;", "&")
        self.links.add(url)
        return f'href="{escape(site_href(url, self.depth))}"'

    def inline_text(self, text: str, token) -> str:
        if re.search(r"<[A-Z][A-Za-z0-9]*", _EACH.sub("", text)):
            bad = re.search(r"<[A-Z][A-Za-z0-9]*", text).group(0)
            raise self.fail(f"unsupported or malformed component {bad}... (see docs/pages.md)")

        def each(m: re.Match) -> str:
            q, var, body = m.group(1), m.group(2), m.group(3)
            if q not in self.results:
                raise self.fail(f"{{#each {q}}}: no such query")
            res = self.results[q]
            # `{#each}` and `{/each}` on their own lines: repeat the lines between, not blank lines
            lead = "\n" if body.startswith("\n") else ""
            body = body[len(lead) :]
            out = [lead]
            for values in res.rows:
                row = dict(zip(res.columns, values, strict=True)) | {"__name__": var}

                def value(e: re.Match, row=row) -> str:
                    return token(escape(self.eval_expr(e.group(1), row)), False)

                out.append(_EXPR.sub(value, body))
            return "".join(out)

        text = _EACH.sub(each, text)
        if "{#" in text or "{/" in text:
            raise self.fail("unsupported or unbalanced {#...} block (see docs/pages.md)")
        return _EXPR.sub(lambda m: token(escape(self.eval_expr(m.group(1))), False), text)

    def block(self, node: Node) -> str:
        if node.name == "DataTable":
            return self.data_table(node)
        if node.name in CHART_TYPES:
            return self.chart(node)
        if node.name == "Details":
            title = escape(node.attrs.get("title", "详情"))
            inner = self.render_nodes(node.children)
            return f'<details class="details"><summary>{title}</summary>{inner}</details>'
        if node.name == "Alert":
            status = node.attrs.get("status", "info")
            if status not in ALERT_STATUS:
                raise self.fail(f"<Alert status={status}>: use one of {', '.join(ALERT_STATUS)}")
            return (
                f'<div class="alert alert-{ALERT_STATUS[status]}" role="note">'
                f"{self.render_nodes(node.children)}</div>"
            )
        raise self.fail(f"<{node.name}> is only valid inside <DataTable>")

    def value(self, node: Node) -> str:
        res = self.result(node)
        column = node.attrs.get("column") or (res.columns[0] if res.columns else "")
        i = self.col(node, res, column)
        r = int(node.attrs.get("row", "0"))
        v = res.rows[r][i] if r < len(res.rows) else None
        return f'<span class="value">{escape(self.fmt(v, node.attrs.get("fmt")))}</span>'

    def big_value(self, node: Node) -> str:
        res = self.result(node)
        column = node.attrs.get("value")
        if not column:
            raise self.fail("<BigValue> needs value=column")
        row = res.rows[0] if res.rows else None
        v = row[self.col(node, res, column)] if row else None
        title = node.attrs.get("title", column)
        html = (
            f'<div class="big-value"><div class="bv-title">{escape(title)}</div>'
            f'<div class="bv-value">{escape(self.fmt(v, node.attrs.get("fmt")))}</div>'
        )
        comp = node.attrs.get("comparison")
        if comp:
            c = row[self.col(node, res, comp)] if row else None
            down_good = node.attrs.get("downIsGood", "false") == "true"
            cls = "flat"
            arrow = ""
            if isinstance(c, int | float | Decimal) and c != 0:
                arrow = "▲ " if c > 0 else "▼ "
                cls = "good" if (c > 0) != down_good else "bad"
            ctitle = node.attrs.get("comparisonTitle", "")
            text = arrow + self.fmt(c, node.attrs.get("comparisonFmt")) + (" " + ctitle if ctitle else "")
            html += f'<div class="bv-comparison {cls}">{escape(text)}</div>'
        link = node.attrs.get("link")  # Evidence's BigValue link: the card opens the page behind it
        if link:
            return f'<a class="bv-link" href="{escape(link)}">{html}</div></a>'
        return html + "</div>"

    def data_table(self, node: Node) -> str:
        res = self.result(node)
        link = node.attrs.get("link")
        link_i = self.col(node, res, link) if link else None
        specs = [c for c in node.children if c.name == "Column"]
        if any(c.name not in ("Column", "") or (c.name == "" and c.text.strip()) for c in node.children):
            raise self.fail("<DataTable> may only contain <Column .../>")
        if not specs:
            specs = [Node(name="Column", attrs={"id": c}) for c in res.columns if c != link]
        columns = []
        for spec in specs:
            cid = spec.attrs.get("id")
            if not cid:
                raise self.fail("<Column> needs id=column")
            fmt = spec.attrs.get("fmt")
            try:
                check_fmt(fmt)
            except FormatError as exc:
                raise self.fail(str(exc)) from None
            i = self.col(node, res, cid)
            is_link = spec.attrs.get("contentType") == "link"
            label = spec.attrs.get("linkLabel")
            label_i = res.columns.index(label) if label in res.columns else None
            numeric = res.types[i].upper().startswith(NUMERIC_TYPES)
            columns.append((spec, i, fmt, is_link, label, label_i, numeric))
        page_size = node.attrs.get("rows", "10")
        if page_size != "all" and not page_size.isdigit():
            raise self.fail(f"<DataTable rows={page_size}>: a number or all")
        rows = []
        for values in res.rows:
            cells = []
            for _spec, i, fmt, is_link, label, label_i, _num in columns:
                v = values[i]
                if is_link and v is not None:
                    self.links.add(str(v)) if str(v).startswith("/") else None
                    text = str(values[label_i]) if label_i is not None else (label or str(v))
                    key = to_json_value(values[label_i]) if label_i is not None else to_json_value(v)
                    cells.append([key, text, site_href(str(v), self.depth)])  # sorts by its label
                elif is_link and label_i is not None:  # no link (e.g. a count of 0): show the label
                    cells.append([to_json_value(values[label_i]), str(values[label_i])])
                else:
                    cells.append([to_json_value(v), self.fmt(v, fmt)])
            href = None
            if link_i is not None and values[link_i] is not None:
                url = str(values[link_i])
                self.links.add(url) if url.startswith("/") else None
                href = site_href(url, self.depth)
            rows.append({"c": cells, "h": href})
        payload = {
            "title": node.attrs.get("title"),
            "columns": [
                {
                    "title": spec.attrs.get("title", spec.attrs["id"]),
                    "num": num,
                    "wrap": spec.attrs.get("wrap", "false") == "true",
                }  # Evidence's Column wrap=true
                for spec, _i, _f, _l, _lb, _li, num in columns
            ],
            "rows": rows,
            "pageSize": 0 if page_size == "all" else int(page_size),
            "search": node.attrs.get("search", "false") == "true",
        }
        tid = self.next_id("table-")
        title = node.attrs.get("title")
        head = f'<div class="table-title">{escape(title)}</div>' if title else ""
        return (
            f'<div class="data-table" data-table="{tid}">{head}'
            f"<noscript>表格需要启用 JavaScript</noscript></div>{json_script(tid + '-data', payload)}"
        )

    def chart(self, node: Node) -> str:
        res = self.result(node)
        x = node.attrs.get("x")
        ys = parse_list(node.attrs["y"]) if node.attrs.get("y") else []
        if not x or not ys:
            raise self.fail(f"<{node.name}> needs x=column and y=column or y={{['a','b']}}")
        series = node.attrs.get("series")
        if series and len(ys) > 1:
            raise self.fail(f"<{node.name}>: series= takes a single y column")
        used = [x, *ys] + ([series] if series else [])
        idx = [self.col(node, res, c) for c in used]
        for f in ("yFmt", "xFmt"):
            try:
                check_fmt(node.attrs.get(f))
            except FormatError as exc:
                raise self.fail(str(exc)) from None
        chart_type = node.attrs.get("type", "stacked")
        if chart_type not in ("stacked", "grouped"):
            raise self.fail(f"<{node.name} type={chart_type}>: stacked or grouped")
        spec = {
            "kind": CHART_TYPES[node.name],
            "x": x,
            "y": ys,
            "series": series,
            "stacked": chart_type == "stacked" and node.name != "LineChart",
            "swapXY": node.attrs.get("swapXY", "false") == "true",
            "yFmt": node.attrs.get("yFmt"),
            "xFmt": node.attrs.get("xFmt"),
            "xAxisTitle": node.attrs.get("xAxisTitle"),
            "yAxisTitle": node.attrs.get("yAxisTitle"),
            "columns": used,
            "rows": [[to_json_value(r[i]) for i in idx] for r in res.rows],
        }
        cid = self.next_id("chart-")
        title = node.attrs.get("title")
        head = f'<div class="chart-title">{escape(title)}</div>' if title else ""
        if not res.rows:
            return f'<div class="chart chart-empty">{head}<div class="empty">暂无数据</div></div>'
        return (
            f'<div class="chart">{head}<div class="chart-canvas" id="{cid}" data-chart="{cid}"></div>'
            f"{json_script(cid + '-spec', spec)}</div>"
        )
