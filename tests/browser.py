"""Shared browser-test fixtures: a real HTTP server on 127.0.0.1 and headless Debian Chromium.

Use from a test module with `from tests.browser import chromium, open_page, serve_directory  # noqa: F401`.
Chromium comes from the Debian package (`apt-get install -y chromium`, binary /usr/bin/chromium);
override with OPSCENTER_CHROMIUM.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
CHROMIUM = Path(os.environ.get("OPSCENTER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1"}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - keep pytest output clean
        pass


@contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """Serve `root` over real HTTP on 127.0.0.1 (free port) in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class PageWatch:
    """What a page did that a test should fail on."""

    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return (
            [f"console: {m}" for m in self.console_errors]
            + [f"foreign request: {u}" for u in self.foreign_requests]
            + [f"failed request: {u}" for u in self.failed_requests]
        )


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    """A headless Chromium browser context with a fresh user-data-dir (one per test session)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )
        # Nothing leaves the machine: requests to other hosts are recorded by open_page and aborted here.
        context.route(lambda url: _foreign(url), lambda route: route.abort())
        try:
            yield context
        finally:
            context.close()


def _foreign(url: str) -> bool:
    parts = urlsplit(url)
    # file:// is this machine too (published folders opened without a server)
    return parts.scheme not in ("data", "blob", "about", "file") and parts.hostname not in LOCAL_HOSTS


PHONE = {"width": 390, "height": 844}  # the managers' phones (WeCom digest links)


def open_page(context, url: str, viewport: dict | None = None):
    """New tab at url with console errors and non-127.0.0.1 requests recorded; returns (page, watch)."""
    watch = PageWatch()
    page = context.new_page()
    if viewport:
        page.set_viewport_size(viewport)

    def on_console(msg):
        if msg.type == "error":
            watch.console_errors.append(msg.text)

    def on_request(request):
        if _foreign(request.url):
            watch.foreign_requests.append(request.url)

    def on_response(response):
        if response.status >= 400:
            watch.failed_requests.append(f"{response.status} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: watch.console_errors.append(f"uncaught: {exc}"))
    page.on("request", on_request)
    page.on("requestfailed", lambda r: watch.failed_requests.append(f"{r.failure} {r.url}"))
    page.on("response", on_response)
    if url:
        page.goto(url, wait_until="load")
    return page, watch


def open_file(context, url: str):
    """A published page opened from file:// (a folder opened without a server), once drawn; returns
    (page, console errors and uncaught exceptions)."""
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url, wait_until="load")
    page.wait_for_selector("html[data-ready='1']")
    return page, errors


def phone_layout_problems(page) -> list[str]:
    """At phone width: the body never scrolls sideways, the navigation is a menu (hidden until the
    button opens it), cards and charts fit the screen and charts use its width, wide tables scroll
    inside their card. Returns what is wrong (empty list: fine)."""
    problems = page.evaluate(
        """() => {
        const out = [], w = window.innerWidth, doc = document.documentElement;
        if (doc.scrollWidth > w) out.push(`body scrolls sideways: ${doc.scrollWidth} > ${w}`);
        const nav = document.querySelector('.site-nav');
        if (nav && getComputedStyle(nav).display !== 'none') out.push('navigation not collapsed');
        const toggle = document.querySelector('.nav-toggle');
        if (!toggle || getComputedStyle(toggle).display === 'none') out.push('no menu button');
        const content = document.querySelector('.content'), cs = getComputedStyle(content);
        const inner = content.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
        for (const el of document.querySelectorAll('.big-value, .chart, .data-table, details, .alert')) {
            const r = el.getBoundingClientRect();
            if (r.width > 0 && (r.right > w + 0.5 || r.left < -0.5))
                out.push(`${el.className} leaves the screen`);
        }
        for (const el of document.querySelectorAll('.chart-canvas')) {
            const r = el.getBoundingClientRect(), card = el.closest('.chart').getBoundingClientRect();
            if (card.width < inner - 1 || r.width < card.width - 30)
                out.push(`chart ${r.width}px wide, card ${card.width}px, content ${inner}px`);
            const svg = el.querySelector('svg');
            if (svg && Math.abs(svg.getBoundingClientRect().width - r.width) > 2)
                out.push('chart not resized');
        }
        for (const box of document.querySelectorAll('.data-table .scroll')) {
            const style = getComputedStyle(box);
            if (box.scrollWidth > box.clientWidth + 1 && !['auto', 'scroll'].includes(style.overflowX))
                out.push('wide table does not scroll inside its card');
        }
        return out;
    }"""
    )
    toggle = page.locator(".nav-toggle")
    if toggle.count() and toggle.is_visible():
        toggle.click()
        if not page.locator(".site-nav").is_visible():
            problems.append("menu button does not open the navigation")
        toggle.click()
    return problems


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def data_quality_only(reports: Path, tmp: Path) -> tuple[Path, Path]:
    """(pages_dir, sources_dir) holding just the data-quality page and the raw bookkeeping sources,
    for snapshots that carry no marts (the other pages are tested on a real pipeline run)."""
    import shutil

    pages, sources = tmp / "dq_pages", tmp / "dq_sources" / "opscenter"
    pages.mkdir(parents=True, exist_ok=True)
    sources.mkdir(parents=True, exist_ok=True)
    shutil.copy(reports / "pages" / "data-quality.md", pages)
    for name in ("connection.yaml", "load_files.sql", "load_rejects.sql", "load_runs.sql"):
        shutil.copy(reports / "sources" / "opscenter" / name, sources)
    return pages, sources.parent
