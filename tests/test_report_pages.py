"""The real report pages, as published by a real nightly run, loaded in headless Chromium.

Uses the session's published night (tests/night.py, shared with tests/test_pipeline_e2e.py), serving
its `current/pages` folder on 127.0.0.1.
"""

from __future__ import annotations

import datetime
import re
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.render import format_value
from tests.browser import PHONE, open_file, open_page, phone_layout_problems, screenshot, serve_directory

PAGES = ["index", "collections", "ar-aging", "renewals", "forecast", "progress-board", "progress-summary",
         "workload", "staff-progress", "tax-calendar", "alerts", "data-quality"]  # fmt: skip
# Tables that must have rows on any firm with six months of history.
MUST_HAVE_ROWS = {"collections": 4, "progress-summary": 1, "alerts": 1, "workload": 1, "staff-progress": 1}


@pytest.fixture(scope="module")
def site(night):
    with serve_directory(night["root"] / "published" / "current" / "pages") as base:
        yield base


def _load(chromium, url):  # noqa: F811
    page, watch = open_page(chromium, url)
    page.wait_for_selector("html[data-ready='1']")
    return page, watch


def _cards(page) -> dict[str, str]:
    """The page's BigValue cards: title -> shown value, in page order."""
    return dict(
        zip(
            page.locator(".bv-title").all_inner_texts(),
            page.locator(".bv-value").all_inner_texts(),
            strict=True,
        )
    )


def _charts(page):
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('.chart-canvas')).map(el => {
            const inst = echarts.getInstanceByDom(el);
            return inst ? inst.getOption().series.length : -1;
        })"""
    )


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_clean(site, chromium, name):  # noqa: F811
    page, watch = _load(chromium, f"{site}{name}.html")
    assert watch.problems() == []
    assert page.inner_text(".as-of") == "2026-11-20"
    assert page.inner_text(".quality").startswith("通过")  # warn-level findings are listed after it
    charts = _charts(page)
    assert all(n >= 1 for n in charts), f"a chart without an ECharts instance or series: {charts}"
    tables = page.locator(".data-table").all()
    with_rows = [t for t in tables if "暂无数据" not in t.inner_text()]  # emptySet="pass" shows the message
    assert len(with_rows) >= MUST_HAVE_ROWS.get(name, 0)
    assert tables or charts or name == "data-quality"
    _check_rates_and_cents(page, name)  # on the same load: rates as percents, no cents on forecast
    screenshot(page, f"report-{name}")
    page.close()


def test_progress_summary_drills_through_to_its_tasks(site, chromium):  # noqa: F811
    page, watch = _load(chromium, f"{site}progress-summary.html")
    first = page.locator(".data-table tbody tr").first
    link = first.locator("td").nth(5).locator("a")  # 任务数: the whole row's tasks
    task_count = int(re.sub(r"\D", "", link.inner_text()))
    link.click()
    page.wait_for_url(re.compile(r"/progress/index\.html\?key=[0-9a-f]{32}$"))
    page.wait_for_selector("html[data-ready='1']")
    detail_rows = page.locator(".data-table tbody tr")
    # the detail page lists exactly the tasks behind the summary number (page size 50)
    assert detail_rows.count() == min(task_count, 50)
    assert watch.problems() == []
    screenshot(page, "report-progress-detail")


def test_alert_links_to_client_page(site, chromium):  # noqa: F811
    page, watch = _load(chromium, f"{site}alerts.html")
    row = page.locator(".data-table tbody tr:has(a.row-link[href*='clients/'])").first
    client = row.locator("td").nth(3).inner_text()
    row.click()
    page.wait_for_url(re.compile(r"/clients/index\.html\?client_id="))
    page.wait_for_selector("html[data-ready='1']")
    assert client in page.inner_text("h2")
    assert watch.problems() == []
    screenshot(page, "report-client")


def _table_rows(table) -> tuple[list[str], list[list[str]]]:
    heads = [h.inner_text().strip() for h in table.locator("thead th").all()]
    rows = [[c.inner_text().strip() for c in r.locator("td").all()] for r in table.locator("tbody tr").all()]
    return heads, rows


def test_cockpit_month_to_date_card_compares_the_same_days(site, chromium, night):  # noqa: F811
    # independent: cash applied to (non-void) invoices 2026-11-01..20 and 2026-10-01..20, from core
    with duckdb.connect(str(night["warehouse"]), read_only=True) as con:
        mtd, prev = con.execute(
            """select
                 sum(a.applied_amount) filter (where a.applied_date between '2026-11-01' and '2026-11-20'),
                 sum(a.applied_amount) filter (where a.applied_date between '2026-10-01' and '2026-10-20')
               from core.fct_payment_applications a join core.fct_invoices i using (invoice_id)
               where not i.is_void"""
        ).fetchone()
    page, watch = _load(chromium, f"{site}index.html")
    card = page.locator(".big-value", has_text="本月回款")
    assert card.locator(".bv-title").inner_text() == "本月回款（本月至今）"

    # 四舍五入 on the exact decimal amounts (float round() would turn 0.045 into 0.04)
    def wan(amount):
        return float((amount / 10000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))

    assert card.locator(".bv-value").inner_text() == format_value(wan(mtd), '"¥"#,##0.00"万"')
    comparison = card.locator(".bv-comparison").inner_text()
    change = wan(mtd - prev)
    assert comparison.endswith("较上月同期")
    assert format_value(abs(change), '"¥"#,##0.00"万"') in comparison
    assert "较上月同期（2026-10-01 至 2026-10-20" in page.inner_text("main")
    # every card opens the page behind it
    links = {
        a.locator(".bv-title").inner_text(): a.get_attribute("href") for a in page.locator("a.bv-link").all()
    }
    assert links["待处理预警"] == "alerts.html" and links["最近一月续费率"] == "renewals.html"
    with page.expect_navigation():
        page.locator("a.bv-link", has_text="待处理预警").click()
    assert page.url.endswith("/alerts.html")
    assert watch.problems() == []


def test_cockpit_collection_rate_card_is_the_last_full_month_as_a_percent(site, chromium, night):  # noqa: F811
    # independent: October 2026 (the last full month on 2026-11-20), from core: cash applied by the
    # as-of date to the (non-void) invoices issued in October ÷ their amount
    with duckdb.connect(str(night["warehouse"]), read_only=True) as con:
        rate = con.execute(
            """select (select coalesce(sum(a.applied_amount), 0) from core.fct_payment_applications a
                       join core.fct_invoices i using (invoice_id)
                       where not i.is_void and i.issue_date between '2026-10-01' and '2026-10-31'
                         and a.applied_date <= '2026-11-20')
                    / (select sum(amount) from core.fct_invoices
                       where not is_void and issue_date between '2026-10-01' and '2026-10-31')"""
        ).fetchone()[0]
    page, watch = _load(chromium, f"{site}index.html")
    shown = page.locator(".big-value", has_text="最近完整月收款率").locator(".bv-value").inner_text()
    assert shown == f"{float(rate) * 100:.1f}%"  # e.g. 79.5%, never 0.795
    assert watch.problems() == []


def test_renewals_cards_and_segment_chart_show_the_upcoming_list(site, chromium, night):  # noqa: F811
    # independent: the upcoming-renewals list itself (not the summary mart the page reads)
    with duckdb.connect(str(night["warehouse"]), read_only=True) as con:
        n, value, churn = con.execute(
            "select count(*), coalesce(sum(annualized_value), 0),"
            " count(*) filter (where segment = 'churn_risk')"
            " from marts.mart_renewals_upcoming"
        ).fetchone()
        per_segment = dict(
            con.execute(
                "select segment_cn, count(*) from marts.mart_renewals_upcoming group by segment_cn"
            ).fetchall()
        )
    page, watch = _load(chromium, f"{site}renewals.html")
    cards = _cards(page)
    assert cards["窗口内到期合同"] == format_value(n, "num0")
    # the window comes from the mart (dbt var renewal_window_days, 90 by default), not from page text
    assert "未来 90 天内到期、尚未续签的合同" in page.locator("body").inner_text()
    assert cards["年化金额"] == format_value(round(float(value) / 10000, 2), '"¥"#,##0.00"万"')
    assert cards["流失风险合同"] == format_value(churn, "num0")
    bars = page.evaluate(
        """() => { const o = echarts.getInstanceByDom(document.querySelector('.chart-canvas')).getOption();
                   return [o.xAxis[0].data, o.series[0].data.map(d => Array.isArray(d) ? d[1] : d)]; }"""
    )
    # every segment is on the chart, most urgent first, empty ones at 0
    assert bars[0] == ["流失风险", "高价值", "潜力"]
    assert [float(v) for v in bars[1]] == [per_segment.get(s, 0) for s in bars[0]]
    assert watch.problems() == []


# template pages, reached through the first link to them on a listing page
TEMPLATES = {
    "client": ("alerts", "clients/"),
    "progress-detail": ("progress-summary", "progress/"),
    "progress-rollup-detail": ("progress-summary", "progress-rollup/"),
}
PERCENT = re.compile(r"-?[\d,]+(\.\d+)?%")
CENTS = re.compile(r"-?¥[\d,]+\.\d\d")


def _page_url(site, chromium, name):  # noqa: F811
    return site + _first_link(site, chromium, *TEMPLATES[name]) if name in TEMPLATES else f"{site}{name}.html"


def _check_rates_and_cents(page, name: str) -> None:
    """Every rate column and rate card reads as a percent (not a bare ratio like 0.83); the forecast
    page shows no amount to the cent (¥336,297.86), in tables or on cards."""
    checked = 0
    for table in page.locator(".data-table").all():
        heads, rows = _table_rows(table)
        for j, head in enumerate(heads):
            if "率" not in head or "率变化" in head:
                continue
            for row in rows:
                if j < len(row) and row[j] not in ("—", "-", "", "暂无数据"):
                    assert PERCENT.fullmatch(row[j]), f"{name}: {head} shows {row[j]!r}"
                    checked += 1
        if name == "forecast":
            for row in rows:
                assert not any(CENTS.fullmatch(c) for c in row), f"cent precision: {row}"
    for card in page.locator(".big-value").all():
        title, value = card.locator(".bv-title").inner_text(), card.locator(".bv-value").inner_text().strip()
        if "率" in title and value not in ("—", "-", "", "暂无数据"):
            assert PERCENT.fullmatch(value), f"{name}: card {title} shows {value!r}"
            checked += 1
        if name == "forecast":
            assert not CENTS.fullmatch(value), f"cent precision on card {title}: {value!r}"
    if name in ("collections", "index", "renewals", "progress-summary"):
        assert checked > 0


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_rates_shown_as_percent_on_template_pages(site, chromium, name):  # noqa: F811
    """The rate rule of test_page_loads_clean on the per-key template pages."""
    page, _ = _load(chromium, _page_url(site, chromium, name))
    _check_rates_and_cents(page, name)
    page.close()


def test_drill_through_opens_exactly_the_clicked_cell(site, chromium):  # noqa: F811
    page, watch = _load(chromium, f"{site}progress-summary.html")
    table = page.locator(".data-table").first
    heads, _ = _table_rows(table)
    col = heads.index("已延迟")
    cell = table.locator(f"tbody tr td:nth-child({col + 1}) a").first
    count = int(cell.inner_text().replace(",", ""))
    row_total = int(
        cell.locator("xpath=ancestor::tr").locator(f"td:nth-child({heads.index('任务数') + 1})").inner_text()
    )
    cell.click()
    page.wait_for_url(re.compile(r"/progress/index\.html\?key=[0-9a-f]{32}$"))
    page.wait_for_selector("html[data-ready='1']")
    assert f"已延迟：共 {count} 项任务" in page.inner_text("main")
    assert page.locator(".data-table .table-count").inner_text() == f"共 {count} 行"  # every page of it
    rows = page.locator(".data-table tbody tr")
    assert rows.count() == min(count, 50)
    states = {r.locator("td").nth(3).inner_text() for r in rows.all()}
    assert states <= {"🔴 已延迟", "⚪ 已完成（延迟）"}, states
    assert count <= row_total
    assert watch.problems() == []


@pytest.mark.parametrize(
    ("dimension", "cell", "states", "column"),
    [
        ("服务类型", "任务数", None, "服务类型"),
        ("员工", "已延迟", {"🔴 已延迟", "⚪ 已完成（延迟）"}, "员工"),
        ("部门", "已完成", {"⚪ 已完成"}, None),
        ("行业", "未完成", {"🟠 临期", "进行中", "未开始"}, None),
    ],
)
def test_rollup_drill_through_opens_exactly_the_clicked_cell(
    site, chromium, night, dimension, cell, states, column
):  # noqa: F811
    """进度汇总表's one-dimension roll-up: a number opens exactly the tasks it counts (that row × status)."""
    page, watch = _load(chromium, f"{site}progress-summary.html")
    table = page.locator(".data-table").nth(1)
    heads, _ = _table_rows(table)
    assert heads[:3] == ["所属期", "维度", "名称"]
    table.locator(".table-search").fill(dimension)  # rows of that dimension (its label is in 维度)
    links = table.locator(f"tbody tr td:nth-child({heads.index(cell) + 1}) a")
    assert links.count() > 0, f"no {cell} link among the {dimension} rows"
    link = links.first
    row = link.locator("xpath=ancestor::tr")
    period, label, name = (row.locator(f"td:nth-child({i})").inner_text() for i in (1, 2, 3))
    assert label == dimension
    count = int(link.inner_text().replace(",", ""))
    link.click()
    page.wait_for_url(re.compile(r"/progress-rollup/index\.html\?key=[0-9a-f]{32}$"))
    page.wait_for_selector("html[data-ready='1']")
    main = page.inner_text("main")
    assert f"{period} · {dimension}：{name}" in main
    assert f"{'全部任务' if cell == '任务数' else cell}：共 {count} 项任务" in main
    assert page.locator(".data-table .table-count").inner_text() == f"共 {count} 行"
    detail = page.locator(".data-table").first
    dheads, drows = _table_rows(detail)
    assert len(drows) == min(count, 50)
    if states:
        assert {r[dheads.index("状态")] for r in drows} <= states
    if column:
        assert {r[dheads.index(column)] for r in drows} == {name}
    # independent of the marts' keys: the same tasks counted from the published detail by their columns
    field = {"服务类型": "service_type_cn", "员工": "staff_name", "部门": "coalesce(team, '未分配')",
             "行业": "coalesce(industry_cn, '未知')"}[dimension]  # fmt: skip
    state = {"任务数": "true", "已延迟": "state = 'delayed'", "已完成": "state = 'completed'",
             "未完成": "state in ('not_started', 'in_progress')"}[cell]  # fmt: skip
    with duckdb.connect(str(night["warehouse"]), read_only=True) as con:
        expected = con.execute(
            f"select count(*) from marts.mart_progress_detail where period = ? and {field} = ? and {state}",
            [period, name],
        ).fetchone()[0]
    assert count == expected
    assert watch.problems() == []


_FIRST_LINKS: dict[tuple[str, str, str], str] = {}


def _first_link(site, chromium, page_name: str, pattern: str) -> str:  # noqa: F811
    """The first link matching `pattern` on a page (read once per page and pattern in the module)."""
    key = (site, page_name, pattern)
    if key not in _FIRST_LINKS:
        page, _ = _load(chromium, f"{site}{page_name}.html")
        script = f"() => document.querySelector(\"a[href*='{pattern}']\").getAttribute('href')"
        _FIRST_LINKS[key] = page.evaluate(script)
        page.close()
    return _FIRST_LINKS[key]


@pytest.mark.parametrize("name", [*PAGES, *TEMPLATES])
def test_page_reads_on_a_phone(site, chromium, name):  # noqa: F811
    """390×844: menu instead of sidebar, cards and charts fit, wide tables scroll in their card."""
    url = _page_url(site, chromium, name)
    page, watch = open_page(chromium, url, viewport=PHONE)
    page.wait_for_selector("html[data-ready='1']")
    assert phone_layout_problems(page) == [], url
    assert watch.problems() == []
    screenshot(page, f"phone-report-{name}")
    page.close()


def test_dbt_docs_are_published_and_linked_from_the_quality_page(site, chromium):  # noqa: F811
    page, watch = _load(chromium, f"{site}data-quality.html")
    with page.expect_navigation():
        page.locator("a", has_text="dbt 模型文档").click()
    assert page.url.split("#")[0].endswith("/dbt-docs/index.html")  # dbt's app adds #!/overview
    # dbt's static page carries the manifest: a mart's page opens without any other file
    page.goto(page.url.split("#")[0] + "#!/model/model.opscenter.mart_collections_by_period")
    listed = "() => document.body.innerText.includes('collected_amount')"
    page.wait_for_function(listed, timeout=60_000)
    assert watch.foreign_requests == []  # usage tracking off: nothing leaves the machine
    # dbt's own page asks for two unrendered template URLs ({{ getIcon(...) }}, ${require(favicon)})
    dbt_bugs = [u for u in watch.failed_requests if "%7B%7B" in u or "require(" in u]
    assert [u for u in watch.failed_requests if u not in dbt_bugs] == []
    assert all("Failed to load resource" in m for m in watch.console_errors)
    screenshot(page, "report-dbt-docs")


def test_client_and_progress_shells_from_file_url_show_the_marts_numbers(night, chromium):  # noqa: F811
    """The published folder opened from file:// (no server): the client shell and the progress shell
    show, for two keys each, numbers computed here from the warehouse without the pages' queries."""
    pages = night["root"] / "published" / "current" / "pages"
    with duckdb.connect(str(night["warehouse"]), read_only=True) as con:
        clients = con.execute(
            """select client_id, sum(open_receivable_amount), count(*) from core.fct_invoices
               group by client_id order by count(*) desc, client_id limit 2"""
        ).fetchall()
        payments = dict(
            con.execute("select resolved_client_id, count(*) from core.fct_payments group by 1").fetchall()
        )
        period = con.execute(
            "select max(period) from marts.mart_progress_summary where period <= '2026-11'"
        ).fetchone()[0]
        biggest = con.execute(
            """select detail_key, summary_key from marts.mart_progress_summary where period = ?
               order by task_count desc, summary_key limit 1""",
            [period],
        ).fetchone()
        delayed = con.execute(  # among the three periods the drill pages are published for
            """select delayed_key, summary_key from marts.mart_progress_summary
               where period in (select distinct period from marts.mart_progress_summary where period <= ?
                                order by period desc limit 3)
                 and delayed_count > 0 order by delayed_count desc, summary_key limit 1""",
            [period],
        ).fetchone()
        expected_tasks = {
            key: con.execute(
                f"select count(*) from marts.mart_progress_detail where summary_key = ? and {cond}", [summary]
            ).fetchone()[0]
            for (key, summary), cond in ((biggest, "true"), (delayed, "state = 'delayed'"))
        }
    assert len(clients) == 2 and all(n > 0 for n in expected_tasks.values())
    shell = (pages / "clients" / "index.html").as_uri()
    for client_id, open_receivable, invoices in clients:
        page, errors = open_file(chromium, f"{shell}?client_id={client_id}")
        cards = _cards(page)
        assert cards["未收余额"] == format_value(open_receivable, '"¥"#,##0.00')
        assert f"（{client_id}）" in page.inner_text("h2")

        def section(title: str, page=page):  # the table after the section heading (an empty one has no count)
            return page.locator(f"h3:text-is('{title}') + .data-table")

        assert section("账单").locator(".table-count").inner_text() == f"共 {invoices} 行"
        if client_id in payments:
            assert section("收款").locator(".table-count").inner_text() == f"共 {payments[client_id]} 行"
        else:
            assert section("收款").inner_text() == "暂无数据"
        assert errors == []
        page.close()
    shell = (pages / "progress" / "index.html").as_uri()
    for (key, _summary), subset in ((biggest, "全部任务"), (delayed, "已延迟")):
        page, errors = open_file(chromium, f"{shell}?key={key}")
        n = expected_tasks[key]
        assert f"{subset}：共 {n} 项任务" in page.inner_text("main")
        assert page.locator(".data-table .table-count").inner_text() == f"共 {n} 行"
        assert page.locator(".data-table tbody tr").count() == min(n, 50)
        assert errors == []
        page.close()


def test_day_counts_counted_in_the_page_equal_the_marts_on_a_real_night(night, chromium):  # noqa: F811
    """逾期天数, 最长逾期天数 and 延迟天数 move with the as-of date: the data files hold the due date
    they count from (orchestration/render/relative.py) and the page counts the days to the version's
    as-of date. On the night's client with the most overdue invoices, the card and both tables show
    exactly the warehouse's numbers, and its data file holds dates, not those numbers."""
    pages = night["root"] / "published" / "current" / "pages"
    with duckdb.connect(str(night["warehouse"]), read_only=True) as con:
        client_id, longest = con.execute(
            """select client_id, max(days_past_due) from core.fct_invoices
               where not is_void and open_receivable_amount > 0 and days_past_due > 0
               group by client_id order by count(*) desc, client_id limit 1"""
        ).fetchone()
        invoice_days = [
            d
            for (d,) in con.execute(
                """select days_past_due from core.fct_invoices where client_id = ?
               order by issue_date desc, invoice_id desc limit 12""",
                [client_id],
            ).fetchall()
        ]
        task_days = [
            d
            for (d,) in con.execute(
                """select days_late from core.fct_tasks where client_id = ?
               order by due_date desc, task_id desc limit 15""",
                [client_id],
            ).fetchall()
        ]
        open_tasks = con.execute(
            "select count(*) from core.fct_tasks where is_open and days_late > 0"
        ).fetchone()[0]
    data = (pages / "clients" / "data" / f"{client_id}.js").read_text(encoding="utf-8")
    assert '{\\"s\\":' in data and "data-since=" in data  # dates in the file, counted in the page
    assert format_value(longest, '#,##0"天"') not in data.split("最长逾期天数")[1].split("</div></div>")[0]
    page, errors = open_file(chromium, f"{(pages / 'clients' / 'index.html').as_uri()}?client_id={client_id}")
    assert _cards(page)["最长逾期天数"] == format_value(longest, '#,##0"天"')

    def column(title: str, heading: str) -> list[str]:
        table = page.locator(f"h3:text-is('{heading}') + .data-table")
        i = (
            table.locator("th")
            .all_inner_texts()
            .index(next(t for t in table.locator("th").all_inner_texts() if t.startswith(title)))
        )
        return table.locator(f"tbody tr td:nth-child({i + 1})").all_inner_texts()

    assert column("逾期天数", "账单") == [format_value(d, "num0") for d in invoice_days]
    assert any(d > 0 for d in invoice_days)
    assert column("延迟天数", "服务任务（最近 30 条）") == [format_value(d, "num0") for d in task_days]
    assert errors == [] and open_tasks > 0
    page.close()


def test_client_tasks_cut_keeps_each_clients_30_latest_tasks():
    """The client page's 服务任务 query ranks only the tasks due on or after the due date of the client's
    30th latest dated task (the all-keys form ranks ~2.8 M of 8.8 M tasks at 100,000 clients). On
    hand-made tasks, for all clients at once as the renderer runs it and for one client as Evidence
    does: the rows, in order, of the plain 30 latest by due date and task id; the cut leaves tasks out."""
    from orchestration.render.page_source import parse_page
    from orchestration.render.queries import KEYS_TABLE, expand, keyed_query

    page = Path(__file__).resolve().parent.parent / "reports" / "pages" / "clients" / "[client_id].md"
    sql = parse_page(page).queries["tasks"]
    assert sql.endswith("limit 30")
    plain = sql[: sql.index("from opscenter.fct_tasks")] + (
        "from opscenter.fct_tasks where client_id = '${params.client_id}' "
        "order by due_date desc, task_id desc limit 30"
    )
    queries = {"tasks": sql, "plain": plain, "uncut": sql.replace("limit 30", "limit 1000")}
    day = datetime.date(2026, 11, 20)  # tasks due on the 1st and the 28th of each month
    months = {  # client -> tasks due per month, newest first (one month apart), then undated tasks
        "A": ([3] * 15, 0),  # 45 tasks: the 30th latest is the 10th month's last
        "B": ([2] * 12 + [1], 0),  # 25: no cut
        "C": ([10, 10, 9, 5, 10], 0),  # 29 down to the 3rd month: the 30th is tied with the 31st
        "D": ([5, 5, 5, 5], 3),  # 20 dated, 3 undated: no cut
        "E": ([10, 10, 10, 10], 2),  # undated tasks rank last
        "F": ([], 0),  # no tasks
    }
    rows = []
    for client, (per_month, undated) in months.items():
        for back, n in enumerate(per_month):
            year, month = divmod(day.year * 12 + day.month - 1 - back, 12)
            due = datetime.date(year, month + 1, 28)
            for i in range(n):  # ties on the due date within a month: ordered by task id
                rows.append((f"{client}-{back:02}-{i}", client, due if i % 2 else due.replace(day=1)))
        rows += [(f"{client}-nd-{i}", client, None) for i in range(undated)]
    con = duckdb.connect()
    con.execute("create schema opscenter")
    con.execute(
        "create table opscenter.fct_tasks (task_id varchar, client_id varchar, due_date date, "
        "period varchar, stage_cn varchar, assignee_name varchar, status_as_of_cn varchar, days_late bigint, "
        "is_open boolean)"
    )
    con.executemany(
        "insert into opscenter.fct_tasks "
        "values (?, ?, ?, strftime(?, '%Y-%m'), '记账', '张三', '进行中', 1, true)",
        [(t, c, d, d or day) for t, c, d in rows],
    )
    keys = sorted(months)
    con.execute(
        f"create temp table {KEYS_TABLE} as select unnest(range(?)) as __pos, unnest(?::varchar[]) as __key",
        [len(keys), keys],
    )
    cut, whole = (
        con.execute(keyed_query(q, queries, "client_id", page)).fetchall() for q in ("tasks", "plain")
    )
    assert cut == whole
    shown = {k: [r[2:] for r in whole if r[0] == k] for k in keys}
    assert {k: len(v) for k, v in shown.items()} == {"A": 30, "B": 25, "C": 30, "D": 23, "E": 30, "F": 0}
    for k in keys:
        one, uncut = (
            con.execute(expand(q, queries, {"client_id": k}, page)).fetchall() for q in ("tasks", "uncut")
        )
        assert one == shown[k]
        # what the cut keeps before ranking: A's 30, C's 30 and the task due the same day as its 30th,
        # E's 30 and its undated tasks (they rank last: kept, never shown), all of B's and D's
        assert len(uncut) == {"A": 30, "B": 25, "C": 31, "D": 23, "E": 32, "F": 0}[k]


def test_alert_texts_filled_in_by_the_page_equal_the_marts_messages_on_a_real_night(night, chromium):  # noqa: F811
    """Alert texts with a day count inside (已逾期 N 天, 剩 N 天) are published as mart_alerts'
    message_template and the date the count runs from / to (relative.py): on the night's client with
    the most such alerts, the 待处理预警 table shows exactly the mart's messages, in the page's order,
    while its data file holds the templates and none of those messages."""
    pages = night["root"] / "published" / "current" / "pages"
    with duckdb.connect(str(night["warehouse"]), read_only=True) as con:
        (client_id,) = con.execute(
            """select client_id from marts.mart_alerts where message_template is not null
               group by client_id order by count(*) desc, client_id limit 1"""
        ).fetchone()
        alerts = con.execute(
            """select message, message_template is not null from marts.mart_alerts where client_id = ?
               order by severity_rank, alert_id limit 10""",
            [client_id],
        ).fetchall()
    data = (pages / "clients" / "data" / f"{client_id}.js").read_text(encoding="utf-8")
    templated = [m for m, t in alerts if t]
    assert templated and "{days}" in data
    assert [m for m in templated if m in data] == []  # the numbers are not in the file
    page, errors = open_file(chromium, f"{(pages / 'clients' / 'index.html').as_uri()}?client_id={client_id}")
    table = page.locator("h3:text-is('待处理预警') + .data-table")
    i = (
        table.locator("th")
        .all_inner_texts()
        .index(next(t for t in table.locator("th").all_inner_texts() if t.startswith("说明")))
    )
    assert table.locator(f"tbody tr td:nth-child({i + 1})").all_inner_texts() == [m for m, _ in alerts]
    assert errors == []
    page.close()


def test_template_data_files_built_in_sql_equal_the_python_formatter_on_a_real_night(
    night, tmp_path, monkeypatch
):
    """The three template pages (clients, progress, progress roll-up) on the night's published
    snapshot: every key's data file with the tables' rows built in SQL is byte-identical to the one
    formatted in Python, and the SQL path did build the tables of every client and drill key."""
    from tests.test_render import _render_both

    reports = Path(__file__).resolve().parent.parent / "reports"
    pages = tmp_path / "src" / "pages"
    pages.mkdir(parents=True)
    for folder in ("clients", "progress", "progress-rollup"):
        shutil.copytree(reports / "pages" / folder, pages / folder)
    (pages / "progress-summary.md").write_text("---\ntitle: 进度汇总\n---\n\nx\n", encoding="utf-8")
    shutil.copytree(reports / "sources", tmp_path / "src" / "sources")
    snapshot = night["root"] / "published" / "current" / "snapshot.duckdb"
    rendered, sql_out, py_out, built = _render_both(pages, snapshot, tmp_path, monkeypatch)
    data = [p for p in rendered if p.kind == "data"]
    folders = {p.path.parent.parent.name for p in data}
    assert folders == {"clients", "progress", "progress-rollup"} and len(data) > 100
    for p in data:
        rel = p.path.relative_to(sql_out)
        assert (sql_out / rel).read_bytes() == (py_out / rel).read_bytes(), rel
    by_query = {}
    for key, (query, _line) in built:
        by_query.setdefault(query, set()).add(key)
    for query in ("client_alerts", "contracts", "invoices", "payments"):  # an empty table: nothing to build
        with_rows = {p.params["client_id"] for p in data if p.row_counts.get(query)}
        assert with_rows and by_query[query] == with_rows, query
    # clients' tasks and both drill pages' tasks
    assert len(by_query["tasks"]) == sum(bool(p.row_counts.get("tasks")) for p in data) > 100
