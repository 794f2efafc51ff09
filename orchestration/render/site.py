"""render_site: every page of an Evidence pages folder -> static HTML in a folder."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import duckdb
from jinja2 import Environment, FileSystemLoader, select_autoescape

from .components import PageRender, site_href
from .page_source import PageSource, RenderError, parse_page
from .queries import PageQueryError, open_snapshot, run_one, run_queries

HERE = Path(__file__).resolve().parent
ECHARTS = HERE / "vendor" / "node_modules" / "echarts" / "dist" / "echarts.min.js"
SITE_NAME = "运营报表中心"
_TEMPLATE_PART = re.compile(r"^\[(\w+)\]$")
_BAD_VALUE = re.compile(r"[/\\\x00-\x1f?#%]|^\.")


@dataclass
class RenderedPage:
    source: Path  # the .md file
    url: str  # Evidence URL, e.g. /clients/C001
    path: Path  # written HTML file
    title: str
    params: dict[str, str] = field(default_factory=dict)
    row_counts: dict[str, int] = field(default_factory=dict)  # query name -> rows


@dataclass
class _Page:
    source: PageSource
    parts: list[str]  # URL path parts without .md, e.g. ["clients", "[client_id]"]
    param: str | None  # template parameter name

    @property
    def nav_url(self) -> str:
        parts = self.parts[:-1] if self.parts[-1] == "index" else self.parts
        return "/" + "/".join(parts) + ("/" if parts and self.parts[-1] == "index" else "")


def _discover(pages_dir: Path) -> list[_Page]:
    pages = []
    for path in sorted(pages_dir.rglob("*.md")):
        parts = list(path.relative_to(pages_dir).with_suffix("").parts)
        params = [m.group(1) for p in parts if (m := _TEMPLATE_PART.match(p))]
        if len(params) > 1 or (params and not _TEMPLATE_PART.match(parts[-1])):
            raise RenderError(f"{path}: only the file name may be a [parameter]")
        pages.append(_Page(parse_page(path), parts, params[0] if params else None))
    return pages


def _title(page: _Page) -> str:
    return str(page.source.frontmatter.get("title") or page.parts[-1])


def _template_values(con: duckdb.DuckDBPyConnection, page: _Page) -> list[str]:
    """Template pages list their values with frontmatter `params_query:` (first column)."""
    sql = page.source.frontmatter.get("params_query")
    if not sql:
        raise RenderError(f"{page.source.path}: template page needs frontmatter params_query: <sql>")
    res = run_one(con, page.source.path, "params_query", str(sql).strip().rstrip(";"))
    values = []
    for v, *_rest in res.rows:
        if v is None:
            continue
        text = str(v)
        if _BAD_VALUE.search(text) or not text:
            raise PageQueryError(page.source.path, "params_query", f"value {text!r} cannot be a page name")
        values.append(text)
    if len(set(values)) != len(values):
        raise PageQueryError(page.source.path, "params_query", "values are not distinct")
    return values


def render_site(
    pages_dir: Path,
    snapshot_db: Path,
    out_dir: Path,
    context: dict,
    sources_dir: Path | None = None,
) -> list[RenderedPage]:
    """Render every page under pages_dir against the snapshot into out_dir.

    context: as_of_date, run_id, quality_status ('通过'/'未通过'...) shown on every page.
    sources_dir: Evidence sources folder (default pages_dir/../sources); each
    sources/<source>/<name>.sql becomes the table <source>.<name> for page queries.
    Raises PageQueryError (page file + query name) on any SQL error, RenderError on page errors.
    """
    pages_dir, out_dir = Path(pages_dir), Path(out_dir)
    if not ECHARTS.is_file():
        raise RenderError(f"{ECHARTS} missing: run `npm ci` in {ECHARTS.parents[3]}")
    pages = _discover(pages_dir)
    if not pages:
        raise RenderError(f"no pages in {pages_dir}")
    nav = sorted(
        (p for p in pages if p.param is None),
        key=lambda p: (
            p.parts != ["index"],
            int(p.source.frontmatter.get("sidebar_position", 999)),
            p.nav_url,
        ),
    )
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    template = env.get_template("page.html")
    out_dir.mkdir(parents=True, exist_ok=True)
    assets = out_dir / "assets"
    assets.mkdir(exist_ok=True)
    shutil.copyfile(ECHARTS, assets / "echarts.min.js")
    for name in ("opscenter.js", "opscenter.css"):
        shutil.copyfile(HERE / "assets" / name, assets / name)

    con = open_snapshot(Path(snapshot_db), Path(sources_dir) if sources_dir else pages_dir.parent / "sources")
    rendered: list[RenderedPage] = []
    links: dict[str, set[str]] = {}
    try:
        for page in pages:
            values = [None] if page.param is None else _template_values(con, page)
            for value in values:
                params = {} if value is None else {page.param: value}
                parts = page.parts[:-1] + [value] if value is not None else page.parts
                url = page.nav_url if value is None else "/" + "/".join(parts)
                results = run_queries(con, page.source.path, page.source.queries, params)
                depth = len(parts) - 1
                state = PageRender(page=page.source.path, results=results, params=params, depth=depth)
                body = state.render_page(page.source.body)
                title = state.plain_text(_title(page))
                html = template.render(
                    site_name=SITE_NAME,
                    title=title,
                    body=body,
                    ctx=context,
                    quality_ok=str(context.get("quality_status", "")) == "通过",
                    root="../" * depth,
                    nav=[
                        {"title": _title(p), "href": site_href(p.nav_url, depth), "current": p is page}
                        for p in nav
                    ],
                )
                out = out_dir.joinpath(*parts).with_suffix(".html")
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(html, encoding="utf-8")
                links[url] = state.links
                rendered.append(
                    RenderedPage(
                        source=page.source.path,
                        url=url,
                        path=out,
                        title=title,
                        params=params,
                        row_counts={k: len(r.rows) for k, r in results.items()},
                    )
                )
        if not any(p.parts == ["index"] for p in pages):
            out = out_dir / "index.html"
            items = "".join(
                f'<li><a href="{site_href(p.nav_url, 0)}">{escape(_title(p))}</a></li>' for p in nav
            )
            out.write_text(
                template.render(
                    site_name=SITE_NAME,
                    title="首页",
                    body=f'<ul class="page-list">{items}</ul>',
                    ctx=context,
                    quality_ok=str(context.get("quality_status", "")) == "通过",
                    root="",
                    nav=[
                        {"title": _title(p), "href": site_href(p.nav_url, 0), "current": False} for p in nav
                    ],
                ),
                encoding="utf-8",
            )
            rendered.append(RenderedPage(source=pages_dir, url="/", path=out, title="首页"))
    finally:
        con.close()
    _check_links(rendered, links)
    return rendered


def _check_links(rendered: list[RenderedPage], links: dict[str, set[str]]) -> None:
    """A drill-through link to a page that was not rendered is a publish error, not a 404 later."""
    known = {p.url for p in rendered} | {p.url.rstrip("/") for p in rendered}
    known |= {"/index"} if "/" in known else set()
    broken = sorted(
        f"{src} -> {u}"
        for src, urls in links.items()
        for u in urls
        if u.split("#")[0].split("?")[0] not in known
    )
    if broken:
        more = f" (and {len(broken) - 10} more)" if len(broken) > 10 else ""
        raise RenderError("links to pages that were not rendered: " + "; ".join(broken[:10]) + more)
