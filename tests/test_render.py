"""Offline renderer: each supported component, formats, template pages, ${} and SQL errors."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.render import PageQueryError, RenderError, format_value, render_site
from orchestration.render.formats import summarize
from tests.browser import data_quality_only

FIXTURES = Path(__file__).parent / "fixtures" / "render"
REPORTS = Path(__file__).resolve().parent.parent / "reports"
CONTEXT = {"as_of_date": "2026-11-21", "run_id": "20261121-r7", "quality_status": "未通过"}


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("snap") / "snapshot.duckdb"
    con = duckdb.connect(str(path))
    con.execute((FIXTURES / "snapshot.sql").read_text(encoding="utf-8"))
    con.close()
    return path


@pytest.fixture(scope="module")
def demo(snapshot, tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    pages = render_site(FIXTURES / "pages", snapshot, out, CONTEXT)
    return out, {p.url: p for p in pages}


def _json(html: str) -> dict[str, object]:
    return {
        m.group(1): json.loads(m.group(2).replace("<\\/", "</"))
        for m in re.finditer(r'<script type="application/json" id="([^"]+)">(.*?)</script>', html, re.S)
    }


def _key_page(out: Path, folder: str, key: str) -> dict:
    """A template page's data file for one key: {key, title, body, toc} (site.py)."""
    text = (out / folder / "data" / f"{key}.js").read_text(encoding="utf-8")
    prefix = "window.opscenterKeyPage = "
    assert text.startswith(prefix) and text.endswith(";\n")
    return json.loads(text[len(prefix) : -2])


def _texts(html: str, cls: str) -> list[str]:
    return re.findall(rf'<div class="{cls}[^"]*">(.*?)</div>', html)


Q1 = "```sql q\nselect 1 as a\n```\n"  # a one-row query, then the page body from line 4
Q0 = "```sql q\nselect 1 as a where false\n```\n"  # an empty one


def _page(tmp_path: Path, name: str, text: str) -> Path:
    pages = tmp_path / "pages"
    (pages / name).parent.mkdir(parents=True, exist_ok=True)
    (pages / name).write_text(text, encoding="utf-8")
    return pages


# --- formats --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        # Evidence built-in formats (component-utilities builtInFormats.js) through SSF
        (1234567.891, "cny2", "¥1,234,567.89"),
        (-1234.5, "cny2", "-¥1,234.50"),
        (1234.5, "cny0", "¥1,235"),
        (64301.12, "cny1k", "¥64.3k"),
        (0.1234, "pct1", "12.3%"),
        (0.1234, "pct0", "12%"),
        (Decimal("0.12345"), "pct2", "12.35%"),
        (1234567, "num0", "1,234,567"),
        (1234.56, "num1", "1,234.6"),
        (2.675, "num2", "2.67"),  # SSF rounds the binary float, as Evidence shows it
        (4564301.12, "num1m", "4.6M"),
        (3.25, "mult1", "3.3x"),
        # Excel-style codes
        (45, '#,##0"天"', "45天"),
        (1234.5678, '"¥"#,##0.00"万"', "¥1,234.57万"),
        (0.5, "0.0%", "50.0%"),
        (dt.date(2026, 11, 21), "yyyy-mm-dd", "2026-11-21"),
        (dt.datetime(2026, 11, 21, 8, 30, 5), "yyyy-mm-dd hh:mm", "2026-11-21 08:30"),
        (dt.date(2026, 11, 21), 'yyyy"年"m"月"', "2026年11月"),
        # auto formats without a column (fmt() in text): currency with no decimals, pct whole
        (330123.4, "cny", "¥330,123"),
        (0.1234, "pct", "12%"),
        # Evidence's defaults: null "-", dates yyyy-mm-dd, booleans true/false
        (None, "cny2", "-"),
        (7, None, "7"),
        (2.5, None, "2.5"),
        (12345.678, None, "12,345.68"),  # no column: fallback toLocaleString, 2 decimals at most
        (True, None, "true"),
        (dt.date(2026, 11, 21), None, "2026-11-21"),
        (dt.datetime(2026, 11, 21, 8, 30, 5), None, "2026-11-21"),
        ("文本", None, "文本"),
    ],
)
def test_formats(value, fmt, expected):
    assert format_value(value, fmt) == expected


def test_auto_formats_look_at_the_whole_column():
    # cny (auto) on a column with median 12,345.67: thousands with one decimal, as Evidence shows ¥330k
    column = [Decimal("12345.67"), Decimal("3000.00"), Decimal("30000.00")]
    s = summarize(column)
    assert [format_value(v, "cny", s) for v in column] == ["¥12.3k", "¥3.0k", "¥30.0k"]
    # no fmt: integers stay integers, a column with decimals gets 3 significant digits at the median
    assert format_value(12, None, summarize([12, 7, 30])) == "12"
    assert format_value(0.5, None, summarize([0.5, 0.25])) == "0.500"
    # a column named like growth_pct takes Evidence's format tag
    assert format_value(0.25, None, summarize([0.25]), "growth_pct") == "25%"


def test_auto_format_of_a_negative_or_nan_column_does_not_crash():
    # Evidence: Math.log10 of a negative (or NaN) median is NaN, so the auto code gets no decimals
    column = [-5.25, -3.5, 1.0]
    assert [format_value(v, None, summarize(column)) for v in column] == ["-5", "-4", "1"]
    # a NaN cell shows as JS's toLocaleString does, whatever the column's format
    column = [float("nan"), 1.5]
    assert [format_value(v, None, summarize(column)) for v in column] == ["NaN", "2"]
    assert format_value(float("nan"), "num2") == "NaN"


@pytest.mark.parametrize("fmt", ["wan", "days", "usd9", "date"])
def test_unknown_fmt_is_an_error(fmt):
    with pytest.raises(ValueError, match=f"unknown fmt '{fmt}'"):
        format_value(1, fmt)


@pytest.mark.parametrize("code", ["#,##0;(#,##0)", "0.00E+00", "[Red]0", "# ?/?", "0.0元"])
def test_format_codes_outside_the_supported_subset_fail(code):
    with pytest.raises(ValueError):
        format_value(1, code)


# --- components -----------------------------------------------------------------------------------


def test_header_nav_and_files(demo):
    out, pages = demo
    assert sorted(pages) == ["/", "/clients/C'03", "/clients/C001", "/clients/C002", "/clients/index.html"]
    assert [pages[u].kind for u in ("/", "/clients/C001", "/clients/index.html")] == ["page", "data", "shell"]
    assert (out / "assets" / "echarts.min.js").stat().st_size > 500_000
    # the template page's one HTML file: header, navigation, and the box its key's data fills
    html = (out / "clients" / "index.html").read_text(encoding="utf-8")
    assert '<div class="key-page" id="key-page" data-param="client_id" data-data="data/"' in html
    assert not (out / "clients" / "C001.html").exists()
    # the run's facts live in assets/run.js (per version), so page files can be shared between versions
    assert '<dd class="as-of" data-run="as_of_date"></dd>' in html
    run = (out / "assets" / "run.js").read_text(encoding="utf-8")
    assert json.loads(run.split("=", 1)[1].rstrip(";\n")) == {
        "as_of_date": "2026-11-21",
        "run_id": "20261121-r7",
        "quality_status": "未通过",
        "quality_ok": False,
    }
    assert 'src="../assets/run.js"' in html and 'src="../assets/ssf.js"' in html
    assert 'src="../assets/echarts.min.js"' in html  # relative: works from any folder, no CDN
    assert re.search(r'<a href="../index.html"[^>]*>演示首页</a>', html)
    assert "http://" not in html and "https://" not in html


def test_big_value_inline_value_and_if(demo):
    out, pages = demo
    html = (out / "index.html").read_text(encoding="utf-8")
    assert _texts(html, "bv-title") == ["累计收款", "收款笔数"]
    # 5000 + 7345.67 + 2000 + 1000 + 30000 = 45345.67 -> ¥4.53万
    assert _texts(html, "bv-value") == ["¥4.53万", "5"]
    assert _texts(html, "bv-comparison") == ["▲ 12.3% 较上月"]
    assert html.count('<div class="big-values">') == 1  # consecutive BigValues share a row
    assert (
        '本期共收款 ¥45,345.67，笔数 5，客户 3 家；最大客户 <span class="value">王五&#x27;s 咨询</span>'
        in html
    )
    assert '<div class="alert alert-positive" role="note"><p>收款超过四万元。</p>' in html
    assert "收款不足四万元" not in html
    assert pages["/"].row_counts == {"totals": 1, "monthly": 5, "by_month": 3, "clients": 3}


def test_charts_embed_their_rows(demo):
    out, _ = demo
    data = _json((out / "index.html").read_text(encoding="utf-8"))
    line, bar, area = data["chart-1-spec"], data["chart-2-spec"], data["chart-3-spec"]
    # by_month is `select ... from ${monthly}`: the monthly query substituted as a subquery
    assert line["kind"] == "line" and not line["stacked"]
    assert line["yFmt"] == {"code": '#,##0"元"', "div": 1.0, "suffix": "", "kind": "code", "date": False}
    # sort=false: the query's order
    assert line["rows"] == [["2026-09", 5000.0], ["2026-10", 9345.67], ["2026-11", 31000.0]]
    assert bar["kind"] == "bar" and bar["series"] == "region" and bar["stacked"]
    assert bar["columns"] == ["month", "amount", "region"]
    # Evidence's default sort=true on a text x axis: by the month's total, largest first
    # (2026-11: 31000, 2026-10: 9345.67, 2026-09: 5000), rows of one month in query order
    assert bar["rows"] == [
        ["2026-11", 30000.0, "华东"],
        ["2026-11", 1000.0, "华南"],
        ["2026-10", 7345.67, "华东"],
        ["2026-10", 2000.0, "华南"],
        ["2026-09", 5000.0, "华东"],
    ]
    assert bar["yFmt"]["code"] == '"¥"#,##0'  # cny0
    assert area["kind"] == "area" and area["y"] == ["amount", "regions"]
    assert [r[2] for r in area["rows"]] == [1, 2, 2]


def test_data_table_columns_formats_and_drill_links(demo):
    out, _ = demo
    table = _json((out / "index.html").read_text(encoding="utf-8"))["table-4-data"]
    assert [c["title"] for c in table["columns"]] == ["客户编号", "客户名称", "区域", "应收余额", "已收款"]
    assert [c["num"] for c in table["columns"]] == [False, False, False, True, True]
    assert table["pageSize"] == 2 and table["search"] is True
    # a string shown as it is: the text alone (tables.cell_json), opscenter.js reads it as [text, text]
    c001 = next(r for r in table["rows"] if r["c"][0] == "C001")
    assert c001["h"] == "clients/index.html?client_id=C001"
    # raw value for sorting, formatted text for display: 5000 + 7345.67
    # cny (auto) looks at the column: paid is 12,345.67 / 3,000 / 30,000, median 12,345.67 -> ¥12.3k
    assert c001["c"][3] == [12000.5, "¥12,000.50"] and c001["c"][4] == [12345.67, "¥12.3k"]
    assert table["download"] is True
    client = _json(_key_page(out, "clients", "C001")["body"])["table-1-data"]
    # the date shown as its raw text is the text alone; the amount is [raw, shown]
    assert [r["c"] for r in client["rows"]] == [
        ["2026-09-15", [5000.0, "¥5,000.00"]],
        ["2026-10-20", [7345.67, "¥7,345.67"]],
    ]


def test_details_each_and_markdown_links(demo):
    out, _ = demo
    html = (out / "index.html").read_text(encoding="utf-8")
    assert '<details class="details"><summary>区域说明</summary><ul>\n<li>王五&#x27;s 咨询：华东</li>' in html
    assert "<li>李四商贸：华南</li>" in html
    assert '<a href="clients/index.html?client_id=C001">张三财税</a>' in html
    assert '<a href="../index.html">返回首页</a>' in _key_page(out, "clients", "C002")["body"]


def test_template_pages_one_per_value_with_quote_safe_params(demo):
    out, pages = demo
    page = pages["/clients/C'03"]
    assert page.title == "客户 C'03" and page.params == {"client_id": "C'03"}
    assert page.row_counts == {"client": 1, "payments": 1}
    data = _key_page(out, "clients", "C'03")
    assert page.path == out / "clients" / "data" / "C'03.js"
    assert data["key"] == "C'03" and data["title"] == "客户 C'03"
    assert _texts(data["body"], "bv-value") == ["¥0.00"]
    assert "客户名称：王五&#x27;s 咨询" in data["body"]
    assert pages["/clients/C002"].row_counts == {"client": 1, "payments": 2}


def test_data_quality_page_renders_over_raw_bookkeeping(snapshot, tmp_path):
    pages_dir, sources_dir = data_quality_only(REPORTS, tmp_path / "src")
    with pytest.raises(RenderError, match="/data-quality -> /dbt-docs/index.html"):
        render_site(pages_dir, snapshot, tmp_path / "no-docs", CONTEXT, sources_dir=sources_dir)
    (tmp_path / "out" / "dbt-docs").mkdir(parents=True)  # published beside the pages (render.hooks)
    (tmp_path / "out" / "dbt-docs" / "index.html").write_text("<html></html>")
    pages = render_site(pages_dir, snapshot, tmp_path / "out", CONTEXT, sources_dir=sources_dir)
    dq = next(p for p in pages if p.url == "/data-quality")
    assert dq.title == "数据质量"
    assert dq.row_counts == {"load_summary": 1, "problems": 1, "files": 3, "rejects": 2, "runs": 4}
    html = dq.path.read_text(encoding="utf-8")
    assert _texts(html, "bv-value") == ["3", "15", "13", "2", "13.33%", "1"]
    assert "本次装载共拒绝 <strong>2</strong> 行" in html
    assert '<a href="dbt-docs/index.html">dbt 模型文档</a>' in html


# --- errors ---------------------------------------------------------------------------------------


def test_sql_error_names_page_and_query(snapshot, tmp_path):
    pages = _page(
        tmp_path,
        "broken.md",
        "# x\n\n```sql good\nselect 1 as a\n```\n\n"
        "```sql bad_totals\nselect no_such_col from demo.payments\n```\n",
    )
    (tmp_path / "sources").symlink_to(FIXTURES / "sources")
    with pytest.raises(PageQueryError) as err:
        render_site(pages, snapshot, tmp_path / "out", CONTEXT)
    assert err.value.query == "bad_totals" and err.value.page.endswith("broken.md")
    assert (
        "broken.md" in str(err.value) and "'bad_totals'" in str(err.value) and "no_such_col" in str(err.value)
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("```sql q\nselect * from ${nope}\n```\n", r"\$\{nope\} is not a query on this page"),
        ("```sql a\nselect * from ${b}\n```\n```sql b\nselect * from ${a}\n```\n", "circular"),
        ("```sql q\ndelete from raw.load_files\n```\n", "read-only|read only"),
        ("```sql q\nselect * from read_csv('/etc/hostname')\n```\n", "disabled"),
    ],
)
def test_query_errors(snapshot, tmp_path, body, message):
    pages = _page(tmp_path, "p.md", body)
    with pytest.raises(PageQueryError, match=message):
        render_site(pages, snapshot, tmp_path / "out", CONTEXT)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<Dropdown data={q} />\n", "unsupported component <Dropdown>"),
        ("```sql q\nselect 1 as a\n```\n<BigValue data={q} value=b />\n", "column 'b' not in query"),
        # file:line errors for what Evidence would reject or show differently
        (Q1 + "<BigValue data={q} value=a fmt=wan />\n", r"index.md:4: .*unknown fmt 'wan'"),
        (Q1 + "<BigValue data={q} value=a colour=red />\n", r"index.md:4: <BigValue> has no prop colour"),
        (Q0 + "<DataTable data={q} />\n", r"index.md:4: .*returned no rows.*emptySet"),
        (Q0 + "\n{q[0].a}\n", r"index.md:5: .*'q' has 0 rows"),
        (Q1 + "{#if q.length > 0}\ntext\n\n{/if}\n", r"index.md:4: \{#if q.length > 0\} must stand alone"),
        ("```sql q\nselect 1 as a\n```\n<BarChart data={x} x=a y=a />\n", r"data=\{x\}: no such query"),
        ("```sql q\nselect '/nowhere' as l\n```\n<DataTable data={q} link=l />\n", "/nowhere"),
        ("[x](/missing)\n", "not rendered: / -> /missing|-> /missing"),
        ("{foo.bar}\n", "unsupported expression"),
    ],
)
def test_page_errors(snapshot, tmp_path, body, message):
    pages = _page(tmp_path, "index.md", body)
    with pytest.raises(RenderError, match=message):
        render_site(pages, snapshot, tmp_path / "out", CONTEXT)


def test_bare_param_must_be_numeric(snapshot, tmp_path):
    pages = _page(
        tmp_path,
        "c/[client_id].md",
        "---\nparams_query: select 'C001'\n---\n```sql q\nselect ${params.client_id} as x\n```\n",
    )
    with pytest.raises(PageQueryError, match="not a number"):
        render_site(pages, snapshot, tmp_path / "out", CONTEXT)


def test_template_page_without_params_query(snapshot, tmp_path):
    pages = _page(tmp_path, "c/[client_id].md", "# x\n")
    with pytest.raises(RenderError, match="params_query"):
        render_site(pages, snapshot, tmp_path / "out", CONTEXT)


def test_empty_set_pass_shows_the_message(snapshot, tmp_path):
    body = (
        "```sql q\nselect 1 as a where false\n```\n"
        '<BigValue data={q} value=a title="件数" emptySet="pass" emptyMessage="暂无数据" />\n\n'
        '<DataTable data={q} emptySet="warn" emptyMessage="没有记录" />\n\n'
        '<BarChart data={q} x=a y=a emptySet="pass" />\n'
    )
    pages = render_site(_page(tmp_path, "index.md", body), snapshot, tmp_path / "out", CONTEXT)
    html = pages[0].path.read_text(encoding="utf-8")
    assert '<div class="bv-value empty">暂无数据</div>' in html
    assert '<div class="empty">没有记录</div>' in html
    assert '<div class="empty">No records</div>' in html  # Evidence's default message


def test_table_of_contents_lists_the_sections(snapshot, tmp_path):
    pages = _page(tmp_path, "index.md", "## 收款\n\n正文\n\n### 按月\n\n## 欠费 & 预警\n")
    html = render_site(pages, snapshot, tmp_path / "out", CONTEXT)[0].path.read_text(encoding="utf-8")
    assert '<h2 id="s1">收款</h2>' in html and '<h3 id="s2">按月</h3>' in html
    toc = html[html.index('<aside class="toc"') :]
    assert re.findall(r'<li class="toc-h(\d)"><a href="#(s\d)">(.*?)</a>', toc) == [
        ("2", "s1", "收款"),
        ("3", "s2", "按月"),
        ("2", "s3", "欠费 &amp; 预警"),
    ]


# --- incremental rendering (issue 15 point 5) ----------------------------------------------------


def _inode(path: Path) -> int:
    return path.stat().st_ino


def test_unchanged_page_is_not_rewritten_but_linked_from_the_previous_version(snapshot, tmp_path):
    night1, night2 = tmp_path / "v1", tmp_path / "v2"
    first = {p.url: p for p in render_site(FIXTURES / "pages", snapshot, night1, CONTEXT)}
    assert not any(p.reused for p in first.values())
    # the next night: same data except one client's payments change
    snap2 = tmp_path / "snapshot2.duckdb"
    shutil.copyfile(snapshot, snap2)
    with duckdb.connect(str(snap2)) as con:
        con.execute("update marts.payments set amount = amount + 1 where client_id = 'C002'")
    ctx2 = CONTEXT | {"as_of_date": "2026-11-22", "run_id": "20261122-r8", "quality_status": "通过"}
    second = {p.url: p for p in render_site(FIXTURES / "pages", snap2, night2, ctx2, previous_dir=night1)}
    reused = sorted(u for u, p in second.items() if p.reused)
    # their query results did not change; nor did the shell (page file, navigation)
    assert reused == ["/clients/C'03", "/clients/C001", "/clients/index.html"]
    for url in reused:  # the same file (hard link), not a rewritten copy
        assert _inode(second[url].path) == _inode(first[url].path)
    for url in ("/clients/C002", "/"):  # C002's payments and the home page's totals changed
        assert not second[url].reused and _inode(second[url].path) != _inode(first[url].path)
    # the run facts are per version, never shared
    assert "20261122-r8" in (night2 / "assets" / "run.js").read_text(encoding="utf-8")
    assert "20261121-r7" in (night1 / "assets" / "run.js").read_text(encoding="utf-8")
    # a third night on the first night's data reuses every page; the manifest names each file's hash
    third = render_site(FIXTURES / "pages", snapshot, tmp_path / "v3", CONTEXT, previous_dir=night1)
    assert all(p.reused for p in third)
    assert json.loads((night1 / "render-manifest.json").read_text())["clients/data/C001.js"]


def test_changed_keys_fetched_among_linked_ones_render_as_a_full_render(snapshot, tmp_path, monkeypatch):
    """A night's changed keys are fetched in batches that count only them (the linked keys ride
    along): with one key a batch, the changed key's file is byte for byte the one a full render of
    the same data writes, and the other keys are the previous version's files."""
    from orchestration.render import site

    night1 = tmp_path / "v1"
    render_site(FIXTURES / "pages", snapshot, night1, CONTEXT)
    snap2 = tmp_path / "snapshot2.duckdb"
    shutil.copyfile(snapshot, snap2)
    with duckdb.connect(str(snap2)) as con:
        con.execute("update marts.payments set amount = amount + 1 where client_id = 'C002'")
    full = {p.url: p for p in render_site(FIXTURES / "pages", snap2, tmp_path / "full", CONTEXT)}
    monkeypatch.setattr(site, "KEYS_PER_BATCH", 1)
    night2 = {
        p.url: p
        for p in render_site(FIXTURES / "pages", snap2, tmp_path / "v2", CONTEXT, previous_dir=night1)
    }
    data = sorted(u for u, p in night2.items() if p.kind == "data")
    assert data == ["/clients/C'03", "/clients/C001", "/clients/C002"]
    assert [u for u in data if not night2[u].reused] == ["/clients/C002"]
    for url in data:
        assert night2[url].path.read_bytes() == full[url].path.read_bytes(), url


# --- template pages: queries once for all keys ------------------------------------------------------

KEYED = {  # shapes of template-page SQL: each must give, per key, exactly the per-key query's result
    "aggregate": "select count(*) as n, sum(v) as s from t where k = '${params.k}'",
    "limit": "select i, v from t where k = '${params.k}' order by v desc, i desc limit 4",
    "group": "select g, count(*) as n from t where k = '${params.k}' group by g order by g desc",
    "reference": "select * from ${limit} as l where l.v > 3 order by l.i",
    "case": "select case '${params.k}' when '1' then 'one' else 'other' end as c from t "
    "where k = '${params.k}' and i < 20 order by i",
    "literal": "select 'it''s (order by x limit 3)' as s, i from t "
    "where k = '${params.k}' and i < 15 order by i desc",
    "left_join": "select a.i, b.i as j from t as a left join t as b "
    "on b.i = a.i + 50 and b.k = '${params.k}' where a.k = '${params.k}' order by a.i desc",
    "distinct": "select distinct g from t where k = '${params.k}' order by g",  # per key (not rewritten)
    # rewritten, but a window cannot order by the select alias n: DuckDB refuses, so it runs per key
    "alias_order": "select g, count(*) as n from t where k = '${params.k}' group by g order by n desc, g",
}


def test_template_queries_run_once_for_all_keys_with_each_keys_own_result(tmp_path):
    from orchestration.render.queries import expand, keyed_sql, run_queries, run_template_queries

    con = duckdb.connect()
    con.execute(
        "create table t as select (i % 5)::varchar as k, i, (i * 7) % 13 as v, i % 3 as g "
        "from range(100) r(i)"
    )
    keys = ["1", "3", "no such key", "it's"]
    together = run_template_queries(con, Path("p.md"), KEYED, "k", keys)
    for key in keys:
        alone = run_queries(con, Path("p.md"), KEYED, {"k": key})
        for name in KEYED:
            got, want = together[key][name], alone[name]
            assert (got.columns, got.types, got.rows) == (want.columns, want.types, want.rows), (key, name)
    assert together["1"]["limit"].rows == [(76, 12), (11, 12), (61, 11), (46, 10)]  # by hand: v desc, i desc
    assert together["no such key"]["aggregate"].rows == [(0, None)]
    # every shape but DISTINCT is rewritten into one set-based query
    for name in KEYED:
        sql = expand(name, KEYED, {"k": "__p__"}, Path("p.md")).replace("'__p__'", "keys.__key")
        assert (keyed_sql(sql, "keys") is None) == (name == "distinct"), name
        if name not in ("distinct", "alias_order"):  # and DuckDB runs the rewritten query
            con.execute("create or replace temp table keys as select 0 as __pos, '1' as __key")
            con.execute(keyed_sql(sql, "keys"))


def test_template_keys_in_batches_render_the_same_files(snapshot, tmp_path, monkeypatch):
    """Keys are queried a batch at a time (bounded memory at 100,000 clients): batches of 2 over the
    3 clients give byte-identical data files."""
    from orchestration.render import site

    whole = render_site(FIXTURES / "pages", snapshot, tmp_path / "whole", CONTEXT)
    monkeypatch.setattr(site, "KEYS_PER_BATCH", 2)
    batched = render_site(FIXTURES / "pages", snapshot, tmp_path / "batched", CONTEXT)
    files = [p.path.relative_to(tmp_path / "whole") for p in whole if p.kind == "data"]
    assert len(files) == 3 and [p.url for p in whole] == [p.url for p in batched]
    for rel in files:
        assert (tmp_path / "batched" / rel).read_bytes() == (tmp_path / "whole" / rel).read_bytes()


def test_template_keys_batched_in_key_order_keep_the_pages_order(snapshot, tmp_path, monkeypatch):
    """A page's queries run once for all its keys; the rows are fetched a batch of keys at a time in
    key order (a range of the stored rows). Keys listed in another order (here descending) give the
    same bytes as one batch, and the rendered pages keep the params_query's order."""
    from orchestration.render import site

    pages = tmp_path / "pages"
    shutil.copytree(FIXTURES / "pages", pages)
    page = pages / "clients" / "[client_id].md"
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace("order by client_id\n", "order by client_id desc\n"), encoding="utf-8")
    assert page.read_text(encoding="utf-8") != text
    sources = FIXTURES / "sources"
    whole = render_site(pages, snapshot, tmp_path / "whole", CONTEXT, sources_dir=sources)
    monkeypatch.setattr(site, "KEYS_PER_BATCH", 2)
    batched = render_site(pages, snapshot, tmp_path / "batched", CONTEXT, sources_dir=sources)
    data = [p for p in batched if p.kind == "data"]
    assert [p.params["client_id"] for p in data] == ["C002", "C001", "C'03"]
    assert [p.url for p in whole] == [p.url for p in batched]
    for p in data:
        rel = p.path.relative_to(tmp_path / "batched")
        assert p.path.read_bytes() == (tmp_path / "whole" / rel).read_bytes()


def test_template_batches_are_bounded_by_keys_and_by_rows():
    """A batch of keys is a range of the sorted keys, at most `size` keys and `max_rows` rows (a key's
    row count), a key with more rows than that alone: its text is built whole by DuckDB."""
    from types import SimpleNamespace

    from orchestration.render.keyed_run import TemplateRun

    run = SimpleNamespace(sorted=["a", "b", "c", "d", "e", "f"])
    rows = {"a": 3, "b": 3, "c": 50, "d": 1, "e": 1, "f": 0}
    assert list(TemplateRun.batches(run, 10, rows, 6)) == [["a", "b"], ["c"], ["d", "e", "f"]]
    assert list(TemplateRun.batches(run, 2, rows, 6)) == [["a", "b"], ["c"], ["d", "e"], ["f"]]
    assert list(TemplateRun.batches(run, 4)) == [["a", "b", "c", "d"], ["e", "f"]]
    # only the keys to fetch count: the others ride along in their place (a batch stays a range)
    assert list(TemplateRun.batches(run, 1, rows, 6, only={"b", "e"})) == [["a", "b", "c", "d"], ["e", "f"]]
    batched = list(TemplateRun.batches(run, 10, rows, 6, only={"a", "c", "f"}))
    assert batched == [["a", "b"], ["c", "d", "e"], ["f"]]
    assert list(TemplateRun.batches(run, 10, rows, 6, only=set())) == [["a", "b", "c", "d", "e", "f"]]


def test_template_keys_one_at_a_time_by_rows_render_the_same_files(snapshot, tmp_path, monkeypatch):
    from orchestration.render import keyed_run

    whole = render_site(FIXTURES / "pages", snapshot, tmp_path / "whole", CONTEXT)
    monkeypatch.setattr(keyed_run, "ROWS_PER_BATCH", 1)
    alone = render_site(FIXTURES / "pages", snapshot, tmp_path / "alone", CONTEXT)
    data = [p for p in whole if p.kind == "data"]
    assert len(data) == 3 and [p.url for p in whole] == [p.url for p in alone]
    for p in data:
        rel = p.path.relative_to(tmp_path / "whole")
        assert (tmp_path / "alone" / rel).read_bytes() == p.path.read_bytes()


def test_render_memory_limit_and_its_spill_folder(snapshot, tmp_path):
    """The renderer's DuckDB keeps to `memory_limit` and spills to a fresh folder under `temp_dir`,
    removed when the render ends; without a limit the folder is beside out_dir (and removed too)."""
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "index.md").write_text(
        "```sql s\nselect current_setting('memory_limit') as m, current_setting('temp_directory') as t\n```\n"
        "限额 {s[0].m} 目录 {s[0].t}\n",
        encoding="utf-8",
    )
    want = (
        duckdb.connect(config={"memory_limit": "100MB"})
        .execute("select current_setting('memory_limit')")
        .fetchone()[0]
    )
    assert want != duckdb.connect().execute("select current_setting('memory_limit')").fetchone()[0]
    spill = tmp_path / "spill"
    spill.mkdir()
    render_site(pages, snapshot, tmp_path / "out", CONTEXT, memory_limit="100MB", temp_dir=spill)
    html = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    shown = re.search(r"限额 (.+?) 目录 (\S+?)<", html)
    assert shown and shown.group(1) == want
    assert Path(shown.group(2)).parent == spill and Path(shown.group(2)).name.startswith(".render-spill-")
    assert list(spill.iterdir()) == []
    render_site(pages, snapshot, tmp_path / "out2", CONTEXT)
    html = (tmp_path / "out2" / "index.html").read_text(encoding="utf-8")
    assert Path(re.search(r"目录 (\S+?)<", html).group(1)).parent == tmp_path
    assert not list(tmp_path.glob(".render-spill-*"))


# --- a render shared by two processes (render_worker.py, issue 15: both cores) --------------------


def _tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture()
def main_takes(monkeypatch):
    """In a parallel render, this process renders only the page(s) `main_takes(...)` names (by file
    name) and the worker process every other one (really: whoever asks first); returns the list of
    pages this process rendered."""
    import threading

    from orchestration.render import render_worker, site

    taken: list[str] = []
    mine: set[str] = set()
    names: dict[int, str] = {}
    setup, unit = site._setup, site._render_unit

    def next_page(self):
        here = threading.current_thread() is threading.main_thread()
        with self.lock:
            i = next((i for i in self.todo if (names[i] in mine) == here), None)
            if i is None or self.error is not None:
                return None
            self.todo.remove(i)
            return i

    def named_setup(job):
        pages, state = setup(job)
        names.update((i, p.source.path.name) for i, p in enumerate(pages))
        return pages, state

    def render_unit(site_, con, page, values):
        taken.append(page.source.path.name)
        return unit(site_, con, page, values)

    monkeypatch.setattr(render_worker._Shared, "next", next_page)
    monkeypatch.setattr(site, "_setup", named_setup)
    monkeypatch.setattr(site, "_render_unit", render_unit)

    def choose(*pages: str) -> list[str]:
        mine.clear()
        mine.update(pages)
        taken.clear()
        return taken

    return choose


def test_a_render_over_two_processes_gives_the_serial_renders_bytes(snapshot, tmp_path, main_takes):
    """workers=2: a worker process renders the template page, this process the home page; every file
    and the manifest are the serial render's bytes, the pages in the same order. The next night's
    parallel render, the other way round, hard-links every unchanged file from it as a serial one does."""
    serial = render_site(FIXTURES / "pages", snapshot, tmp_path / "serial", CONTEXT)
    taken = main_takes("index.md")
    both = render_site(FIXTURES / "pages", snapshot, tmp_path / "both", CONTEXT, workers=2)
    assert taken == ["index.md"]  # the template page was the worker's
    assert [(p.url, p.kind, p.title, p.row_counts, p.reused) for p in both] == [
        (p.url, p.kind, p.title, p.row_counts, p.reused) for p in serial
    ]
    assert _tree(tmp_path / "both") == _tree(tmp_path / "serial")
    # 3 data files and the home page with their links, the shell: from both processes
    assert len(json.loads((tmp_path / "both" / "render-manifest.json").read_text())) == 4 * 2 + 1
    taken = main_takes("[client_id].md")
    again = render_site(
        FIXTURES / "pages", snapshot, tmp_path / "again", CONTEXT, workers=2, previous_dir=tmp_path / "both"
    )
    assert taken == ["[client_id].md"] and len(again) == len(both) and all(p.reused for p in again)
    for p in again:
        assert _inode(p.path) == _inode(tmp_path / "both" / p.path.relative_to(tmp_path / "again"))


@pytest.mark.parametrize("here", ["[client_id].md", "broken.md"])
def test_a_page_error_in_either_process_fails_the_render(snapshot, tmp_path, main_takes, here):
    """The broken page rendered by the worker process (its error comes back as itself) or by this one
    (the worker is stopped)."""
    pages = tmp_path / "pages"
    shutil.copytree(FIXTURES / "pages", pages)
    (pages / "broken.md").write_text(
        "```sql totals\nselect no_such_column from demo.payments\n```\n{totals[0].x}\n"
    )
    taken = main_takes(here)
    with pytest.raises(PageQueryError) as err:
        render_site(pages, snapshot, tmp_path / "out", CONTEXT, sources_dir=FIXTURES / "sources", workers=2)
    assert err.value.page == str(pages / "broken.md") and err.value.query == "totals"
    assert "no_such_column" in str(err.value) and taken[0] == here
    assert not list(tmp_path.glob(".render-spill-*"))  # the spill folders are removed


def test_the_second_process_starts_only_from_parallel_min_keys(snapshot, tmp_path, monkeypatch):
    """The fixture's one template page has 3 keys: 4 keys or more wanted means a serial render."""
    from orchestration.render import render_worker

    def no_worker(*args):
        raise AssertionError("a worker process was started")

    monkeypatch.setattr(render_worker, "render_parallel", no_worker)
    render_site(FIXTURES / "pages", snapshot, tmp_path / "a", CONTEXT, workers=2, parallel_min_keys=4)
    with pytest.raises(AssertionError, match="worker"):
        render_site(FIXTURES / "pages", snapshot, tmp_path / "b", CONTEXT, workers=2, parallel_min_keys=3)


# --- template pages: table rows built as JSON by DuckDB (keyed_run, sql_cells) -----------------------

HOSTILE_SQL = r"""
create table h as
select * from (values
  ('a', 1, '中文 客户「甲」', 0.045::decimal(18,3), 0.045::double, 0::bigint, date '2024-02-29',
   timestamp '2024-02-29 13:05:09.987', true, '/clients/a', 1234.5678::decimal(38,10)),
  ('a', 2, 'it''s "quoted" \ back\slash </script><!--<script> & &amp;', -0.004, -1234567.891, -42,
   date '1999-12-31', timestamp '1999-12-31 00:00:00', false, '/clients/b b', -0.5),
  ('a', 3, 'line' || chr(10) || 'break' || chr(13) || chr(10) || 'tab' || chr(9) || 'x', 2.675, 2.675, 7,
   null, null, null, null, null),
  ('a', 4, null, null, null, null, date '9999-12-31', timestamp '1000-01-01 23:59:59', true,
   '/clients/a?x=1&y=<2>#z', 0),
  ('a', 5, 'u' || chr(8232) || 'v' || chr(8233) || 'w \u000B 😀 emoji', 999999999999.995, 1e-7, 999999999999,
   date '2000-01-01', timestamp '2000-01-01 12:00:00', false, '/clients/a', 123456.0000000001),
  ('a', 6, '', 1.005, 1.005, -1, date '2026-11-21', timestamp '2026-11-21 00:00:01', true, 'other.html',
   0.125),
  ('b', 1, 'big double', 1, -123456789012345.67, 1, date '2024-01-01', null, true, '/clients/a', 1),
  ('c', 1, 'huge', 1, 1e15, 1, date '2024-01-01', null, true, '/clients/a', 1),
  ('d', 1, 'old date', 1, 1, 1, date '0999-01-01', null, true, '/clients/a', 1),
  ('e', 1, 'control ' || chr(1), 1, 1, 1, date '2024-01-01', null, true, '/clients/a', 1),
  ('f', 1, 'big int', 1, 1, 9007199254740993, date '2024-01-01', null, true, '/clients/a', 1),
  ('g', 1, 'huge decimal', 1, 1, 1, date '2024-01-01', null, true, '/clients/a', 123456789012.5)
) as v(k, pos, label, amount, x, n, d, ts, flag, link, dec38);
create table keys as select * from (values ('a'), ('b'), ('c'), ('d'), ('e'), ('f'), ('g'), ('empty'))
  as v(k);
"""

HOSTILE_PAGE = """---
title: 敌意值
params_query: select k from keys order by k
---

```sql cells
select label as 名称, amount as 金额, x as 数值, n as 次数, d as 日期, ts as 时间, flag as 标志, link,
       dec38::decimal(38,10) as 大数
from h where k = '${params.k}' order by pos
```

```sql plain
select label, d, flag, n from h where k = '${params.k}' order by pos desc
```

```sql auto
select label, abs(x) as x, amount as amount_pct from h where k = '${params.k}' order by pos
```

## {params.k}

<DataTable data={cells} emptySet="pass" emptyMessage="暂无数据" link=link rows=all>
  <Column id=名称 title="名 称" wrap=true />
  <Column id=金额 fmt='"¥"#,##0.00' />
  <Column id=数值 fmt='#,##0.00' />
  <Column id=次数 fmt=num0 />
  <Column id=日期 fmt='yyyy-mm-dd' />
  <Column id=时间 fmt='yyyy"年"m"月"d"日" hh:mm:ss' />
  <Column id=标志 />
  <Column id=大数 fmt='0.000' />
  <Column id=金额 fmt='0.0%' />
  <Column id=数值 fmt='#,##0.0,"k"' />
  <Column id=次数 fmt='#,##0"天"' />
  <Column id=日期 fmt='mmmm d, yyyy (ddd)' />
  <Column id=时间 fmt='h:MM AM/PM' />
  <Column id=金额 fmt=usd2 />
  <Column id=数值 fmt=mult1 />
  <Column id=大数 fmt=num2k />
</DataTable>

<DataTable data={plain} emptySet="pass" emptyMessage="暂无数据">
  <Column id=label />
  <Column id=d />
  <Column id=flag />
  <Column id=n fmt='0' />
</DataTable>

<DataTable data={auto} emptySet="pass" emptyMessage="暂无数据">
  <Column id=label />
  <Column id=x fmt=cny />
  <Column id=amount_pct />
</DataTable>

[client](/clients/a)
"""


def _render_both(
    pages_dir: Path, snapshot: Path, tmp_path: Path, monkeypatch
) -> tuple[list, Path, Path, list]:
    """Render `pages_dir` with table rows built in SQL, and again formatted in Python (the tables'
    SQL path switched off); returns the pages, both folders and what the SQL path built."""
    from orchestration.render import keyed_run, site

    built = []
    fetch = keyed_run.TemplateRun.fetch

    def spy(self, keys, href):
        results, prebuilt = fetch(self, keys, href)
        built.extend((k, q) for k, tables in prebuilt.items() for q in tables)
        return results, prebuilt

    monkeypatch.setattr(keyed_run.TemplateRun, "fetch", spy)
    sql_out, py_out = tmp_path / "sql", tmp_path / "python"
    pages = render_site(pages_dir, snapshot, sql_out, CONTEXT)
    with monkeypatch.context() as m:
        m.setattr(site, "table_specs", lambda *a: {})
        render_site(pages_dir, snapshot, py_out, CONTEXT)
    return pages, sql_out, py_out, built


def test_table_rows_built_in_sql_equal_python_formatting_on_hostile_values(tmp_path, monkeypatch):
    """NULLs, negatives, half-up boundaries (0.045, 2.675, 1.005, -0.004), 999,999,999,999.995, 1e-7,
    dates and timestamps, Chinese, quotes, backslashes, </script>, newlines, U+2028, emoji: every
    data file is byte-identical to the Python formatter's. Values the SQL does not format (1e15,
    year 999, a control character, an integer beyond 2^53, a DECIMAL(38,10) beyond 2^53 units) send
    their key's table to Python, so those files are identical too."""
    db = tmp_path / "h.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(HOSTILE_SQL)
    pages_dir = tmp_path / "site" / "pages"
    (pages_dir / "hostile").mkdir(parents=True)
    (pages_dir / "hostile" / "[k].md").write_text(HOSTILE_PAGE, encoding="utf-8")
    (pages_dir / "clients").mkdir()
    (pages_dir / "clients" / "[id].md").write_text(
        "---\ntitle: c\nparams_query: select 'a' union all select 'b b' \n---\n\nx\n",
        encoding="utf-8",
    )
    pages, sql_out, py_out, built = _render_both(pages_dir, db, tmp_path, monkeypatch)
    data = [p.path.relative_to(sql_out) for p in pages if p.kind == "data" and "hostile" in str(p.path)]
    assert len(data) == 8
    for rel in data:
        assert (sql_out / rel).read_bytes() == (py_out / rel).read_bytes(), rel
    # key a's two formatted tables came from SQL; the auto format (cny looks at the column) never does;
    # keys with a hazard in `cells` were formatted in Python
    assert ("a", ("cells", 22)) in built and ("a", ("plain", 41)) in built
    assert not any(q[0] == "auto" for _, q in built)
    assert {k for k, q in built if q[0] == "cells"} == {"a", "b"}
    assert {k for k, q in built if q[0] == "plain"} == {"a", "b", "c", "g"}  # d 999, e \x01, f > 2^53
    page = _key_page(sql_out, "hostile", "a")
    rows = _json(page["body"])["table-1-data"]["rows"]
    assert rows[0]["c"][1] == [0.045, "¥0.05"] and rows[1]["c"][1] == [-0.004, "-¥0.00"]  # SSF half up
    assert rows[0]["c"][5] == ["2024-02-29 13:05:09", "2024年2月29日 13:05:09"]
    assert rows[1]["c"][0].startswith('it\'s "quoted" \\ back\\slash </script>')
    assert rows[1]["h"] == "../clients/index.html?id=b%20b"
    island = page["body"].split('<script type="application/json" id="table-1-data">')[1].split("</script>")[0]
    assert "\\u003c/script\\u003e\\u003c!--" in island and "<" not in island  # cannot end the script


def test_report_page_tables_built_in_sql_equal_python_formatting(tmp_path, monkeypatch):
    """A page without parameter runs as a one-key template page (site._render_page): its DataTables'
    rows are built by DuckDB too, and its HTML is byte-identical to the Python formatter's, for the
    hostile values above (key a: built in SQL; key d: a year 999, formatted in Python)."""
    db = tmp_path / "h.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(HOSTILE_SQL)
    pages_dir = tmp_path / "site" / "pages"
    (pages_dir / "clients").mkdir(parents=True)
    (pages_dir / "clients" / "[id].md").write_text(
        "---\ntitle: c\nparams_query: select 'a' union all select 'b b' \n---\n\nx\n", encoding="utf-8"
    )
    for key in ("a", "d"):
        text = HOSTILE_PAGE.replace("'${params.k}'", f"'{key}'").replace("## {params.k}", f"## {key}")
        text = text.replace("params_query: select k from keys order by k\n", "")
        (pages_dir / f"report-{key}.md").write_text(text, encoding="utf-8")
    pages, sql_out, py_out, built = _render_both(pages_dir, db, tmp_path, monkeypatch)
    for name in ("report-a.html", "report-d.html"):
        assert (sql_out / name).read_bytes() == (py_out / name).read_bytes(), name
    assert ("", ("cells", 21)) in built and ("", ("plain", 40)) in built  # report-a's, built in SQL
    assert sum(1 for k, q in built if q[0] == "plain") == 1  # report-d's year 999 went to Python
    html = (sql_out / "report-a.html").read_text(encoding="utf-8")
    assert "¥0.05" in html and "-¥0.00" in html and "2024年2月29日 13:05:09" in html
    assert {p.url: p.row_counts for p in pages}["/report-a"] == {"cells": 6, "plain": 6, "auto": 6}
