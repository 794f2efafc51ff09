"""The publication tail at scale (issue 15): the PII scan of text files in batches, and a second night
that neither scans nor seals the files hard-linked from the previous version.

The batch scan must say exactly what the per-line scan says (`scanner._scan_text`, the reference:
Python patterns line by line), for every file, on generated texts full of phone and credit-code
spellings, near misses and every kind of line break. Work is counted through the per-file functions
(`_read_file`, `_make_read_only`), never timed.
"""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path

import duckdb
import pytest

from orchestration.publish import (
    PersonalDataLeak,
    find_unmasked_personal_data,
    publish_run,
    publisher,
    scanner,
)
from orchestration.publish.masking import count_personal_data
from tests.test_publish_pii import _credit_code, _phone

BREAKS = ["\n", "\r\n", "\r", "\u2028", "\x85", "\x0b", "\x0c", "\x1e"]
NEAR_MISSES = [
    "tel13812345678",  # glued to letters: not a number on its own
    "0.13812345678",  # the fraction of a decimal
    "138123456789",  # twelve digits
    "a1b2c3d4e5f6a7b8c9d0e1f2",  # hex id
    "2026-11-20 12:30:45",
    "¥1,234,567.89",
    "C000123",
]
FILLER = ['{"k":"C%05d","v":%d.%02d}', "客户%d 欠款 %d 元", "<td>%d</td><td>%d</td>", "var x = %d; // %d"]


def _noise(rng: random.Random) -> str:
    text = rng.choice(FILLER)
    return text % tuple(rng.randint(0, 99999) for _ in range(text.count("%")))


def _spelling(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.3:
        return _phone(rng)[1]
    if kind < 0.5:
        return _credit_code(rng)[1]
    if kind < 0.55:  # a JSON escape of a full-width digit, as an embedded JSON string spells it
        return _phone(rng)[1].replace("1", "\\uff11", 1)
    return rng.choice(NEAR_MISSES)


def _generated_text(rng: random.Random) -> str:
    """Lines of page-like noise; numbers at line starts and ends, back to back across lines."""
    parts = []
    for _ in range(rng.randint(1, 8)):
        line = rng.choice(["", _noise(rng) + rng.choice([" ", "，", ".", ""])])
        line += _spelling(rng) if rng.random() < 0.4 else _noise(rng)
        parts.append(line + rng.choice(["", " ", "。", "a"]))
    return "".join(p + rng.choice(BREAKS) for p in parts)[: rng.choice([None, -1])]


def test_batch_scan_says_what_the_per_line_scan_says(tmp_path, monkeypatch):
    rng = random.Random(20261130)
    paths = []
    for i in range(600):
        path = tmp_path / f"t{i:03d}.js"
        path.write_text(_generated_text(rng), encoding="utf-8")
        paths.append(path)
    monkeypatch.setattr(scanner, "TEXT_BATCH_CHARS", 5_000)  # many batches, each with several files
    batch = scanner._scan_texts(paths, {})
    per_line = {p: scanner._scan_text(p) for p in paths}
    assert batch == per_line
    with_findings = sum(bool(f) for f in per_line.values())
    assert 150 < with_findings < 550  # both kinds of file are well represented: the check can fail
    assert any("line 2:" in f for fs in per_line.values() for f in fs)


def test_files_matched_as_bytes_by_duckdb_say_what_the_per_line_scan_says(tmp_path, monkeypatch):
    """Most page data files go to DuckDB as bytes (`_as_is`); any other (NUL, byte-order mark, SVG
    geometry, JSON escape, not UTF-8: GB18030 bytes in a batch of UTF-8 ones) is decoded in Python as
    before. Every planted number is found either way, with the per-line scan's wording."""
    rng = random.Random(20261201)
    paths, as_is = [], 0
    for i in range(400):
        text = _generated_text(rng).replace("\\uff11", "1")  # no escape: read as it is
        kind = 1 if i in (1, 201) else (i % 8 if i % 8 in (2, 3) else 0)
        if kind == 1:
            data = text.encode("gb18030")  # not UTF-8 when it holds Chinese: Python decodes it
        elif kind == 2:
            data = text.encode("utf-8") + b"\x00"
        elif kind == 3:
            data = ('<path d="1 3 8 1 2 3 4 5 6 7 8"/>' + text).encode("utf-8")
        else:
            data = text.encode("utf-8")
        as_is += scanner._as_is(data) and kind not in (1, 2, 3)
        path = tmp_path / f"t{i:03d}.js"
        path.write_bytes(data)
        paths.append(path)
    (tmp_path / "gb.js").write_bytes("回电 １３８-1234-5678 客户".encode("gb18030"))
    paths.append(tmp_path / "gb.js")
    monkeypatch.setattr(scanner, "TEXT_BATCH_CHARS", 3_000)
    by_duckdb = []
    real = scanner._raw_findings
    monkeypatch.setattr(scanner, "_raw_findings", lambda con, b: by_duckdb.append(f := real(con, b)) or f)
    batch = scanner._scan_texts(paths, {})
    assert batch == {p: scanner._scan_text(p) for p in paths}
    assert batch[tmp_path / "gb.js"] == ["line 1: 1 unmasked mobile number(s)"]
    assert as_is > 150 and sum(bool(f) for f in batch.values()) > 100
    assert sum(len(found) for found in by_duckdb) > 50  # most files with a number were matched as bytes
    assert not scanner._as_is(b"x='13812345678'") and scanner._as_is(b'["13812345678"]')


def test_svg_geometry_is_blanked_as_the_expression_blanks_it(tmp_path):
    """`_blank_svg_geometry` finds the expression's matches from the quoted attributes: the same text
    on generated markup dense in attribute names, `=`, both quotes, word characters of other scripts
    (`\\b`), unclosed quotes and attributes inside other attributes' values."""
    rng = random.Random(20261202)
    tokens = ["points", "d", "viewBox", "transform", "id", "=", '"', "'", '="', "='", " ", "a", "中", "_",
              "1", "-", "<", "\n", "é", "①", "Ⅷ", "13812345678"]  # fmt: skip
    texts = ["".join(rng.choice(tokens) for _ in range(rng.randint(0, 40))) for _ in range(20_000)]
    blanked = 0
    for text in texts:
        expected = scanner._SVG_GEOMETRY.sub(r'\1=""', text)
        assert scanner._blank_svg_geometry(text) == expected, text
        blanked += expected != text
    assert 1_000 < blanked < 19_000  # matches are common, and so are the texts left as they were
    # what it leaves is scanned: a number in another attribute, a name that is not one, or unclosed
    (tmp_path / "p.html").write_text(
        '<path d="13812345678"/><b title="13812345678" id="13912345678" xd=\'13712345678\'>\n'
        '<path d=\'1 3 8 1 2 3 4 5 6 7 8\' viewBox="13612345678"/> 中d="13512345678" points="13412345678'
    )
    assert find_unmasked_personal_data(tmp_path) == [
        "p.html: line 1: 3 unmasked mobile number(s)",
        "p.html: line 2: 2 unmasked mobile number(s)",
    ]


def test_a_number_planted_in_one_new_data_file_among_thousands_is_found(tmp_path, monkeypatch):
    data = tmp_path / "pages" / "clients" / "data"
    data.mkdir(parents=True)
    row = '{"rows":[["C%05d","客户%05d","2026-11-20",1234.5,"正常"]]}'
    for i in range(3000):
        text = f"window.opscenterKey({row % (i, i)});\n// {i}\n"
        if i == 2345:
            text += "// 回电 ＋86 １３８-1234-5678\n"
        if i == 17:
            text = "9131 0115 ma1k 4abc 12\n" + text
        (data / f"C{i:05d}.js").write_text(text, encoding="utf-8")
    monkeypatch.setattr(scanner, "TEXT_BATCH_CHARS", 20_000)
    assert find_unmasked_personal_data(tmp_path) == [
        "pages/clients/data/C00017.js: line 1: 1 unmasked credit code(s)",
        "pages/clients/data/C02345.js: line 3: 1 unmasked mobile number(s)",
    ]


def _warehouse(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.mart_x AS SELECT range AS n, 'C' || range AS client_id FROM range(5)")
    return path


def _data_renderer(night: dict):
    """Per-key data files like render/site.py writes them: a key whose text is unchanged since the
    current version is hard-linked from it, else written."""

    def render(_snapshot: Path, pages: Path) -> None:
        (pages / "index.html").write_text("<html>首页</html>", encoding="utf-8")
        data = pages / "clients" / "data"
        data.mkdir(parents=True)
        previous = pages.parent.parent / "current" / "pages" / "clients" / "data"
        for key, text in night["keys"].items():
            old = previous / f"{key}.js"
            if old.is_file() and old.read_text(encoding="utf-8") == text:
                os.link(old, data / f"{key}.js")
            else:
                (data / f"{key}.js").write_text(text, encoding="utf-8")

    return render


def test_second_night_scans_and_seals_only_what_changed(tmp_path, monkeypatch):
    warehouse = _warehouse(tmp_path / "wh.duckdb")
    root = tmp_path / "published"
    night = {"keys": {f"C{i:03d}": f"window.k({i}, '客户{i}');\n" for i in range(200)}}
    scanned: list[str] = []
    sealed: list[str] = []
    real_read, real_seal = scanner._read_file, publisher._make_read_only
    monkeypatch.setattr(scanner, "_read_file", lambda p: scanned.append(p.name) or real_read(p))
    monkeypatch.setattr(publisher, "_make_read_only", lambda p: sealed.append(p.name) or real_seal(p))
    threads: list[int | None] = []  # the snapshot's check (in a thread) on one DuckDB thread, the rest not
    real_find = publisher.find_unmasked_personal_data

    def find(*args, **kwargs):
        threads.append(kwargs["threads"])
        return real_find(*args, **kwargs)

    monkeypatch.setattr(publisher, "find_unmasked_personal_data", find)

    def publish(run_id: str) -> Path:
        scanned.clear()
        sealed.clear()
        return publish_run(
            warehouse, root, as_of_date="2026-11-20", run_id=run_id, code_version="t", checks=[],
            render=_data_renderer(night), schemas=("marts",), tables=(),
        )  # fmt: skip

    v1 = publish("run1")
    assert threads == [1, None]
    assert {f"C{i:03d}.js" for i in range(200)} <= set(scanned)
    assert {f"C{i:03d}.js" for i in range(200)} <= set(sealed)
    night["keys"]["C007"] = "window.k(7, '客户7 已续约');\n"
    night["keys"]["C150"] = "window.k(150, '客户150 欠款');\n"
    v2 = publish("run2")
    data_scanned = sorted(n for n in scanned if n.startswith("C"))
    assert data_scanned == ["C007.js", "C150.js"]  # 198 linked files neither read nor scanned
    assert sorted(n for n in sealed if n.startswith("C")) == ["C007.js", "C150.js"]
    assert {"index.html", "manifest.json"} <= set(scanned)  # the rest of the version still is
    assert "manifest.json" in sealed
    unchanged = "pages/clients/data/C008.js"
    assert (v2 / unchanged).stat().st_ino == (v1 / unchanged).stat().st_ino
    for path in v2.rglob("*"):  # every file read-only, linked or new
        if path.is_file():
            assert not stat.S_IMODE(path.stat().st_mode) & 0o222, path
    assert publisher.verify_version(root, v2.name) == []

    # a number in a changed file is still found, with the per-line wording, and nothing is published
    night["keys"]["C151"] = "window.k(151,\n '回电 13987654321');\n"
    with pytest.raises(PersonalDataLeak, match=r"C151\.js: line 2: 1 unmasked mobile number\(s\)"):
        publish("run3")
    assert [n for n in scanned if n.startswith("C")] == ["C151.js"]
    assert publisher.current_version(root) == v2.name


@pytest.mark.parametrize("syncfs_reports_errors", [True, False])
def test_the_version_is_synced_once_not_per_file(tmp_path, monkeypatch, syncfs_reports_errors):
    """One syncfs of the filesystem for the whole version, through a descriptor opened before the
    version's first write (so a failed write-back of any of its files is reported by that sync); on a
    kernel whose syncfs does not report write-back errors, an fsync per new file instead."""
    monkeypatch.setattr(publisher, "_kernel_at_least", lambda *_: syncfs_reports_errors)
    calls: list[int] = []
    real_sync = publisher._FilesystemSync.sync
    monkeypatch.setattr(publisher._FilesystemSync, "sync", lambda s: calls.append(s._fd) or real_sync(s))
    fsyncs: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(publisher.os, "fsync", lambda fd: fsyncs.append(fd) or real_fsync(fd))
    night = {"keys": {f"C{i:03d}": f"window.k({i});\n" for i in range(300)}}
    root, warehouse = tmp_path / "published", _warehouse(tmp_path / "wh.duckdb")

    def publish(run_id: str) -> None:
        calls.clear()
        fsyncs.clear()
        publish_run(
            warehouse, root, as_of_date="2026-11-20", run_id=run_id, code_version="t", checks=[],
            render=_data_renderer(night), schemas=("marts",), tables=(),
        )  # fmt: skip

    publish("r1")
    if syncfs_reports_errors:
        assert len(calls) == 1 and calls[0] >= 0
        assert len(fsyncs) < 10  # the JSON pointers and the publish root, not the 300 data files
    else:
        assert calls == [] and len(fsyncs) > 300
    night["keys"]["C001"] = "window.k(1, 'changed');\n"
    publish("r2")
    if not syncfs_reports_errors:  # the 299 linked files are not synced again
        assert 1 + 10 < len(fsyncs) < 30


def test_small_tables_scanned_unpivoted_count_what_the_wide_scan_counts():
    """A small relation is scanned unpivoted (`_narrow_counts`: each pattern once in the query, not
    once per column), a large stored one per distinct value of each column (`_distinct_counts`: the
    patterns once per value, its rows added); their counts per column and kind must be the wide
    scan's and the Python patterns' (rows holding at least one number of the kind, JSON escapes
    decoded), on generated values: numbers, near misses, escapes, NULLs, a BIGINT column holding
    phone numbers, and a column repeating a few values (numbers among them) over all rows."""
    rng = random.Random(15)
    repeated = ["13812345678", "留言 +86 139-8765-4321 请回电", "代码 9131 0115 ma1k 4abc 12"]
    repeated += ["tel13812345678", "ok", None]
    rows = []
    for i in range(300):
        words = [_spelling(rng) if rng.random() < 0.5 else _noise(rng) for _ in range(3)]
        text = " ".join(words)
        rows.append(
            (
                None if i % 7 == 0 else text,
                rng.choice(NEAR_MISSES + [_spelling(rng)]),
                int(_phone(rng)[0]) if i % 3 else i,
                "ok",
                repeated[i % len(repeated)],
            )
        )
    con = duckdb.connect()
    con.execute("CREATE TABLE t (a VARCHAR, b JSON, n BIGINT, s VARCHAR, r VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, to_json(?), ?, ?, ?)", rows)
    columns = ["a", "b", "n", "s", "r"]
    wide = scanner._wide_counts(con, "t", columns)
    narrow = scanner._narrow_counts(con, "t", columns)
    distinct = scanner._distinct_counts(con, "t", columns)
    values = con.execute(
        "SELECT CAST(a AS VARCHAR), CAST(b AS VARCHAR), CAST(n AS VARCHAR), s, r FROM t"
    ).fetchall()
    expected = []
    for i in range(len(columns)):
        found = [count_personal_data(row[i]) for row in values if row[i] is not None]
        expected.append((sum(1 for p, _ in found if p), sum(1 for _, c in found if c)))
    assert expected[2] == (200, 0) and expected[3] == (0, 0)  # every 3rd of 300 rows: a small number
    assert expected[0][0] > 50 and expected[0][1] > 20 and expected[1][0] > 0  # the data holds both kinds
    assert expected[4] == (100, 50)  # 2 of the 6 repeated values hold a phone, 1 a credit code: 50 rows each
    assert narrow == wide == distinct == expected
    # the shape follows the row bound (and a query is scanned wide): all give the same findings
    small = scanner._column_counts(con, "t", columns, rows=300)
    assert (
        small
        == scanner._column_counts(con, "t", columns)
        == scanner._column_counts(con, "(SELECT * FROM t)", columns)
        == [f"{c}: {k}" for c, (p, n) in zip(columns, expected, strict=True) for k in scanner._kinds(p, n)]
    )
