"""<LineChart>, <BarChart>, <AreaChart>: a JSON spec drawn by ECharts in assets/opscenter.js.

Evidence semantics the pages rely on: `sort` (default true: a category x axis is ordered by the
y total, largest first; a date or number x axis ascending) — write sort=false to keep the query's
order; `emptySet`/`emptyMessage`; yFmt/xFmt resolved against the column like Evidence's axis format.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import TYPE_CHECKING

from .components import json_script, to_json_value
from .formats import evidence_type, resolve, summarize
from .page_source import Node, parse_list

if TYPE_CHECKING:
    from .page_render import PageRender

CHART_TYPES = {"LineChart": "line", "BarChart": "bar", "AreaChart": "area"}


def _sorted_rows(rows: list[tuple], x_type: str, n_y: int) -> list[tuple]:
    """Evidence's default sort: category x by the total of y (all series) descending, else x ascending."""
    if x_type in ("number", "date"):
        return sorted(rows, key=lambda r: (r[0] is None, r[0]))
    totals: dict = defaultdict(float)
    for r in rows:
        totals[r[0]] += sum(float(v) for v in r[1 : 1 + n_y] if v is not None)
    return sorted(rows, key=lambda r: -totals[r[0]])


def chart(r: PageRender, node: Node) -> str:
    res = r.result(node)
    x = node.attrs.get("x")
    ys = parse_list(node.attrs["y"]) if node.attrs.get("y") else []
    if not x or not ys:
        raise r.fail(f"<{node.name}> needs x=column and y=column or y={{['a','b']}}", node)
    series = node.attrs.get("series")
    if series and len(ys) > 1:
        raise r.fail(f"<{node.name}>: series= takes a single y column", node)
    r.check_fmt(node, "yFmt", "xFmt")
    chart_type = node.attrs.get("type", "stacked")
    if chart_type not in ("stacked", "grouped"):
        raise r.fail(f"<{node.name} type={chart_type}>: stacked or grouped", node)
    sort = node.attrs.get("sort", "true")
    if sort not in ("true", "false"):
        raise r.fail(f"<{node.name} sort={sort}>: true or false", node)
    title = node.attrs.get("title")
    head = f'<div class="chart-title">{escape(title)}</div>' if title else ""
    message = r.empty(node, res)
    if message is not None:
        return f'<div class="chart chart-empty">{head}<div class="empty">{escape(message)}</div></div>'
    used = [x, *ys] + ([series] if series else [])
    idx = [r.col(node, res, c) for c in used]
    rows = [tuple(row[i] for i in idx) for row in res.rows]
    x_type = evidence_type(res.types[idx[0]])
    if sort == "true":
        rows = _sorted_rows(rows, x_type, len(ys))
    y_summary = summarize([row[1] for row in rows], evidence_type(res.types[idx[1]]))
    x_summary = summarize([row[0] for row in rows], x_type)
    spec = {
        "kind": CHART_TYPES[node.name],
        "x": x,
        "y": ys,
        "series": series,
        "stacked": chart_type == "stacked" and node.name != "LineChart",
        "swapXY": node.attrs.get("swapXY", "false") == "true",
        "yFmt": resolve(node.attrs.get("yFmt"), y_summary, ys[0]).to_json(),
        "xFmt": resolve(node.attrs.get("xFmt"), x_summary, x).to_json() if node.attrs.get("xFmt") else None,
        "xAxisTitle": node.attrs.get("xAxisTitle"),
        "yAxisTitle": node.attrs.get("yAxisTitle"),
        "columns": used,
        "rows": [[to_json_value(v) for v in row] for row in rows],
    }
    cid = r.next_id("chart-")
    return (
        f'<div class="chart">{head}<div class="chart-canvas" id="{cid}" data-chart="{cid}"></div>'
        f"{json_script(cid + '-spec', spec)}</div>"
    )
