"""Small helpers shared by the page components: page URLs, JSON values, the JSON data island.

The components themselves live in page_render.py (markdown, expressions, blocks), values.py
(BigValue, Value), tables.py (DataTable) and charts.py (Line/Bar/AreaChart).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import quote

SHELL = "index.html"  # a template page's one HTML file, in its folder


@dataclass(frozen=True)
class Routes:
    """Which Evidence URLs are template pages: `/clients/C001` is served by the template's one shell,
    `clients/index.html?client_id=C001` (see site.py), unless a static page has that URL."""

    templates: dict[str, str] = field(default_factory=dict)  # folder ("clients") -> parameter name
    static: frozenset[str] = frozenset()  # URLs of the non-template pages

    def shell(self, path: str) -> tuple[str, str] | None:
        """'clients/C001' -> ('clients/index.html', 'client_id=C001'), or None."""
        folder, _, value = path.rpartition("/")
        if (
            folder not in self.templates
            or not value
            or "/" + path in self.static
            or re.search(r"\.\w+$", value)
        ):
            return None
        return f"{folder}/{SHELL}", f"{quote(self.templates[folder], safe='')}={quote(value, safe='')}"


def site_href(url: str, depth: int, routes: Routes | None = None) -> str:
    """Evidence-style absolute page URL (/clients/C001) -> relative static file href; a template
    page's URL goes to its shell with the value as a query parameter."""
    if not url.startswith("/") or url.startswith("//"):
        return url
    path, sep, rest = url[1:].partition("#")
    path, qsep, query = path.partition("?")
    shell = routes.shell(path) if routes else None
    if shell:
        path, key = shell
        qsep, query = "?", key + ("&" + query if query else "")
    elif path == "" or path.endswith("/"):
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
