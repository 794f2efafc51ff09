"""Pages only select and filter: a metric's formula lives in one mart, never in page SQL.

Scans every ```sql block of reports/pages/**/*.md (and the template pages' params_query) and fails
when a query that reads a mart or a core table (an `opscenter.<source>` whose source file selects
from `marts.` or `core.`, or those schemas directly) aggregates: sum( avg( count( median( or GROUP BY
(min/max picking the latest period `where period = (select max(period) …)` is a filter, allowed).
Re-aggregating a mart recomputes a metric the marts already hold (or should hold); add the grain to
a mart instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPORTS = Path(__file__).resolve().parent.parent / "reports"
PAGES = sorted((REPORTS / "pages").rglob("*.md"))
FENCE = re.compile(r"```sql\s+(\w+)\s*\n(.*?)```", re.S)
AGGREGATE = re.compile(r"\b(sum|avg|count|median|quantile_cont|string_agg)\s*\(|\bgroup\s+by\b", re.I)
SOURCE_REF = re.compile(r"\bopscenter\.(\w+)", re.I)


def _mart_sources() -> set[str]:
    """Sources that read the modelled layers: marts, and the core facts/dimensions behind them (a page
    summing core.fct_invoices computes a metric that belongs in a mart just the same)."""
    out = set()
    for f in (REPORTS / "sources" / "opscenter").glob("*.sql"):
        if re.search(r"\b(marts|core)\.", f.read_text(encoding="utf-8"), re.I):
            out.add(f.stem)
    return out


def _queries(page: Path) -> list[tuple[str, str]]:
    text = page.read_text(encoding="utf-8")
    found = [(name, sql) for name, sql in FENCE.findall(text)]
    front = re.match(r"---\n(.*?)\n---", text, re.S)
    if front and "params_query" in front.group(1):
        found.append(("params_query", front.group(1).split("params_query", 1)[1]))
    return found


def _offences(sql: str, marts: set[str]) -> list[str]:
    sql = re.sub(r"--[^\n]*", "", sql)
    reads_mart = bool(re.search(r"\b(marts|core)\.", sql, re.I)) or any(
        s.lower() in marts for s in SOURCE_REF.findall(sql)
    )
    return sorted({m.group(0).strip().lower() for m in AGGREGATE.finditer(sql)}) if reads_mart else []


def test_scanner_catches_a_re_aggregated_mart():
    marts = {"collections_by_period"}
    bad = "select period, sum(collected_amount) from opscenter.collections_by_period group by period"
    assert _offences(bad, marts) == ["group by", "sum("]
    assert _offences("select * from marts.mart_alerts where severity = 'high'", marts) == []
    assert _offences("select count(*) from opscenter.load_files", marts) == []  # not a mart
    core = "select sum(open_receivable_amount) from core.fct_invoices where client_id = 'C1'"
    assert _offences(core, marts) == ["sum("]  # a core fact summed on a page: a metric outside the marts


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(REPORTS).as_posix() for p in PAGES])
def test_page_queries_only_select_from_marts(page):
    marts = _mart_sources()
    assert {"alerts", "fct_invoices"} <= marts and "load_files" not in marts
    bad = {name: off for name, sql in _queries(page) if (off := _offences(sql, marts))}
    assert bad == {}, f"{page.name}: aggregates over marts in queries {bad}; add the grain to a mart"
