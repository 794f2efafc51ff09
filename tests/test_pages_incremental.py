"""Incremental rendering of a template page (issue 15 point 5): per key, DuckDB hashes the page's query
results; only keys whose hash changed (or that are new) are fetched, rendered and written, the others
are hard-linked from the previous version, vanished keys are gone, and every version is byte for byte
what a full render of the same snapshot gives. Real DuckDB files, real render_site, real files."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from orchestration.render import RenderError, render_site
from orchestration.render.keyed_run import TemplateRun

CONTEXT = {"as_of_date": "2026-11-21", "run_id": "r1", "quality_status": "通过"}
PAGE = """---
title: 客户 {params.client_id}
params_query: select client_id from demo.clients order by client_id
---

```sql rows
select i, amount, note, d from demo.t where client_id = '${params.client_id}' order by i
```

```sql total
select count(*) as n, sum(amount) as s from demo.t where client_id = '${params.client_id}'
```

共 {total[0].n} 行

<DataTable data={rows} rows=all>
  <Column id=i />
  <Column id=amount fmt='#,##0.00' />
  <Column id=note />
  <Column id=d fmt='yyyy-mm-dd' />
</DataTable>
"""
SNAPSHOT = """
create schema demo;
create table demo.clients as select * from (values ('A'), ('B'), ('C')) v(client_id);
create table demo.t (client_id varchar, i integer, amount double, note varchar, d date);
insert into demo.t values
    ('A', 1, 10.5, 'a1', date '2026-01-01'), ('A', 2, 0.0, 'a2', date '2026-01-02'),
    ('B', 1, 20.25, 'b1', date '2026-02-01'), ('B', 2, 3.0, 'b"2</script>', date '2026-02-02'),
    ('C', 1, -1.0, 'c1', null);
"""


@pytest.fixture()
def site(tmp_path) -> tuple[Path, Path]:
    pages = tmp_path / "pages"
    (pages / "clients").mkdir(parents=True)
    (pages / "clients" / "[client_id].md").write_text(PAGE, encoding="utf-8")
    snap = tmp_path / "snapshot.duckdb"
    with duckdb.connect(str(snap)) as con:
        con.execute(SNAPSHOT)
    return pages, snap


def _change(snap: Path, sql: str) -> None:
    with duckdb.connect(str(snap)) as con:
        con.execute(sql)


class Counted:
    """Which keys' rows were fetched into Python and which files were written (not linked)."""

    def __init__(self, monkeypatch):
        self.fetched: list[str] = []
        fetch = TemplateRun.fetch

        def counting_fetch(run, keys, *args):
            self.fetched += keys
            return fetch(run, keys, *args)

        monkeypatch.setattr(TemplateRun, "fetch", counting_fetch)


def _render(pages: Path, snap: Path, out: Path, previous: Path | None = None):
    return {p.url: p for p in render_site(pages, snap, out, CONTEXT, previous_dir=previous)}


def _written(out: Path) -> list[str]:
    """Files of a version that are not hard links to another version's file."""
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.stat().st_nlink == 1)


def _tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _same_as_full_render(pages: Path, snap: Path, out: Path, tmp_path: Path, name: str) -> None:
    full = tmp_path / ("full-" + name)
    _render(pages, snap, full)
    assert _tree(out) == _tree(full)


def test_a_changed_row_rewrites_exactly_that_keys_file(site, tmp_path, monkeypatch):
    pages, snap = site
    _render(pages, snap, tmp_path / "v1")
    _change(snap, "update demo.t set note = 'b1 改' where client_id = 'B' and i = 1")
    counted = Counted(monkeypatch)
    second = _render(pages, snap, tmp_path / "v2", tmp_path / "v1")
    assert counted.fetched == ["B"]  # A's and C's rows never left DuckDB
    assert sorted(u for u, p in second.items() if not p.reused) == ["/", "/clients/B"]  # "/" the list
    # written: B's data file and the per-version files; every other page file is a hard link
    pages_written = [f for f in _written(tmp_path / "v2") if not f.startswith("assets/")]
    assert pages_written == ["clients/data/B.js", "index.html", "render-manifest.json"]
    for key in ("A", "C"):
        rel = f"clients/data/{key}.js"
        assert (tmp_path / "v2" / rel).stat().st_ino == (tmp_path / "v1" / rel).stat().st_ino
    assert "b1 改" in (tmp_path / "v2" / "clients/data/B.js").read_text(encoding="utf-8")
    _same_as_full_render(pages, snap, tmp_path / "v2", tmp_path, "v2")


@pytest.mark.parametrize(
    "change",
    [
        # DuckDB's hash(-0.0) = hash(0.0), but the page shows -0.0
        # (an UPDATE from 0.0 to -0.0 leaves the stored 0.0 in DuckDB: the row is replaced)
        "delete from demo.t where client_id = 'A' and i = 2;"
        "insert into demo.t values ('A', 2, '-0.0'::double, 'a2', date '2026-01-02')",
        "update demo.t set i = 3 - i where client_id = 'B'",  # the same rows in the other order
        "update demo.t set d = null where client_id = 'A' and i = 1",
        "update demo.t set note = null where client_id = 'A' and i = 1",
        "update demo.t set note = '' where client_id = 'A' and i = 1",
    ],
)
def test_any_change_shown_on_the_page_rewrites_the_key(site, tmp_path, monkeypatch, change):
    pages, snap = site
    _render(pages, snap, tmp_path / "v1")
    _change(snap, change)
    counted = Counted(monkeypatch)
    _render(pages, snap, tmp_path / "v2", tmp_path / "v1")
    assert len(counted.fetched) == 1
    key = counted.fetched[0]
    rel = f"clients/data/{key}.js"
    assert (tmp_path / "v2" / rel).read_bytes() != (tmp_path / "v1" / rel).read_bytes()
    _same_as_full_render(pages, snap, tmp_path / "v2", tmp_path, "v2")


def test_a_new_key_is_written_and_a_vanished_key_removed(site, tmp_path, monkeypatch):
    pages, snap = site
    _render(pages, snap, tmp_path / "v1")
    _change(
        snap,
        "delete from demo.clients where client_id = 'A'; delete from demo.t where client_id = 'A';"
        "insert into demo.clients values ('D');"
        "insert into demo.t values ('D', 1, 7.0, 'd1', date '2026-03-01')",
    )
    counted = Counted(monkeypatch)
    second = _render(pages, snap, tmp_path / "v2", tmp_path / "v1")
    assert counted.fetched == ["D"]
    assert sorted(u for u, p in second.items() if p.kind == "data") == [
        "/clients/B",
        "/clients/C",
        "/clients/D",
    ]
    data = sorted(p.name for p in (tmp_path / "v2" / "clients" / "data").iterdir())
    assert data == ["B.js", "C.js", "D.js"]  # A's file is not carried over
    manifest = json.loads((tmp_path / "v2" / "render-manifest.json").read_text(encoding="utf-8"))
    assert "clients/data/A.js" not in manifest and "clients/data/D.js" in manifest
    assert [f for f in _written(tmp_path / "v2") if f.startswith("clients/")] == ["clients/data/D.js"]
    _same_as_full_render(pages, snap, tmp_path / "v2", tmp_path, "v2")


def test_a_sequence_of_nights_gives_the_bytes_of_a_full_render(site, tmp_path):
    pages, snap = site
    _render(pages, snap, tmp_path / "n0")
    nights = [
        "update demo.t set amount = amount + 0.005 where client_id = 'C'",
        "insert into demo.clients values ('E'); insert into demo.t values ('E', 1, 1e20, 'e', null)",
        "update demo.t set note = 'x' || chr(8232) || 'y' where client_id = 'B' and i = 2",
        "delete from demo.t where client_id = 'A' and i = 2",
        "update demo.t set amount = 0.0 where client_id = 'E'",
    ]
    for n, sql in enumerate(nights, start=1):
        _change(snap, sql)
        _render(pages, snap, tmp_path / f"n{n}", tmp_path / f"n{n - 1}")
        _same_as_full_render(pages, snap, tmp_path / f"n{n}", tmp_path, f"n{n}")
    # nothing changed on the last night except E: the others are still the first night's files
    for key in ("A", "B", "C"):
        last = (tmp_path / f"n{len(nights)}" / f"clients/data/{key}.js").stat().st_nlink
        assert last >= 2


@pytest.mark.parametrize("state", ["missing", "corrupt", "not a dict", "wrong hash"])
def test_missing_or_corrupt_hash_state_falls_back_to_rendering(site, tmp_path, monkeypatch, state):
    pages, snap = site
    _render(pages, snap, tmp_path / "v1")
    manifest = tmp_path / "v1" / "render-manifest.json"
    hashes = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.chmod(0o644)
    if state == "missing":
        manifest.unlink()
    elif state == "corrupt":
        manifest.write_text(json.dumps(hashes)[:40], encoding="utf-8")
    elif state == "not a dict":
        manifest.write_text(json.dumps(sorted(hashes)), encoding="utf-8")
    else:  # one key's recorded hash no longer matches what its file was rendered from
        hashes["clients/data/B.js"] = "abc"
        manifest.write_text(json.dumps(hashes), encoding="utf-8")
    counted = Counted(monkeypatch)
    second = _render(pages, snap, tmp_path / "v2", tmp_path / "v1")
    expected = ["B"] if state == "wrong hash" else ["A", "B", "C"]
    assert sorted(counted.fetched) == expected
    assert (
        sorted(p.params["client_id"] for p in second.values() if p.kind == "data" and not p.reused)
        == expected
    )
    _same_as_full_render(pages, snap, tmp_path / "v2", tmp_path, "v2")


def test_a_previous_file_that_is_gone_is_rendered_again(site, tmp_path, monkeypatch):
    pages, snap = site
    _render(pages, snap, tmp_path / "v1")
    (tmp_path / "v1" / "clients" / "data" / "C.js").unlink()
    counted = Counted(monkeypatch)
    _render(pages, snap, tmp_path / "v2", tmp_path / "v1")
    assert counted.fetched == ["C"]
    _same_as_full_render(pages, snap, tmp_path / "v2", tmp_path, "v2")


LINKING_PAGE = """---
title: 客户
params_query: select client_id from demo.clients order by client_id
---

```sql peers
select peer, '/clients/' || peer as peer_link from demo.peers
where client_id = '${params.client_id}' order by peer
```

<DataTable data={peers} emptySet="pass" link=peer_link rows=all>
  <Column id=peer />
</DataTable>
"""


def test_a_hard_linked_keys_links_are_still_checked(tmp_path, monkeypatch):
    """A key whose results did not change is hard-linked without being rendered; its links (the
    previous version's, recorded again as they were: the manifest is a full render's) must still go
    through the link check: here A's unchanged file links to C, whose page is gone tonight, so the
    render fails instead of publishing a dead link."""
    pages = tmp_path / "pages"
    (pages / "clients").mkdir(parents=True)
    (pages / "clients" / "[client_id].md").write_text(LINKING_PAGE, encoding="utf-8")
    snap = tmp_path / "snapshot.duckdb"
    _change(
        snap,
        "create schema demo;"
        "create table demo.clients as select * from (values ('A'), ('B'), ('C')) v(client_id);"
        "create table demo.peers as select * from (values ('A', 'C'), ('A', 'B'), ('B', 'A')) "
        "v(client_id, peer)",
    )
    _render(pages, snap, tmp_path / "v0")
    # a night where only B changed: A and C are linked, their links recorded as a full render does
    _change(snap, "insert into demo.peers values ('B', 'C')")
    counted = Counted(monkeypatch)
    _render(pages, snap, tmp_path / "v1", tmp_path / "v0")
    assert counted.fetched == ["B"]
    manifest = json.loads((tmp_path / "v1" / "render-manifest.json").read_text(encoding="utf-8"))
    assert manifest["links:clients/data/A.js"] == "/clients/B\n/clients/C"
    _same_as_full_render(pages, snap, tmp_path / "v1", tmp_path, "v1")
    _change(snap, "delete from demo.clients where client_id = 'C'")
    counted.fetched.clear()
    with pytest.raises(RenderError, match="/clients/A -> /clients/C"):
        _render(pages, snap, tmp_path / "v2", tmp_path / "v1")
    assert counted.fetched == []  # A was not rendered: only its recorded links caught it
    assert (tmp_path / "v2" / "clients/data/A.js").stat().st_ino == (
        tmp_path / "v0" / "clients/data/A.js"
    ).stat().st_ino
