"""<BigValue> and <Value>: one number from a query, formatted as Evidence does."""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING

from . import relative
from .components import embed_json
from .keyed_run import fixed_format
from .page_source import Node

if TYPE_CHECKING:
    from .page_render import PageRender


def value(r: PageRender, node: Node) -> str:
    res = r.result(node)
    r.check_fmt(node, "fmt")
    message = r.empty(node, res)
    if message is not None:
        return f'<span class="value empty">{escape(message)}</span>'
    column = node.attrs.get("column") or (res.columns[0] if res.columns else "")
    i = r.col(node, res, column)
    row = int(node.attrs.get("row", "0"))
    v = res.rows[row][i] if row < len(res.rows) else None
    if row < len(res.rows) and relative.published(res.columns, res.types, res.rows[row], column):
        raise r.fail(
            f"<Value column={column}>: a day count published relative (relative.py): use a BigValue", node
        )
    return f'<span class="value">{escape(r.fmt(v, node.attrs.get("fmt"), node, res, column))}</span>'


def big_value(r: PageRender, node: Node) -> str:
    res = r.result(node)
    r.check_fmt(node, "fmt", "comparisonFmt")
    column = node.attrs.get("value")
    if not column:
        raise r.fail("<BigValue> needs value=column", node)
    title = node.attrs.get("title", column)
    head = f'<div class="big-value"><div class="bv-title">{escape(title)}</div>'
    message = r.empty(node, res)
    if message is not None:
        return head + f'<div class="bv-value empty">{escape(message)}</div></div>'
    row = res.rows[0]
    i = r.col(node, res, column)
    v = row[i]
    if relative.text_of(res.columns, res.types, row, column) is not None:
        raise r.fail(f"<BigValue value={column}>: a text published as a template (relative.py)", node)
    since = relative.since_of(res.columns, row, column)
    if since is not None:  # the browser counts the days from `since` to the as-of date (relative.py)
        fixed = fixed_format(node.attrs.get("fmt"), res.types[i], column)
        if fixed is None:
            raise r.fail(f"<BigValue value={column}>: a day count published relative needs a fixed fmt", node)
        html = (
            head + f'<div class="bv-value" data-since="{since:%Y-%m-%d}" '
            f'data-fmt="{escape(embed_json(fixed.to_json()))}"></div>'
        )
    else:
        html = (
            head + f'<div class="bv-value">{escape(r.fmt(v, node.attrs.get("fmt"), node, res, column))}</div>'
        )
    comp = node.attrs.get("comparison")
    if comp:
        c = row[r.col(node, res, comp)]
        down_good = node.attrs.get("downIsGood", "false") == "true"
        cls = "flat"
        arrow = ""
        if isinstance(c, int | float | Decimal) and c != 0:
            arrow = "▲ " if c > 0 else "▼ "
            cls = "good" if (c > 0) != down_good else "bad"
        ctitle = node.attrs.get("comparisonTitle", "")
        text = (
            arrow
            + r.fmt(c, node.attrs.get("comparisonFmt"), node, res, comp)
            + (" " + ctitle if ctitle else "")
        )
        html += f'<div class="bv-comparison {cls}">{escape(text)}</div>'
    link = node.attrs.get("link")  # Evidence's BigValue link: the card opens the page behind it
    if link:
        if link.startswith("/"):
            r.links.add(link)
        return f'<a class="bv-link" href="{escape(r.href(link))}">{html}</div></a>'
    return html + "</div>"
