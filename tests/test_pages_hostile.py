"""Hostile strings in every entity's text: every real report page still draws all its tables and charts.

Takes the session night's published snapshot (tests/night.py), appends strings that break naive JSON
embedding (`<!--<script>`, `</script>`, U+2028/U+2029, `&amp;`, quotes) to every display text column
(names of clients, staff, payers, holidays, Chinese labels, messages, reasons) of every table, renders
the real reports/pages against it and against the untouched copy, and loads both in headless Chromium:
same tables with the same row counts, same charts with series, no script error, and the hostile text
shown as text.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration import settings
from orchestration.render import render_site
from tests.browser import open_page, serve_directory

HOSTILE = "<!--<script>x</script>\u2028\"'&amp;\u2029</"
DISPLAY_COLUMN = re.compile(r"(^name$|_name$|_cn$|^message$|^reason$|^recommended_action$|^description$)")
PAGES = ["index", "collections", "ar-aging", "renewals", "forecast", "progress-board", "progress-summary",
         "workload", "staff-progress", "tax-calendar", "alerts", "data-quality"]  # fmt: skip
CONTEXT = {"as_of_date": "2026-11-20", "run_id": "hostile", "quality_status": "通过"}


def _poison(snapshot: Path) -> int:
    """Append HOSTILE to every display text column of every table; returns the columns changed."""
    con = duckdb.connect(str(snapshot))
    cols = con.execute(
        "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
        "WHERE database_name = current_database() AND data_type = 'VARCHAR' AND NOT internal"
    ).fetchall()
    changed = 0
    for schema, table, column in cols:
        if DISPLAY_COLUMN.search(column):
            con.execute(
                f'UPDATE "{schema}"."{table}" SET "{column}" = "{column}" || ? WHERE "{column}" IS NOT NULL',
                [HOSTILE],
            )
            changed += 1
    con.close()
    return changed


@pytest.fixture(scope="module")
def www(night, tmp_path_factory) -> Path:
    """The real pages rendered over the night's snapshot as it is (www/clean) and poisoned (www/hostile)."""
    tmp = tmp_path_factory.mktemp("hostile")
    source = night["root"] / "published" / "current" / "snapshot.duckdb"
    for name in ("clean", "hostile"):
        shutil.copy(source, tmp / f"{name}.duckdb")
        (tmp / f"{name}.duckdb").chmod(0o644)
    assert _poison(tmp / "hostile.duckdb") >= 10  # names and labels of every entity
    for name in ("clean", "hostile"):
        docs = tmp / "www" / name / "dbt-docs"  # published beside the pages each night; 数据质量 links it
        docs.mkdir(parents=True)
        (docs / "index.html").write_text("<!doctype html><title>dbt docs</title>", encoding="utf-8")
        render_site(settings.PAGES_DIR, tmp / f"{name}.duckdb", tmp / "www" / name, CONTEXT)
    return tmp / "www"


@pytest.fixture(scope="module")
def sites(www):
    with serve_directory(www) as base:
        yield base


def _drawn(chromium, url: str) -> tuple[dict, list[str]]:
    page, watch = open_page(chromium, url)
    page.wait_for_selector("html[data-ready='1']")
    shape = page.evaluate(
        """() => ({
            charts: Array.from(document.querySelectorAll('.chart-canvas')).map(el => {
                const inst = echarts.getInstanceByDom(el);
                return inst ? inst.getOption().series.length : -1;
            }),
            tables: Array.from(document.querySelectorAll('.data-table')).map(
                t => t.querySelectorAll('tbody tr').length),
            text: document.body.innerText,
        })"""
    )
    page.close()
    return shape, watch.problems()


@pytest.mark.parametrize("name", PAGES)
def test_page_draws_everything_with_hostile_strings(sites, chromium, name):  # noqa: F811
    clean, clean_problems = _drawn(chromium, f"{sites}clean/{name}.html")
    hostile, problems = _drawn(chromium, f"{sites}hostile/{name}.html")
    assert clean_problems == [] and problems == []
    assert hostile["charts"] == clean["charts"] and all(n >= 1 for n in hostile["charts"])
    assert hostile["tables"] == clean["tables"]
    assert clean["charts"] or clean["tables"] or name == "data-quality"


def test_hostile_text_is_shown_as_text(sites, chromium):  # noqa: F811
    shown = [
        n
        for n in PAGES
        if "<!--<script>x</script>" in _drawn(chromium, f"{sites}hostile/{n}.html")[0]["text"]
    ]
    assert len(shown) >= 6, shown  # the pages listing clients, staff or labels show it literally


def test_embedded_json_has_no_markup_characters_and_round_trips():
    import json

    from orchestration.render.components import embed_json, json_script

    value = {"name": HOSTILE, "list": ["</script><script>alert(1)</script>", "a\u2028b"]}
    text = embed_json(value)
    assert not set(text) & {"<", ">", "&", "\u2028", "\u2029"}
    assert json.loads(text) == value
    assert json_script("x", value).count("</script>") == 1  # only the element's own end tag


@pytest.mark.parametrize(
    ("folder", "param"), [("clients", "client_id"), ("progress", "key"), ("progress-rollup", "key")]
)
def test_template_shell_draws_hostile_key_data(www, sites, chromium, folder, param):  # noqa: F811
    """A template page's per-key data file (<script src>, not an HTML island) with the hostile strings:
    the shell draws the same tables as on clean data, no script error, the text shown as text."""
    clean_dir = www / "clean" / folder / "data"
    key = sorted(p.stem for p in clean_dir.glob("*.js"))[0]
    url = f"{folder}/index.html?{param}={key}"
    clean, clean_problems = _drawn(chromium, f"{sites}clean/{url}")
    hostile, problems = _drawn(chromium, f"{sites}hostile/{url}")
    assert clean_problems == [] and problems == []
    assert hostile["tables"] == clean["tables"] and any(clean["tables"])
    text = (www / "hostile" / folder / "data" / f"{key}.js").read_text(encoding="utf-8")
    assert "\u2028" not in text and "\u2029" not in text  # escaped: older engines end a string there
    if folder == "clients":
        assert "<!--<script>x</script>" in hostile["text"]  # the client's name, shown literally
