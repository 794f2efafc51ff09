"""render_site: every page of an Evidence pages folder -> static HTML in a folder.

Incremental: each written page's content hash (renderer code, page source, parameters, navigation
and the page's query results) is recorded in `render-manifest.json`. Given the previous version's
folder, a page whose hash is unchanged is not rendered again: its file is hard-linked from there
(same inode, no bytes written), so publication time and disk use grow with what changed. The
night's as-of date, run id and quality status are in `assets/run.js`, not in the page files, so a
page shows the current run while its file is shared with yesterday's version.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from html import escape
from pathlib import Path

import duckdb
from jinja2 import Environment, FileSystemLoader, select_autoescape

from orchestration.settings import parse_size

from .components import SHELL, Routes, embed_json, site_href
from .keyed_run import TemplateRun, table_specs
from .page_render import PageRender
from .page_source import PageSource, RenderError, parse_body, parse_page
from .queries import PageQueryError, Result, open_snapshot, run_one

HERE = Path(__file__).resolve().parent
VENDOR = HERE / "vendor" / "node_modules"
ECHARTS = VENDOR / "echarts" / "dist" / "echarts.min.js"
SSF = VENDOR / "ssf" / "ssf.js"
SITE_NAME = "运营报表中心"
MANIFEST = "render-manifest.json"
DATA_DIR = "data"  # a template page's per-key data files, next to its shell
KEYS_PER_BATCH = 2000  # a template page's queries run for this many keys at a time (bounded memory)
_TEMPLATE_PART = re.compile(r"^\[(\w+)\]$")
_BAD_VALUE = re.compile(r"[/\\\x00-\x1f?#%]|^\.")
_NO_DIGITS = str.maketrans("0123456789", "ghijklmnop")
PLAIN_PARAM = "__opscenter_page"  # a page without parameter runs as a template page of one key, ""


@dataclass
class RenderedPage:
    source: Path  # the .md file
    url: str  # Evidence URL, e.g. /clients/C001
    file: str  # written HTML file, as a string (a night lists ~170,000; see `path`)
    title: str
    params: dict[str, str] = field(default_factory=dict)
    row_counts: dict[str, int] = field(default_factory=dict)  # query name -> rows
    reused: bool = False  # hard-linked from the previous version (content hash unchanged)
    kind: str = "page"  # page | shell (a template page's one HTML file) | data (one key's data file)

    @property
    def path(self) -> Path:
        """The written file. A Path made on demand: ~170,000 Path objects built per render, pickled
        by the worker process and rebuilt by the caller cost seconds at 100,000 clients, and the
        night reads none of them."""
        return Path(self.file)


@dataclass
class _Page:
    source: PageSource
    parts: list[str]  # URL path parts without .md, e.g. ["clients", "[client_id]"]
    param: str | None  # template parameter name

    @property
    def nav_url(self) -> str:
        parts = self.parts[:-1] if self.parts[-1] == "index" else self.parts
        return "/" + "/".join(parts) + ("/" if parts and self.parts[-1] == "index" else "")

    @property
    def title(self) -> str:
        return str(self.source.frontmatter.get("title") or self.parts[-1])


@dataclass
class _Site:
    """What every page of one render shares."""

    out_dir: Path
    nav: list[_Page]
    template: object
    previous: dict[str, str]  # rel path -> hash, from the previous version's manifest
    previous_dir: Path | None
    routes: Routes = field(default_factory=Routes)
    hashes: dict[str, str] = field(default_factory=dict)
    folders: set[str] = field(default_factory=set)  # created under out_dir
    as_of: str = ""  # context's as_of_date: relative day counts (relative.py) are checked against it
    version: str = ""  # renderer_version() of the process that started the render (in every hash)
    _hrefs: dict[tuple[str, int], str] = field(default_factory=dict)

    def href(self, url: str, depth: int) -> str:
        """site_href, kept for the whole render: the drill pages of every period link the same clients."""
        found = self._hrefs.get((url, depth))
        if found is None:
            found = self._hrefs[(url, depth)] = site_href(url, depth, self.routes)
        return found

    def nav_items(self, current: _Page | None, depth: int) -> list[dict]:
        return [
            {"title": p.title, "href": site_href(p.nav_url, depth), "current": p is current} for p in self.nav
        ]


def _discover(pages_dir: Path) -> list[_Page]:
    pages = []
    for path in sorted(pages_dir.rglob("*.md")):
        parts = list(path.relative_to(pages_dir).with_suffix("").parts)
        params = [m.group(1) for p in parts if (m := _TEMPLATE_PART.match(p))]
        if len(params) > 1 or (params and not _TEMPLATE_PART.match(parts[-1])):
            raise RenderError(f"{path}: only the file name may be a [parameter]")
        pages.append(_Page(parse_page(path), parts, params[0] if params else None))
    return pages


def _routes(pages: list[_Page]) -> Routes:
    """Template pages live in a folder of their own: its shell is `<folder>/index.html`."""
    templates = {}
    for p in pages:
        if p.param is None:
            continue
        folder = "/".join(p.parts[:-1])
        if not folder or any(q.parts[:-1] == p.parts[:-1] and q.parts[-1] == "index" for q in pages):
            raise RenderError(f"{p.source.path}: a template page needs a folder without index.md")
        if folder in templates:
            raise RenderError(f"{p.source.path}: one template page per folder")
        templates[folder] = p.param
    return Routes(templates, frozenset(p.nav_url for p in pages if p.param is None))


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


@lru_cache(maxsize=1)
def renderer_version() -> str:
    """Hash of the renderer's own code, template and assets: a change re-renders every page."""
    h = hashlib.sha256()
    for path in sorted(HERE.rglob("*")):
        if path.suffix in (".py", ".html", ".js", ".css") and "node_modules" not in path.parts:
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


def _page_base(site: _Site, page: _Page):
    """sha256 of the renderer version and the page file: where every hash of the page's files starts
    (computed once per page, copied per key)."""
    h = hashlib.sha256((site.version or renderer_version()).encode())
    h.update(page.source.path.read_bytes())
    return h


def _page_hash(base, params: dict, nav: list[dict], results_digest: str = "") -> str:
    """The content hash of one file of a page: `base` (_page_base), its parameters, its navigation and
    the digest DuckDB computed of its query results (keyed_run.TemplateRun.digests)."""
    h = base.copy()
    h.update(json.dumps([params, nav], ensure_ascii=False, sort_keys=True).encode())
    h.update(results_digest.encode())
    # letters only: a hex run could look like a mobile number to the publisher's personal-data scan
    return h.hexdigest().translate(_NO_DIGITS)


def _template_run(
    con, page: _Page, param: str, values: list[str], as_of: str | None
) -> tuple[TemplateRun, set[str]]:
    """The page's queries for `values` of `param` (keyed_run.TemplateRun), and the queries its title
    reads: their rows are always fetched (the title is rendered from them) and their DataTables are
    left to Python formatting."""
    title_refs = {m.group(1) for m in re.finditer(r"\b(\w+)(?:\[|\.length)", page.title)}
    nodes = parse_body(page.source.body, page.source.path, page.source.body_line)
    specs = table_specs(nodes, page.source.body + "\n" + page.title)
    specs = {q: t for q, t in specs.items() if q not in title_refs}
    run = TemplateRun(con, page.source.path, page.source.queries, param, values, specs, as_of)
    return run, title_refs


def _copy_assets(out_dir: Path, context: dict) -> None:
    for path in (ECHARTS, SSF):
        if not path.is_file():
            raise RenderError(f"{path} missing: run `npm ci` in {VENDOR.parent}")
    assets = out_dir / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ECHARTS, assets / "echarts.min.js")
    shutil.copyfile(SSF, assets / "ssf.js")
    for name in ("opscenter.js", "opscenter.css"):
        shutil.copyfile(HERE / "assets" / name, assets / name)
    run = {k: str(context.get(k, "")) for k in ("as_of_date", "run_id", "quality_status")}
    run["quality_ok"] = run["quality_status"] == "通过"
    text = embed_json(run)
    (assets / "run.js").write_text(f"window.opscenterRun = {text};\n", encoding="utf-8")


def _write(site: _Site, rel: str, digest: str, html_fn) -> bool:
    """Write out_dir/rel, or hard-link the previous version's file when the hash is unchanged.
    Returns True when the file was reused."""
    if _link_previous(site, rel, digest):
        return True
    with open(_out_path(site, rel), "w", encoding="utf-8") as f:
        f.write(html_fn())
    return False


def _file(site: _Site, rel: str) -> str:
    """out_dir/rel as a string (RenderedPage.file)."""
    return os.path.join(site.out_dir, rel)


def _out_path(site: _Site, rel: str) -> str:
    """out_dir/rel as a string, its folder created (once per folder, not per data file). Strings, not
    Path objects: a night handles ~170,000 data files, most of them only hard-linked."""
    out = os.path.join(site.out_dir, rel)
    folder = os.path.dirname(out)
    if folder not in site.folders:
        os.makedirs(folder, exist_ok=True)
        site.folders.add(folder)
    return out


def _link_previous(site: _Site, rel: str, digest: str) -> bool:
    """Record rel's hash; when the previous version has rel with that hash (a file), hard-link it to
    out_dir/rel (a copy across filesystems) and return True."""
    site.hashes[rel] = digest
    if site.previous_dir is None or site.previous.get(rel) != digest:
        return False
    prev = os.path.join(site.previous_dir, rel)
    out = _out_path(site, rel)
    try:
        os.link(prev, out)
    except FileNotFoundError:  # the previous file is gone: render it again
        return False
    except OSError:  # another filesystem (or not a file): copy a file instead
        if not os.path.isfile(prev):
            return False
        shutil.copy2(prev, out)
    return True


def _render_page(site: _Site, con, page: _Page) -> tuple[RenderedPage, set[str]]:
    """A page without parameter: one HTML file. Its queries run as a template page's do for one key
    (keyed_run.TemplateRun): DuckDB hashes the results, so an unchanged page is hard-linked without
    fetching a row, and a changed page's DataTables get their rows JSON built by DuckDB (sql_cells)
    instead of each cell being formatted in Python (the report pages list up to ~120,000 rows)."""
    depth = len(page.parts) - 1
    nav = site.nav_items(page, depth)
    rel = "/".join(page.parts) + ".html"
    run, title_refs = _template_run(con, page, PLAIN_PARAM, [""], site.as_of)
    try:
        digests, counts = run.digests(KEYS_PER_BATCH)
        digest = _page_hash(_page_base(site, page), {}, nav, digests[""])
        results, prebuilt = {}, {}
        if title_refs or not _reusable(site, rel, digest):
            fetched, built = run.fetch([""], lambda url: site.href(url, depth))
            results, prebuilt = fetched[""], built[""]
    finally:
        run.close()
    state = _state(site, page, results, {}, depth, rel, digest)
    state.prebuilt = prebuilt
    title = state.plain_text(page.title)

    def html() -> str:
        body = state.render_page(page.source.body)
        return state.splice(
            site.template.render(
                site_name=SITE_NAME, title=title, body=body, toc=state.toc, root="../" * depth, nav=nav
            )
        )

    reused = _write(site, rel, digest, html)
    site.hashes["links:" + rel] = "\n".join(sorted(state.links))
    rendered = RenderedPage(page.source.path, page.nav_url, _file(site, rel), title, {}, counts[""], reused)
    return rendered, state.links


def _state(site: _Site, page: _Page, results, params, depth: int, rel: str, digest: str) -> PageRender:
    state = PageRender(
        page=page.source.path,
        results=results,
        params=params,
        depth=depth,
        first_line=page.source.body_line,
        routes=site.routes,
    )
    if site.previous.get(rel) == digest:  # not rendered again: its links are the previous version's
        state.links = set(site.previous.get("links:" + rel, "").split("\n")) - {""}
    return state


def _render_template(
    site: _Site, con, page: _Page, values: list[str] | None = None
) -> list[tuple[RenderedPage, set[str]]]:
    """A template page: one HTML shell (`<folder>/index.html`) and one data file per key
    (`<folder>/data/<key>.js`, the page body rendered for that key); the shell reads the key from
    its URL (`?<param>=<key>`) and loads the key's file with <script src> (works from file://).

    The page's queries run once for all keys of a batch and stay in DuckDB (keyed_run.TemplateRun).
    A key's content hash (renderer, page file, key, an md5 of each query's rows computed by DuckDB)
    equal to the previous version's: the data file is hard-linked from there, its rows never fetched.
    Otherwise it is rendered, its DataTables' rows built as JSON by DuckDB where sql_cells can."""
    values = _template_values(con, page) if values is None else values
    folder = "/".join(page.parts[:-1])
    depth = len(page.parts) - 1
    base = _page_base(site, page)
    done = []
    run, title_refs = _template_run(con, page, page.param, values, site.as_of)
    try:
        digests, counts = run.digests(KEYS_PER_BATCH)
        digests = {k: _page_hash(base, {page.param: k}, [], d) for k, d in digests.items()}
        rows = {k: sum(n.values()) for k, n in counts.items()}
        # an unchanged key's file is hard-linked first, without building any render state; the batches
        # count only the keys left to render (a night changes a few keys in every range of them)
        linked = set() if title_refs else {k for k in values if _link_key(site, page, folder, k, digests[k])}
        for batch in run.batches(KEYS_PER_BATCH, rows, only={k for k in values if k not in linked}):
            todo = [k for k in batch if k not in linked]
            results, prebuilt = run.fetch(todo, lambda url: site.href(url, depth))
            for value in batch:
                if value in linked:
                    done.append(_linked_key(site, page, folder, depth, value, counts[value]))
                    continue
                done.append(
                    _render_key(
                        site,
                        page,
                        folder,
                        depth,
                        value,
                        digests[value],
                        counts[value],
                        results.pop(value, None),
                        prebuilt.pop(value, {}),
                    )
                )
    finally:
        run.close()
    order = {v: i for i, v in enumerate(values)}
    done.sort(key=lambda item: order[item[0].params[page.param]])
    done.append(_render_shell(site, page, folder, depth))
    return done


def _link_key(site: _Site, page: _Page, folder: str, value: str, digest: str) -> bool:
    """A key's data file hard-linked from the previous version when its hash is unchanged."""
    return _link_previous(site, f"{folder}/{DATA_DIR}/{value}.js", digest)


def _linked_key(site: _Site, page: _Page, folder: str, depth: int, value: str, counts: dict[str, int]):
    """A key whose data file _link_key hard-linked: its links are the previous version's; its title
    is the page's (rendered only when it has an expression: with only {params.x}, as title_refs
    is empty for a linked key)."""
    params = {page.param: value}
    rel = f"{folder}/{DATA_DIR}/{value}.js"
    title = page.title
    if "{" in title:
        title = PageRender(page=page.source.path, results={}, params=params, depth=depth).plain_text(title)
    # the previous manifest's text as it is: a key is linked only under the same renderer version,
    # whose manifest wrote it as every render does ("\n".join of the sorted links)
    text = site.previous.get("links:" + rel, "")
    site.hashes["links:" + rel] = text
    links = set(text.split("\n")) if text else set()
    url = "/" + "/".join([*page.parts[:-1], value])
    item = RenderedPage(page.source.path, url, _file(site, rel), title, params, counts, True, "data")
    return item, links


def _reusable(site: _Site, rel: str, digest: str) -> bool:
    return (
        site.previous_dir is not None
        and site.previous.get(rel) == digest
        and (site.previous_dir / rel).is_file()
    )


def _render_key(
    site: _Site,
    page: _Page,
    folder: str,
    depth: int,
    value: str,
    digest: str,
    counts: dict[str, int],
    results: dict[str, Result] | None,
    prebuilt: dict,
):
    """One key of a template page: its data file, rendered or hard-linked from the previous version
    (results None: unchanged, not fetched)."""
    params = {page.param: value}
    rel = f"{folder}/{DATA_DIR}/{value}.js"
    state = _state(site, page, results or {}, params, depth, rel, digest)
    state.prebuilt = prebuilt
    title = state.plain_text(page.title)

    def data() -> str:
        body = state.render_page(page.source.body)
        payload = {"key": value, "title": title, "body": body, "toc": state.toc}
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        # a JSON string cannot end early in a script file of its own (no HTML parser around it);
        # U+2028/2029 are escaped for older JavaScript engines
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        return f"window.opscenterKeyPage = {state.splice(text, in_json_string=True)};\n"

    reused = _write(site, rel, digest, data)
    site.hashes["links:" + rel] = "\n".join(sorted(state.links))
    url = "/" + "/".join([*page.parts[:-1], value])
    item = RenderedPage(page.source.path, url, _file(site, rel), title, params, counts, reused, "data")
    return item, state.links


def _render_shell(site: _Site, page: _Page, folder: str, depth: int) -> tuple[RenderedPage, set[str]]:
    rel = f"{folder}/{SHELL}"
    nav = site.nav_items(None, depth)
    name = re.sub(r"\{[^{}]*\}", "", page.title).strip(" ·:：-") or page.parts[-2]
    digest = _page_hash(_page_base(site, page), {"shell": page.param}, nav)
    body = (
        f'<div class="key-page" id="key-page" data-param="{escape(page.param)}" data-data="{DATA_DIR}/" '
        f'data-name="{escape(name)}"><p class="key-loading">正在加载…</p></div>'
        "<noscript>本页需要启用 JavaScript</noscript>"
    )

    def html() -> str:
        return site.template.render(
            site_name=SITE_NAME, title=name, body=body, toc=[], root="../" * depth, nav=nav
        )

    reused = _write(site, rel, digest, html)
    url = "/" + folder + "/" + SHELL
    return RenderedPage(page.source.path, url, _file(site, rel), name, {}, {}, reused, "shell"), set()


def _page_list_index(site: _Site, pages_dir: Path) -> RenderedPage:
    """A generated home page listing the pages, when the folder has no index.md."""
    items = "".join(f'<li><a href="{site_href(p.nav_url, 0)}">{escape(p.title)}</a></li>' for p in site.nav)
    body = f'<ul class="page-list">{items}</ul>'
    out = site.out_dir / "index.html"
    out.write_text(
        site.template.render(
            site_name=SITE_NAME, title="首页", body=body, toc=[], root="", nav=site.nav_items(None, 0)
        ),
        encoding="utf-8",
    )
    return RenderedPage(source=pages_dir, url="/", file=str(out), title="首页")


def _read_previous(previous_dir: Path | None) -> dict[str, str]:
    """The previous version's hashes (rel path -> hash); {} when missing or unreadable, so every
    page is rendered (a full render, never a wrong reuse)."""
    if previous_dir is None or not (previous_dir / MANIFEST).is_file():
        return {}
    try:
        found = json.loads((previous_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str)}


@dataclass(frozen=True)
class _Job:
    """What a process rendering some of a site's pages needs to set itself up the same way as every
    other process of the render (picklable: render_worker's processes get it through a pipe)."""

    pages_dir: Path
    snapshot_db: Path
    out_dir: Path
    sources_dir: Path
    previous_dir: Path | None
    as_of: str
    version: str  # renderer_version() of the process that started the render
    memory_limit: str | None
    spill: Path


def _setup(job: _Job) -> tuple[list[_Page], _Site]:
    """The pages and the render state every process of a render builds alike (the same page files,
    navigation, routes, previous hashes and renderer version, so the same hashes and bytes)."""
    pages = _discover(job.pages_dir)
    if not pages:
        raise RenderError(f"no pages in {job.pages_dir}")
    nav = sorted(
        (p for p in pages if p.param is None),
        key=lambda p: (
            p.parts != ["index"],
            int(p.source.frontmatter.get("sidebar_position", 999)),
            p.nav_url,
        ),
    )
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    site = _Site(
        job.out_dir, nav, env.get_template("page.html"), _read_previous(job.previous_dir), job.previous_dir
    )
    site.routes = _routes(pages)
    site.as_of = job.as_of  # relative day counts are checked against it
    site.version = job.version
    return pages, site


def _open(job: _Job, memory_limit: str | None, spill: Path):
    return open_snapshot(job.snapshot_db, job.sources_dir, memory_limit, spill)


def _render_unit(
    site: _Site, con, page: _Page, values: list[str] | None
) -> list[tuple[RenderedPage, set[str]]]:
    """One page: its file, or a template page's shell and data files."""
    if page.param is None:
        return [_render_page(site, con, page)]
    return _render_template(site, con, page, values)


def render_site(
    pages_dir: Path,
    snapshot_db: Path,
    out_dir: Path,
    context: dict,
    sources_dir: Path | None = None,
    previous_dir: Path | None = None,
    memory_limit: str | None = None,
    temp_dir: Path | None = None,
    workers: int = 1,
    parallel_min_keys: int = 0,
) -> list[RenderedPage]:
    """Render every page under pages_dir against the snapshot into out_dir.

    context: as_of_date, run_id, quality_status ('通过'/'未通过'...) shown on every page.
    sources_dir: Evidence sources folder (default pages_dir/../sources); each
    sources/<source>/<name>.sql becomes the table <source>.<name> for page queries.
    previous_dir: the previous version's pages folder; unchanged pages are hard-linked from it.
    memory_limit: DuckDB's memory limit while rendering (None: DuckDB's default, 80 % of RAM); beyond
    it DuckDB spills to a fresh folder under `temp_dir` (default: beside out_dir), removed afterwards.
    workers: processes rendering (this one and workers - 1 started by it, render_worker.py), used when
    the template pages have `parallel_min_keys` keys or more in all (a process costs ~1 s to start);
    the pages are shared out a page at a time, largest first, and each process's DuckDB gets
    memory_limit / workers. The files and the manifest are the same bytes either way.
    Raises PageQueryError (page file + query name) on any SQL error, RenderError on page errors.
    """
    pages_dir, out_dir = Path(pages_dir), Path(out_dir)
    previous_dir = Path(previous_dir) if previous_dir else None
    out_dir.parent.mkdir(parents=True, exist_ok=True)  # the spill folder's default place
    spill = Path(tempfile.mkdtemp(prefix=".render-spill-", dir=temp_dir or out_dir.parent))
    job = _Job(
        pages_dir,
        Path(snapshot_db),
        out_dir,
        Path(sources_dir) if sources_dir else pages_dir.parent / "sources",
        previous_dir,
        str(context.get("as_of_date") or ""),
        renderer_version(),
        memory_limit,
        spill,
    )
    try:
        pages, site = _setup(job)
        _copy_assets(out_dir, context)
        con = _open(job, memory_limit, spill)
    except BaseException:
        shutil.rmtree(spill, ignore_errors=True)
        raise
    rendered: list[RenderedPage] = []
    links: dict[str, set[str]] = {}
    try:
        values = {i: _template_values(con, p) for i, p in enumerate(pages) if p.param is not None}
        if workers > 1 and len(pages) > 1 and sum(map(len, values.values())) >= parallel_min_keys:
            con.close()  # its memory limit was the whole render's: each process gets a share
            (spill / "0").mkdir()
            con = _open(job, share_memory(memory_limit, workers), spill / "0")
            from .render_worker import render_parallel

            done = render_parallel(job, site, con, pages, values, workers)
        else:
            done = [_render_unit(site, con, page, values.get(i)) for i, page in enumerate(pages)]
        for items in done:
            for item, page_links in items:
                rendered.append(item)
                links[item.url] = page_links
        if not any(p.parts == ["index"] for p in pages):
            rendered.append(_page_list_index(site, pages_dir))
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    _check_links(rendered, links, out_dir)
    (out_dir / MANIFEST).write_text(
        json.dumps(site.hashes, ensure_ascii=False, sort_keys=True), encoding="utf-8"
    )
    return rendered


def share_memory(memory_limit: str | None, workers: int) -> str | None:
    """One process's share of a render's DuckDB memory limit (DuckDB's size syntax), or None."""
    if not memory_limit:
        return None
    return f"{parse_size(memory_limit) / workers / 2**20:.0f}MiB"


def _check_links(rendered: list[RenderedPage], links: dict[str, set[str]], out_dir: Path) -> None:
    """A drill-through link to a page that was not rendered is a publish error, not a 404 later.
    Links to files (e.g. /dbt-docs/index.html) are allowed when they exist in or beside out_dir.
    Each distinct URL is checked once (~1.4 M links, mostly to the same pages, at 100,000 clients)."""
    known = {p.url for p in rendered} | {p.url.rstrip("/") for p in rendered}
    known |= {"/index"} if "/" in known else set()

    def ok(url: str) -> bool:
        path = url.split("#")[0].split("?")[0]
        if path in known:
            return True
        if re.search(r"\.\w+$", path):  # a static file: in the version folder, next to the pages
            return (out_dir / path.lstrip("/")).exists() or (out_dir.parent / path.lstrip("/")).exists()
        return False

    distinct: set[str] = set()
    for urls in links.values():
        distinct.update(urls)
    bad = {u for u in distinct if not ok(u)}
    broken = sorted(f"{src} -> {u}" for src, urls in links.items() for u in urls if u in bad) if bad else []
    if broken:
        more = f" (and {len(broken) - 10} more)" if len(broken) > 10 else ""
        raise RenderError("links to pages that were not rendered: " + "; ".join(broken[:10]) + more)
