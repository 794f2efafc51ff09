"""Rendered pages in real headless Chromium over real HTTP on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from urllib.parse import urlencode

import duckdb
import pytest

from orchestration.render import format_value, render_site
from orchestration.render.formats import resolve, summarize
from tests.browser import (
    PHONE,
    data_quality_only,
    open_file,
    open_page,
    phone_layout_problems,
    screenshot,
    serve_directory,
)

FIXTURES = Path(__file__).parent / "fixtures" / "render"
REPORTS = Path(__file__).resolve().parent.parent / "reports"
CONTEXT = {"as_of_date": "2026-11-21", "run_id": "20261121-r7", "quality_status": "通过"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Fixture pages and the real reports/pages rendered over one tiny snapshot, served over HTTP."""
    tmp = tmp_path_factory.mktemp("site")
    snap = tmp / "snapshot.duckdb"
    con = duckdb.connect(str(snap))
    con.execute((FIXTURES / "snapshot.sql").read_text(encoding="utf-8"))
    con.close()
    root = tmp / "www"
    demo = render_site(FIXTURES / "pages", snap, root / "demo", CONTEXT)
    # The real report pages read marts and are tested on a real pipeline run (test_report_pages.py);
    # here only the data-quality page, whose tables the tiny snapshot carries.
    dq_pages, dq_sources = data_quality_only(REPORTS, tmp)
    (root / "reports" / "dbt-docs").mkdir(parents=True)  # the data-quality page links the dbt docs
    (root / "reports" / "dbt-docs" / "index.html").write_text("<html><body>dbt docs</body></html>")
    reports = render_site(dq_pages, snap, root / "reports", CONTEXT, sources_dir=dq_sources)
    with serve_directory(root) as base:
        yield base, [("demo", p) for p in demo] + [("reports", p) for p in reports]


def _page_url(base, root_folder, rendered) -> str:
    """The URL a manager opens: a page's file, or for one key of a template page its shell with the key."""
    path = rendered.path.parent.parent / "index.html" if rendered.kind == "data" else rendered.path
    rel = path.as_posix().split(f"/www/{root_folder}/", 1)[1]
    return f"{base}{root_folder}/{rel}" + (
        f"?{urlencode(rendered.params)}" if rendered.kind == "data" else ""
    )


def _load(chromium, url):  # noqa: F811
    page, watch = open_page(chromium, url)
    page.wait_for_selector("html[data-ready='1']")
    return page, watch


def _chart_series(page) -> list[list[dict]]:
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('.chart-canvas')).map(el => {
            const inst = echarts.getInstanceByDom(el);
            if (!inst) return null;
            return inst.getOption().series.map(s => ({name: s.name, type: s.type, data: s.data}));
        })"""
    )


def test_every_page_loads_clean_with_charts_tables_and_screenshot(site, chromium):  # noqa: F811
    base, pages = site
    # demo: index, the client shell and 3 clients' data files; reports: data-quality + generated index
    assert len(pages) == 7
    for folder, rendered in pages:
        url = _page_url(base, folder, rendered)
        page, watch = _load(chromium, url)
        assert watch.problems() == [], url
        # header: as-of date, run id, quality status, navigation
        assert page.inner_text(".as-of") == "2026-11-21"
        assert page.inner_text(".run-id") == "20261121-r7"
        assert page.inner_text(".quality") == "通过"
        assert page.locator(".site-nav a").count() >= 1
        for series in _chart_series(page):
            assert series, f"chart without ECharts instance on {url}"
            assert all(any(v is not None for v in s["data"]) for s in series), url
        for table in page.locator(".data-table").all():
            rows = table.locator("tbody tr")
            assert rows.count() > 0 and "暂无数据" not in rows.first.inner_text(), url
        name = f"{folder}-{rendered.url.strip('/').replace('/', '_') or 'index'}"
        shot = screenshot(page, re.sub(r"[^\w.-]", "_", name))
        assert shot.stat().st_size > 10_000
        assert watch.problems() == [], url
        page.close()


def test_demo_charts_hold_the_hand_computed_series(site, chromium):  # noqa: F811
    base, pages = site
    index = next(p for f, p in pages if f == "demo" and p.url == "/")
    page, watch = _load(chromium, _page_url(base, "demo", index))
    line, bar, area = _chart_series(page)
    # monthly totals: 09: 5000; 10: 7345.67 + 2000; 11: 1000 + 30000
    assert line == [{"name": "amount", "type": "line", "data": [5000, 9345.67, 31000]}]
    # Evidence's default sort (no sort=false): months by total, largest first: 11, 10, 09;
    # stacked by region, regions in order of first appearance
    assert [(s["name"], s["data"]) for s in bar] == [
        ("华东", [30000, 7345.67, 5000]),
        ("华南", [1000, 2000, None]),
    ]
    assert [s["name"] for s in area] == ["amount", "regions"] and area[1]["data"] == [1, 2, 2]
    assert watch.problems() == []


def test_js_formats_with_real_ssf_match_python(site, chromium):  # noqa: F811
    """Python's SSF subset against SheetJS SSF itself (what Evidence uses), on the same resolved formats."""
    base, pages = site
    index = next(p for f, p in pages if f == "demo" and p.url == "/")
    page, _ = _load(chromium, _page_url(base, "demo", index))
    column = [12345.67, 3000, 30000.5, 0.25]
    cases = [
        (v, f)
        for v in [0, 1, -1, 0.5, 1.005, 2.675, 12345.678, -1234.5, 999999.995, 64301.12, 0.1234, 4564301.12]
        for f in ["cny2", "cny0", "cny1k", "num0", "num1", "num2", "num2m", "pct0", "pct1", "pct2", "mult1",
                  '#,##0"天"', '"¥"#,##0.00"万"', '#,##0.0"万"', "0.0%", "cny", "pct", None]
    ]  # fmt: skip
    cases += [
        ("2026-11-21", "yyyy-mm-dd"),
        ("2026-11-21 08:30:05", "yyyy-mm-dd hh:mm"),
        ("2026-11-21", "mmm d/yy"),
    ]
    resolved = [resolve(f, summarize(column) if not isinstance(v, str) else None).to_json() for v, f in cases]
    js = page.evaluate(
        "cases => cases.map(([v, r]) => window.opscenterFmt(v, r))",
        [[v, r] for (v, _), r in zip(cases, resolved, strict=True)],
    )
    py = [
        format_value(
            dt.datetime.fromisoformat(v) if isinstance(v, str) else v,
            f,
            None if isinstance(v, str) else summarize(column),
        )
        for v, f in cases
    ]
    mismatches = [(c, j, p) for c, j, p in zip(cases, js, py, strict=True) if j != p]
    assert mismatches == []


def test_phone_layout_on_every_page(site, chromium):  # noqa: F811
    base, pages = site
    for folder, rendered in pages:
        url = _page_url(base, folder, rendered)
        page, watch = open_page(chromium, url, viewport=PHONE)
        page.wait_for_selector("html[data-ready='1']")
        assert phone_layout_problems(page) == [], url
        assert watch.problems() == [], url
        screenshot(page, "phone-" + re.sub(r"[^\w.-]", "_", f"{folder}-{rendered.url}"))
        page.close()


def test_csv_download_is_utf8_with_bom_and_raw_values(site, chromium):  # noqa: F811
    base, pages = site
    index = next(p for f, p in pages if f == "demo" and p.url == "/")
    page, watch = _load(chromium, _page_url(base, "demo", index))
    with page.expect_download() as info:
        page.locator(".data-table .csv-download").first.click()
    raw = Path(info.value.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8, Chinese intact
    lines = raw[3:].decode("utf-8").split("\r\n")
    assert lines[0] == "客户编号,客户名称,区域,应收余额,已收款"
    # every row (not only the page shown), raw numbers, quotes doubled as CSV wants
    assert sorted(lines[1:-1]) == [
        "C'03,王五's 咨询,华东,0,30000",
        "C001,张三财税,华东,12000.5,12345.67",
        "C002,李四商贸,华南,3000,3000",
    ]
    assert info.value.suggested_filename.endswith(".csv")
    assert watch.problems() == []


def test_print_stylesheet_shows_content_and_every_row(site, chromium):  # noqa: F811
    base, pages = site
    index = next(p for f, p in pages if f == "demo" and p.url == "/")
    page, _ = _load(chromium, _page_url(base, "demo", index))
    page.emulate_media(media="print")
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert not page.locator(".site-nav").is_visible() and not page.locator(".pager").is_visible()
    assert page.locator(".data-table").first.locator("tbody tr").count() == 3  # all rows, not page 1 of 2
    assert page.pdf(format="A4")[:4] == b"%PDF"


def test_table_sort_filter_paging_and_drill_through(site, chromium):  # noqa: F811
    base, pages = site
    index = next(p for f, p in pages if f == "demo" and p.url == "/")
    page, watch = _load(chromium, _page_url(base, "demo", index))
    table = page.locator(".data-table").first
    body = table.locator("tbody tr")

    def first_column():
        return [r.locator("td").first.inner_text() for r in body.all()]

    assert table.locator(".table-count").inner_text() == "共 3 行"
    assert body.count() == 2  # rows=2: first page of two
    assert table.locator(".pager").inner_text().count("第 1 / 2 页") == 1
    table.locator("th", has_text="已收款").click()  # ascending paid: C002 3000, C001 12345.67, C'03 30000
    assert first_column() == ["C002", "C001"]
    assert [r.locator("td").nth(4).inner_text() for r in body.all()] == ["¥3.0k", "¥12.3k"]  # cny: auto
    table.locator("th", has_text="已收款").click()  # descending
    assert first_column() == ["C'03", "C001"]
    table.locator("input.table-search").fill("华南")
    assert first_column() == ["C002"] and table.locator(".table-count").inner_text() == "共 1 行"
    table.locator("input.table-search").fill("张三")
    assert first_column() == ["C001"]
    with page.expect_navigation():
        body.first.locator("td").nth(1).click()  # whole row is the drill-through link
    assert page.url.endswith("/demo/clients/index.html?client_id=C001")
    page.wait_for_selector("html[data-ready='1']")
    assert page.inner_text("h1") == "客户 C001"
    rows = page.locator(".data-table tbody tr")
    assert [r.inner_text().split("\t") for r in rows.all()] == [
        ["2026-09-15", "¥5,000.00"],
        ["2026-10-20", "¥7,345.67"],
    ]
    assert watch.problems() == []


def test_data_quality_page_numbers(site, chromium):  # noqa: F811
    base, pages = site
    dq = next(p for f, p in pages if f == "reports" and p.url == "/data-quality")
    page, watch = _load(chromium, _page_url(base, "reports", dq))
    titles = page.locator(".bv-title").all_inner_texts()
    values = dict(zip(titles, page.locator(".bv-value").all_inner_texts(), strict=True))
    # 3 files; read 10 + 5 + 0; accepted 8 + 5; rejected 2; 2/15 = 13.33%
    assert values == {
        "本次装载文件数": "3",
        "读取行数": "15",
        "接收行数": "13",
        "拒绝行数": "2",
        "拒绝率": "13.33%",
        "整文件拒绝": "1",
    }
    tables = page.locator(".data-table")
    assert tables.nth(0).locator("tbody tr").count() == 3
    rejects = tables.nth(1).locator("tbody tr")
    assert rejects.count() == 2 and "非法金额" in rejects.first.inner_text()
    assert page.locator(".alert-negative").count() == 1 and page.locator(".alert-warning").count() == 1
    assert watch.problems() == []


def test_watch_catches_console_errors_and_foreign_requests(chromium, tmp_path):  # noqa: F811
    """The checks above can fail: a page with a script error and a foreign image is caught."""
    (tmp_path / "bad.html").write_text(
        '<html><body><img src="http://example.invalid/x.png"><script>undefinedFn();</script></body></html>',
        encoding="utf-8",
    )
    with serve_directory(tmp_path) as base:
        page, watch = open_page(chromium, base + "bad.html")
        page.close()
    assert watch.foreign_requests == ["http://example.invalid/x.png"]
    assert any("undefinedFn" in m for m in watch.console_errors)


def test_template_shell_from_file_url_shows_each_keys_page(site, chromium):  # noqa: F811
    """The one client shell, opened from file:// (no server: its data comes by <script src>), shows
    each client's own numbers; the hand-computed values are the fixture's rows."""
    _base, pages = site
    shell = next(p for f, p in pages if f == "demo" and p.kind == "shell")
    expected = {  # snapshot.sql: receivable, name, payments by date
        "C001": ("¥12,000.50", "张三财税", [["2026-09-15", "¥5,000.00"], ["2026-10-20", "¥7,345.67"]]),
        "C'03": ("¥0.00", "王五's 咨询", [["2026-11-10", "¥30,000.00"]]),
    }
    for key, (receivable, name, payments) in expected.items():
        page, errors = open_file(chromium, f"{shell.path.as_uri()}?{urlencode({'client_id': key})}")
        assert page.inner_text("h1") == f"客户 {key}" and page.title().startswith(f"客户 {key} · ")
        assert page.locator(".bv-value").all_inner_texts() == [receivable]
        assert f"客户名称：{name}" in page.inner_text("main")
        rows = page.locator(".data-table tbody tr")
        assert [r.inner_text().split("\t") for r in rows.all()] == payments
        assert page.inner_text(".as-of") == "2026-11-21" and errors == []
        page.close()


def test_template_shell_says_so_for_an_unknown_or_missing_key(site, chromium):  # noqa: F811
    _base, pages = site
    shell = next(p for f, p in pages if f == "demo" and p.kind == "shell")
    page, _errors = open_file(chromium, f"{shell.path.as_uri()}?client_id=C999")
    assert (
        page.inner_text(".key-missing")
        == "未找到客户：「C999」不在本次发布的数据中（编号不存在或已不在统计范围内）。"
    )
    assert page.locator(".data-table").count() == 0
    page.close()
    page, errors = open_file(chromium, shell.path.as_uri())
    assert page.inner_text(".key-missing") == "缺少参数 client_id：请从列表或汇总页面中的链接打开客户。"
    assert errors == []
    page.close()
    page, errors = open_file(chromium, f"{shell.path.as_uri()}?client_id=..%2F..%2Findex")  # not a path
    assert "不是有效的编号" in page.inner_text(".key-missing") and errors == []
    page.close()
