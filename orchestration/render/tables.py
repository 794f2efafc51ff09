"""<DataTable> with <Column> children: the rows as a JSON island, drawn by assets/opscenter.js
(sort, filter, paging, CSV download)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from . import relative
from .components import json_script, to_json_value
from .excel import FormatError
from .formats import NUMERIC_TYPES, apply, evidence_type, resolve, summarize
from .keyed_run import fixed_format
from .page_source import Node

if TYPE_CHECKING:
    from .page_render import PageRender


_PREBUILT_COLUMNS: dict[tuple, tuple] = {}  # tables whose rows DuckDB built: node -> its columns


def _columns(r: PageRender, node: Node, res, link: str | None, rows: list | None = None) -> list[dict]:
    """The table's columns; `rows` the values their auto formats look at (default: res.rows)."""
    rows = res.rows if rows is None else rows
    specs = [c for c in node.children if c.name == "Column"]
    if any(c.name not in ("Column", "") or (c.name == "" and c.text.strip()) for c in node.children):
        raise r.fail("<DataTable> may only contain <Column .../>", node)
    if not specs:
        specs = [Node(name="Column", attrs={"id": c}, line=node.line) for c in res.columns if c != link]
    columns = []
    for spec in specs:
        cid = spec.attrs.get("id")
        if not cid:
            raise r.fail("<Column> needs id=column", spec)
        r.check_fmt(spec, "fmt")
        i = r.col(node, res, cid)
        summary = summarize([row[i] for row in rows], evidence_type(res.types[i]))
        label = spec.attrs.get("linkLabel")
        since = dict(relative.pairs(res.columns, res.types)).get(cid)
        if since is not None and fixed_format(spec.attrs.get("fmt"), res.types[i], cid) is None:
            raise r.fail(
                f"<Column id={cid}>: a column with {since} needs a fmt that does not depend on the values",
                spec,
            )
        text = next((t for t in relative.texts(res.columns, res.types) if t.column == cid), None)
        if text is not None and spec.attrs.get("fmt") is not None:
            raise r.fail(f"<Column id={cid}>: a text with {text.template} takes no fmt", spec)
        columns.append(
            {
                "spec": spec,
                "i": i,
                "since_i": None if since is None else res.columns.index(since),
                "text_i": None if text is None else _indexes(res.columns, text),
                "fmt": resolve(spec.attrs.get("fmt"), summary, cid),
                "link": spec.attrs.get("contentType") == "link",
                "label": label,
                "label_i": res.columns.index(label) if label in res.columns else None,
                "num": res.types[i].upper().startswith(NUMERIC_TYPES),
            }
        )
    return columns


def _indexes(columns: list[str], t: relative.TextDays) -> tuple:
    """Where a text column's template, since and until are in the row (None: not in the query)."""
    return tuple(None if c is None else columns.index(c) for c in (t.template, t.since, t.until))


def _cell(r: PageRender, c: dict, values: tuple, node: Node) -> list | dict | str:
    v = values[c["i"]]
    if c["link"] and v is not None:
        if str(v).startswith("/"):
            r.links.add(str(v))
        if c["label_i"] is None:
            return [to_json_value(v), c["label"] or str(v), r.href(str(v))]
        label = values[c["label_i"]]  # sorts by its label (e.g. a count), not by the URL
        return [to_json_value(label), str(label), r.href(str(v))]
    if c["link"] and c["label_i"] is not None:  # no link (e.g. a count of 0): show the label
        return [to_json_value(values[c["label_i"]]), str(values[c["label_i"]])]
    if c["since_i"] is not None and v is None and values[c["since_i"]] is not None:
        return relative.cell(values[c["since_i"]])  # the browser counts the days (relative.py)
    if c["text_i"] is not None and v is None:
        template, since, until = (None if j is None else values[j] for j in c["text_i"])
        cell = relative.text_cell(template, since, until)
        if cell is not None:  # the browser fills the day count in (relative.py)
            return cell
    try:
        return cell_json(to_json_value(v), apply(c["fmt"], v))
    except FormatError as exc:
        raise r.fail(str(exc), c["spec"]) from None


def cell_json(raw, text: str):
    """A cell as the data file holds it: `[raw value, shown text]`, or the text alone when the raw
    value is that same text (a string without fmt, a date shown yyyy-mm-dd: ~40 % of a big table's
    bytes); assets/opscenter.js reads `"x"` as `["x","x"]`. sql_cells.compile_cell writes the same."""
    return raw if isinstance(raw, str) and raw == text else [raw, text]


def data_table(r: PageRender, node: Node) -> str:
    res = r.result(node)
    title = node.attrs.get("title")
    head = f'<div class="table-title">{escape(title)}</div>' if title else ""
    message = r.empty(node, res)
    if message is not None:
        return f'<div class="data-table table-empty">{head}<div class="empty">{escape(message)}</div></div>'
    link = node.attrs.get("link")
    link_i = r.col(node, res, link) if link else None
    # rows built by DuckDB: their formats do not depend on the values (keyed_run), none to look at
    pre = r.prebuilt.get((node.attrs.get("data"), node.line))
    if pre is None:
        columns = _columns(r, node, res, link)
    else:  # the same for every key of the page: computed once
        cache_key = (id(node), tuple(res.columns), tuple(res.types))
        cached = _PREBUILT_COLUMNS.get(cache_key)
        if cached is None or cached[0] is not node:  # holding the node: its id is not reused
            cached = _PREBUILT_COLUMNS[cache_key] = (node, _columns(r, node, res, link, []), {})
        columns = cached[1]
    page_size = node.attrs.get("rows", "10")
    if page_size != "all" and not page_size.isdigit():
        raise r.fail(f"<DataTable rows={page_size}>: a number or all", node)
    rows = []
    for values in [] if pre is not None else res.rows:
        href = None
        if link_i is not None and values[link_i] is not None:
            url = str(values[link_i])
            if url.startswith("/"):
                r.links.add(url)
            href = r.href(url)
        rows.append({"c": [_cell(r, c, values, node) for c in columns], "h": href})

    def payload() -> dict:
        return {
            "title": title,
            "columns": [
                {
                    "title": c["spec"].attrs.get("title", c["spec"].attrs["id"]),
                    "num": c["num"],
                    "wrap": c["spec"].attrs.get("wrap", "false") == "true",  # Evidence's Column wrap=true
                }
                | ({} if c["since_i"] is None else {"rel": c["fmt"].to_json()})
                | ({} if c["text_i"] is None else {"days": relative.PLACEHOLDER})
                for c in columns
            ],
            "rows": rows,
            "pageSize": 0 if page_size == "all" else int(page_size),
            "search": node.attrs.get("search", "false") == "true",
            "download": node.attrs.get("downloadable", "true") != "false",
        }

    tid = r.next_id("table-")
    if pre is not None:  # the rows' JSON was built by DuckDB (keyed_run, sql_cells): spliced in
        # when the page's text is final (PageRender.splice)
        r.links.update(pre.links)
        scripts = cached[2]  # the same for every key of the page (no row in it): built once per id
        script = scripts.get(tid)
        if script is None:
            script = scripts[tid] = json_script(tid + "-data", payload())
        script = script.replace(',"rows":[],', ',"rows":' + r.rows_token(pre.rows_json) + ",", 1)
    else:
        script = json_script(tid + "-data", payload())
    wrap = " wrap-titles" if node.attrs.get("wrapTitles", "false") == "true" else ""  # Evidence's wrapTitles
    return (
        f'<div class="data-table{wrap}" data-table="{tid}">{head}'
        f"<noscript>表格需要启用 JavaScript</noscript></div>{script}"
    )
