"""Compare the numbers two renderings of the same pages show: the offline renderer's HTML and
Evidence's own build (`make evidence`), both opened in headless Chromium over 127.0.0.1.

For each page, every number-like token in the page's main content (big values, tables' first page,
inline values; charts and scripts removed: their axis ticks are drawn by two different chart
setups) is collected, in order, from both renderings; the page matches when the two lists are equal.

    uv run python -m orchestration.render.evidence_compare \
        --offline reports/published/current/pages --evidence reports/build index collections
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import threading
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

from orchestration import settings

NUMBER = re.compile(r"-?[¥$]?\d[\d,]*(?:\.\d+)?(?:[%万kMB天x])?")
EXTRACT = """() => {
    const main = document.querySelector('main .content, main#evidence-main-article, article, main');
    const skip = 'svg, canvas, script, style, noscript, .chart, [class*="chart"], nav, .pager, .pagination, '
        + '.table-count, .table-tools, aside, footer, button, [role="toolbar"]';
    const hidden = (el) => {  // display:none or visibility:hidden up the tree (display:contents is shown)
        const closed = el.closest('details:not([open])');  // Evidence leaves closed Details out of the DOM
        if (closed && !el.closest('summary')) return true;
        for (let e = el; e && e !== main.parentElement; e = e.parentElement) {
            const cs = getComputedStyle(e);
            if (cs.display === 'none' || cs.visibility === 'hidden') return true;
        }
        return false;
    };
    const out = [], walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
        const el = walker.currentNode.parentElement;
        if (!el || el.closest(skip) || hidden(el)) continue;
        const text = walker.currentNode.textContent.trim();
        if (text) out.push(text);
    }
    return out.join('\\n');
}"""
CHROMIUM = settings.chromium_path()
LOADING = "Loading..."  # Evidence's placeholder while a query runs in the browser


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass


@contextmanager
def _serve(root: Path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def _evidence_path(build: Path, page: str) -> str:
    """The URL Evidence's router expects: the folder with a trailing slash (trailingSlash 'always');
    `clients/C001/index.html` would be routed as a page named `index.html`."""
    if page == "index":
        return ""
    return f"{page}.html" if (build / f"{page}.html").is_file() else f"{page}/"


def _offline_path(offline: Path, page: str) -> str:
    """Our rendering's URL for an Evidence page name: `clients/C001` is the template's shell with the key
    (`clients/index.html?client_id=C001`, render/site.py), any other page its own file."""
    folder, _, value = page.rpartition("/")
    shell = offline / folder / "index.html"
    if folder and not (offline / f"{page}.html").is_file() and shell.is_file():
        m = re.search(r'id="key-page" data-param="([^"]+)"', shell.read_text(encoding="utf-8"))
        if m:
            return f"{folder}/index.html?{urlencode({m.group(1): value})}"
    return f"{page}.html"


def numbers(text: str) -> list[str]:
    return NUMBER.findall(text)


def _settled(page, timeout_s: int = 240) -> list[str]:
    """The page's numbers once Evidence has finished (no "Loading..." placeholder left) and they stop
    changing (three equal reads a second apart). After hydration Evidence re-runs every query in the
    browser's duckdb-wasm; on a busy machine that takes a minute."""
    last, same = None, 0
    for _ in range(timeout_s):
        page.wait_for_timeout(1000)
        text = page.evaluate(EXTRACT)
        now = numbers(text)
        same = same + 1 if now == last and now and LOADING not in text else 0
        if same >= 2:
            return now
        last = now
    raise TimeoutError(f"{page.url}: still loading after {timeout_s} s")


def compare(offline: Path, evidence: Path, pages: list[str]) -> dict:
    from playwright.sync_api import sync_playwright

    report = {}
    with _serve(offline) as off_base, _serve(evidence) as ev_base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        ctx.route(lambda url: not url.startswith("http://127.0.0.1"), lambda route: route.abort())
        for page_name in pages:
            p = ctx.new_page()
            p.goto(off_base + _offline_path(offline, page_name), wait_until="load")
            p.wait_for_selector("html[data-ready='1']")
            ours = numbers(p.evaluate(EXTRACT))
            p.goto(ev_base + _evidence_path(evidence, page_name), wait_until="networkidle")
            theirs = _settled(p)  # Evidence re-runs its queries in the browser after hydration
            p.close()
            only_ours = Counter(ours) - Counter(theirs)
            only_theirs = Counter(theirs) - Counter(ours)
            report[page_name] = {
                "offline_numbers": len(ours),
                "evidence_numbers": len(theirs),
                "same_in_order": ours == theirs,
                "only_offline": sorted(only_ours.elements()),
                "only_evidence": sorted(only_theirs.elements()),
            }
        browser.close()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offline", type=Path, required=True, help="published pages folder")
    parser.add_argument("--evidence", type=Path, default=Path("reports/build"))
    parser.add_argument("pages", nargs="*", default=["index", "collections"])
    args = parser.parse_args(argv)
    report = compare(args.offline.resolve(), args.evidence.resolve(), args.pages)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0 if all(not r["only_offline"] and not r["only_evidence"] for r in report.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
