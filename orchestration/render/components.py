"""Small helpers shared by the page components: page URLs, JSON values, the JSON data island.

The components themselves live in page_render.py (markdown, expressions, blocks), values.py
(BigValue, Value), tables.py (DataTable) and charts.py (Line/Bar/AreaChart).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal


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


def json_script(element_id: str, payload) -> str:
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'
