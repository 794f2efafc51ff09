"""Day counts published as the date they count from (orchestration/render/relative.py, issue 15).

A hand-made snapshot of invoices on two nights (as of 2026-11-20, then 2026-11-21 with one invoice
paid): the data files keep the due date of every row whose number the page's `__since` column
vouches for, and the same number otherwise; the SQL-built rows equal Python's byte for byte; a key
whose open items only aged a day keeps its file (same inode) and the page in Chromium shows the
next night's numbers, counted from the version's as-of date; a key whose item changed is rewritten.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import duckdb
import pytest

from orchestration.render import RenderError, render_site
from tests.browser import open_file

PAGE = """---
title: 客户
params_query: select client_id from demo.clients order by client_id
---

```sql head
select max(case when is_open then greatest(0, datediff('day', due_date, as_of)) else 0 end)::integer
           as longest,
       min(due_date) filter (where is_open) as longest__since
from demo.invoices where client_id = '${params.client_id}'
```

<BigValue data={head} value=longest title="最长逾期天数" fmt='#,##0"天"' />

```sql invoices
select invoice_id as 账单编号, due_date as 到期日, days_past_due as 逾期天数,
       case when is_open then due_date end as 逾期天数__since
from demo.invoices where client_id = '${params.client_id}' order by invoice_id
```

<DataTable data={invoices} rows=all>
  <Column id=账单编号 />
  <Column id=到期日 fmt='yyyy-mm-dd' />
  <Column id=逾期天数 fmt='#,##0"天"' />
</DataTable>
"""

# days_past_due as the marts compute it (fct_invoices); one row's number disagrees with its date (X3:
# published as its number), one open row is not yet due (0 days, counted from its future due date)
SNAPSHOT = """
create schema demo;
create table demo.clients as select * from (values ('A'), ('B'), ('C')) v(client_id);
create table demo.invoices (client_id varchar, invoice_id varchar, due_date date, is_open boolean,
                            days_past_due integer, as_of date);
insert into demo.invoices
select client_id, invoice_id, due_date, is_open,
       coalesce(forced, case when is_open then greatest(0, datediff('day', due_date, date '{as_of}')) end, 0),
       date '{as_of}'
from (values
    ('A', 'A1', date '2026-10-01', true, null), ('A', 'A2', date '2026-12-15', true, null),
    ('A', 'A3', date '2026-09-01', false, null),
    ('B', 'B1', date '2026-11-01', {b1_open}, null),
    ('C', 'C1', date '2025-01-01', true, null), ('C', 'X3', date '2026-11-10', true, 99)
) v(client_id, invoice_id, due_date, is_open, forced);
"""


def _snapshot(path: Path, as_of: str, b1_open: bool = True, sql: str = SNAPSHOT) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute(sql.format(as_of=as_of, b1_open=str(b1_open).lower()))
    return path


def _render(tmp_path: Path, name: str, snap: Path, as_of: str, previous: Path | None = None) -> Path:
    out = tmp_path / name
    render_site(
        tmp_path / "pages",
        snap,
        out,
        {"as_of_date": as_of, "run_id": name, "quality_status": "通过"},
        previous_dir=previous,
    )
    return out


def _data(out: Path, key: str) -> dict:
    text = (out / "clients" / "data" / f"{key}.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("=") + 1 :].strip().rstrip(";"))


def _rows(page: dict) -> list[list]:
    island = re.search(r'id="table-\d+-data">(.*?)</script>', page["body"], re.S).group(1)
    return [r["c"] for r in json.loads(island)["rows"]]


def _client_page(tmp_path: Path, text: str) -> Path:
    (tmp_path / "pages" / "clients").mkdir(parents=True)
    (tmp_path / "pages" / "clients" / "[client_id].md").write_text(text, encoding="utf-8")
    return tmp_path / "pages"


@pytest.fixture()
def pages(tmp_path) -> Path:
    return _client_page(tmp_path, PAGE)


def test_open_items_are_published_as_their_due_date(pages, tmp_path):
    out = _render(tmp_path, "v1", _snapshot(tmp_path / "s1.duckdb", "2026-11-20"), "2026-11-20")
    a = _data(out, "A")
    assert _rows(a) == [
        # a text or date shown as its raw value is the text alone (tables.cell_json)
        ["A1", "2026-10-01", {"s": "2026-10-01"}],  # 50 days, counted in the page
        ["A2", "2026-12-15", {"s": "2026-12-15"}],  # not due yet: 0, same rule
        ["A3", "2026-09-01", [0, "0天"]],  # settled: its number
    ]
    assert 'data-since="2026-10-01"' in a["body"] and "50天" not in a["body"]
    c = _data(out, "C")  # X3's 99 is not as_of - due: published as 99, not as a date
    assert _rows(c)[1][2] == [99, "99天"]
    assert "2026-11-20" not in json.dumps(a, ensure_ascii=False)  # nothing of the night's date


def test_sql_built_rows_equal_python_formatting(pages, tmp_path, monkeypatch):
    from orchestration.render import site

    snap = _snapshot(tmp_path / "s1.duckdb", "2026-11-20")
    built = _render(tmp_path, "sql", snap, "2026-11-20")
    with monkeypatch.context() as m:
        m.setattr(site, "table_specs", lambda *a: {})
        python = _render(tmp_path, "python", snap, "2026-11-20")
    for key in "ABC":
        rel = Path("clients") / "data" / f"{key}.js"
        assert (built / rel).read_bytes() == (python / rel).read_bytes(), key


def test_next_night_keeps_aged_keys_and_rewrites_changed_ones(pages, tmp_path, chromium):
    v1 = _render(tmp_path, "v1", _snapshot(tmp_path / "s1.duckdb", "2026-11-20"), "2026-11-20")
    # next night: everything aged a day, and B1 was paid
    v2 = _render(
        tmp_path, "v2", _snapshot(tmp_path / "s2.duckdb", "2026-11-21", b1_open=False), "2026-11-21", v1
    )

    def inode(out: Path, key: str) -> int:
        return (out / "clients" / "data" / f"{key}.js").stat().st_ino

    assert inode(v1, "A") == inode(v2, "A") and inode(v1, "C") == inode(v2, "C")
    assert inode(v1, "B") != inode(v2, "B")
    shell = (v2 / "clients" / "index.html").as_uri()
    expected = {
        "A": ("51天", ["51天", "0天", "0天"]),
        "B": ("0天", ["0天"]),
        "C": ("689天", ["689天", "99天"]),  # 2025-01-01 -> 2026-11-21; X3 as published
    }
    for key, (longest, days) in expected.items():
        page, errors = open_file(chromium, f"{shell}?client_id={key}")
        assert page.locator(".bv-value").inner_text() == longest
        assert page.locator(".data-table tbody tr td:nth-child(3)").all_inner_texts() == days
        assert errors == []
        if key == "A":  # sorting and the CSV read the computed number
            page.locator(".data-table th").nth(2).click()
            assert page.locator(".data-table tbody tr td:nth-child(3)").all_inner_texts() == [
                "0天",
                "0天",
                "51天",
            ]
            csv = page.evaluate(
                """() => { const spec = JSON.parse(document.querySelector('[id$="-data"]').textContent);
                           return spec.rows.map(r => r.c[2]); }"""
            )
            assert csv == [{"s": "2026-10-01"}, {"s": "2026-12-15"}, [0, "0天"]]  # the file, untouched
        page.close()
    # the same numbers as a page rendered with the numbers written in (no as-of date: nothing relative)
    plain = _render(tmp_path, "plain", tmp_path / "s2.duckdb", "")
    assert _rows(_data(plain, "A"))[0][2] == [51, "51天"] and "51天" in _data(plain, "A")["body"]
    assert dt.date(2026, 11, 21) - dt.date(2025, 1, 1) == dt.timedelta(days=689)


def test_a_relative_number_read_inline_fails_the_render(pages, tmp_path):
    page = pages / "clients" / "[client_id].md"
    page.write_text(PAGE + "\n最长 {head[0].longest} 天\n", encoding="utf-8")
    with pytest.raises(RenderError, match="published relative"):
        _render(tmp_path, "v1", _snapshot(tmp_path / "s1.duckdb", "2026-11-20"), "2026-11-20")


# --- texts with a day count inside (alert messages: message_template, relative.py) ---------------------

ALERTS_PAGE = """---
title: 客户
params_query: select client_id from demo.clients order by client_id
---

```sql client_alerts
select alert_id as 编号, message as 说明, message_template as 说明__template,
       message_days_since as 说明__since, message_days_until as 说明__until
from demo.alerts where client_id = '${params.client_id}' order by alert_id
```

<DataTable data={client_alerts} emptySet="pass" emptyMessage="暂无数据" rows=all>
  <Column id=编号 />
  <Column id=说明 />
</DataTable>
"""

# An alerts table shaped like mart_alerts: the message is before || count || after, the template
# before || '{days}' || after, the count as_of - since (已逾期) or until - as_of (剩). A: both kinds and
# a message without a count; B: an overdue invoice paid on night 2; C: templates that do not give the
# message (a count the date does not give, a date the count does not match, no date): published as
# their texts, which do not move; D: texts that move but whose template does not give them (a client
# name holding {days}, a template worded otherwise): published as texts, rewritten on night 2.
ALERTS = """
create schema demo;
create table demo.clients as select * from (values ('A'), ('B'), ('C'), ('D')) v(client_id);
create table demo.alerts as
select client_id, alert_id, before || coalesce(forced, days, '') || after as message,
       coalesce(template, case when days is not null then before || '{{days}}' || after end)
           as message_template,
       since as message_days_since, until as message_days_until
from (
    select *, coalesce(date '{as_of}' - since, until - date '{as_of}')::varchar as days
    from (values
        ('A', 'a1', '客户「甲」账单 A1 已逾期 ', ' 天，未收金额 ¥1,000.00', date '2026-10-01', null::date,
         null, null),
        ('A', 'a2', '客户「甲」合同 K1 将于 2026-12-15 到期（剩 ', ' 天），续约概率仅 30%', null,
         date '2026-12-15', null, null),
        ('A', 'a3', '张会计 本月负责 2 户，负荷 200%', '', null, null, null, null),
        ('B', 'b1', '客户「乙」账单 B1 已逾期 ', ' 天', date '2026-11-01', null, null, null),
        ('C', 'c1', '客户「丙」账单 C1 已逾期 ', ' 天', date '2026-11-10', null, '99', null),
        ('C', 'c2', '客户「丙」合同 K3 到期（剩 ', ' 天）', null, date '2026-12-31', '7', null),
        ('C', 'c3', '客户「丙」账单 C3 已逾期 ', ' 天', null, null, '12',
         '客户「丙」账单 C3 已逾期 {{days}} 天'),
        ('D', 'd1', '客户「{{days}}」账单 D1 已逾期 ', ' 天', date '2026-11-15', null, null, null),
        ('D', 'd2', '客户「丁」账单 D2 已逾期 ', ' 天', date '2026-11-15', null, null,
         '客户「丁」账单 D2 逾期 {{days}} 天')
    ) v(client_id, alert_id, before, after, since, until, forced, template)
)
where {b1_open} or alert_id <> 'b1';
"""


def _alerts_snapshot(path: Path, as_of: str, b1_open: bool = True) -> Path:
    return _snapshot(path, as_of, b1_open, ALERTS)


@pytest.fixture()
def alert_pages(tmp_path) -> Path:
    return _client_page(tmp_path, ALERTS_PAGE)


def test_alert_texts_are_published_as_their_template_and_date(alert_pages, tmp_path):
    out = _render(tmp_path, "v1", _alerts_snapshot(tmp_path / "s1.duckdb", "2026-11-20"), "2026-11-20")
    a = _data(out, "A")
    assert [r[1] for r in _rows(a)] == [
        {"t": "客户「甲」账单 A1 已逾期 {days} 天，未收金额 ¥1,000.00", "s": "2026-10-01"},  # 50 days
        {
            "t": "客户「甲」合同 K1 将于 2026-12-15 到期（剩 {days} 天），续约概率仅 30%",
            "u": "2026-12-15",
        },  # 25
        "张会计 本月负责 2 户，负荷 200%",  # no template: its text
    ]
    assert "50 天" not in a["body"] and "剩 25 天" not in a["body"]
    # a template that does not give the text is refused: the row keeps its text, whatever is wrong
    assert [r[1] for r in _rows(_data(out, "C"))] == [
        "客户「丙」账单 C1 已逾期 99 天",  # the date gives 10 days
        "客户「丙」合同 K3 到期（剩 7 天）",  # the date gives 41 days
        "客户「丙」账单 C3 已逾期 12 天",  # no date
    ]
    assert [r[1] for r in _rows(_data(out, "D"))] == [
        "客户「{days}」账单 D1 已逾期 5 天",  # filling every {days} would change the name too
        "客户「丁」账单 D2 已逾期 5 天",  # the template says 逾期, the text 已逾期
    ]


@pytest.mark.parametrize("path", ["sql", "per_key"])
def test_alert_texts_sql_and_per_key_rows_equal_python(alert_pages, tmp_path, monkeypatch, path):
    from orchestration.render import keyed_run, site

    snap = _alerts_snapshot(tmp_path / "s1.duckdb", "2026-11-20")
    with monkeypatch.context() as m:
        if path == "per_key":  # each key's query run on its own: relative.apply_rows checks the rows
            m.setattr(keyed_run, "keyed_query", lambda *a: None)
        built = _render(tmp_path, path, snap, "2026-11-20")
    with monkeypatch.context() as m:
        m.setattr(site, "table_specs", lambda *a: {})
        python = _render(tmp_path, "python", snap, "2026-11-20")
    for key in "ABCD":
        rel = Path("clients") / "data" / f"{key}.js"
        assert (built / rel).read_bytes() == (python / rel).read_bytes(), key
    assert _rows(_data(built, "A"))[0][1]["t"] == "客户「甲」账单 A1 已逾期 {days} 天，未收金额 ¥1,000.00"


def test_alert_texts_next_night_same_file_new_numbers(alert_pages, tmp_path, chromium):
    v1 = _render(tmp_path, "v1", _alerts_snapshot(tmp_path / "s1.duckdb", "2026-11-20"), "2026-11-20")
    v2 = _render(
        tmp_path,
        "v2",
        _alerts_snapshot(tmp_path / "s2.duckdb", "2026-11-21", b1_open=False),
        "2026-11-21",
        v1,
    )

    def inode(out: Path, key: str) -> int:
        return (out / "clients" / "data" / f"{key}.js").stat().st_ino

    # A's counts and C's fixed texts: the same files; B (paid) and D (texts that moved) rewritten
    assert inode(v1, "A") == inode(v2, "A") and inode(v1, "C") == inode(v2, "C")
    assert inode(v1, "B") != inode(v2, "B") and inode(v1, "D") != inode(v2, "D")
    expected = {
        ("v1", "A"): [
            "客户「甲」账单 A1 已逾期 50 天，未收金额 ¥1,000.00",
            "客户「甲」合同 K1 将于 2026-12-15 到期（剩 25 天），续约概率仅 30%",
            "张会计 本月负责 2 户，负荷 200%",
        ],  # fmt: skip
        ("v2", "A"): [
            "客户「甲」账单 A1 已逾期 51 天，未收金额 ¥1,000.00",
            "客户「甲」合同 K1 将于 2026-12-15 到期（剩 24 天），续约概率仅 30%",
            "张会计 本月负责 2 户，负荷 200%",
        ],  # fmt: skip
        ("v1", "B"): ["客户「乙」账单 B1 已逾期 19 天"],
        ("v2", "B"): ["暂无数据"],
        ("v2", "C"): [
            "客户「丙」账单 C1 已逾期 99 天",
            "客户「丙」合同 K3 到期（剩 7 天）",
            "客户「丙」账单 C3 已逾期 12 天",
        ],
        ("v2", "D"): ["客户「{days}」账单 D1 已逾期 6 天", "客户「丁」账单 D2 已逾期 6 天"],
    }
    for (version, key), texts in expected.items():
        shell = ((v1 if version == "v1" else v2) / "clients" / "index.html").as_uri()
        page, errors = open_file(chromium, f"{shell}?client_id={key}")
        cells = page.locator(".data-table tbody tr td:nth-child(2)")
        if texts == ["暂无数据"]:
            cells = page.locator(".data-table")
        assert [t.strip() for t in cells.all_inner_texts()] == texts, (version, key)
        assert errors == []
        if (version, key) == ("v2", "A"):  # the data file is untouched: the page filled the text in
            rows = page.evaluate(
                """() => { const spec = JSON.parse(document.querySelector('[id$="-data"]').textContent);
                           return spec.rows.map(r => r.c[1]); }"""
            )
            assert rows[0] == {
                "t": "客户「甲」账单 A1 已逾期 {days} 天，未收金额 ¥1,000.00",
                "s": "2026-10-01",
            }
        page.close()
    # a render with no as-of date writes the texts in: the same texts
    plain = _render(tmp_path, "plain", tmp_path / "s2.duckdb", "")
    assert [r[1] for r in _rows(_data(plain, "A"))] == expected[("v2", "A")]  # texts alone (cell_json)


def test_an_alert_text_read_inline_or_formatted_fails_the_render(alert_pages, tmp_path):
    page = alert_pages / "clients" / "[client_id].md"
    snap = _alerts_snapshot(tmp_path / "s1.duckdb", "2026-11-20")
    page.write_text(ALERTS_PAGE + "\n最新：{client_alerts[0].说明}\n", encoding="utf-8")
    with pytest.raises(RenderError, match="published relative"):
        _render(tmp_path, "v1", snap, "2026-11-20")
    page.write_text(
        ALERTS_PAGE.replace("<Column id=说明 />", "<Column id=说明 fmt=num0 />"), encoding="utf-8"
    )
    with pytest.raises(RenderError, match="takes no fmt"):
        _render(tmp_path, "v2", snap, "2026-11-20")
