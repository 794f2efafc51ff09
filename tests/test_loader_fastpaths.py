"""The loader's shortcuts give what the general rules give: cell trimming without the regex, canonical
dates and timestamps by a cast, ASCII chunks not decoded, GB18030 decoded only when UTF-8 is in doubt."""

import datetime as dt

import duckdb
import pytest

from orchestration.loading.errors import FileRejected
from orchestration.loading.filescan import scan_file
from orchestration.loading.parsing import _SPACE, macros_sql


@pytest.fixture(scope="module")
def conn():
    c = duckdb.connect()
    for stmt in macros_sql():
        c.execute(stmt)
    yield c
    c.close()


def test_cells_are_trimmed_like_the_regex_for_every_character(conn):
    # every code point (no surrogates) around and inside a cell, and alone; the regex is the rule
    conn.execute(
        "CREATE TEMP TABLE chars AS SELECT chr(i::INTEGER) AS ch FROM range(1, 1114112) t(i) "
        "WHERE i < 55296 OR i > 57343"
    )
    rule = f"nullif(regexp_replace(s, '^[{_SPACE}]+|[{_SPACE}]+$', '', 'g'), '')"
    differ = conn.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE s IS NOT NULL AND _ld_clean(s) IS DISTINCT FROM s)
        FROM (SELECT unnest([ch, ch || 'a', 'a' || ch, ch || 'a' || ch, 'a' || ch || 'b', ch || ch]) AS s
              FROM chars UNION ALL SELECT NULL UNION ALL SELECT '')
        WHERE _ld_clean(s) IS DISTINCT FROM {rule}"""
    ).fetchall()
    assert differ == [(0, 0)]
    # the characters trimmed: ASCII tab, LF, FF, CR, space (not VT), NBSP and the ideographic space
    trimmed = conn.execute("SELECT list_sort(list(ascii(ch))) FROM chars WHERE _ld_clean(ch || 'a') = 'a'")
    assert trimmed.fetchall()[0][0] == [9, 10, 12, 13, 32, 160, 12288]


CANONICAL = [
    "2024-02-29 23:59:59", "2023-02-29 10:00:00", "2024-01-01 24:00:00", "2024-01-01 23:59:60",
    "2024-13-01 00:00:00", "2024-12-31 00:00:00", "0000-01-01 00:00:00", "9999-12-31 23:59:59",
    "2024-04-31 12:00:00", "2024-01-01 12:60:00", "2024-01-01 99:00:00",
]  # fmt: skip


@pytest.mark.parametrize("text", CANONICAL)
def test_canonical_timestamps_and_dates_parse_as_their_general_spellings(conn, text):
    # 'YYYY/MM/DD' and 'YYYY-MM-DDTHH:MM:SS' do not match the canonical shape: the general rule
    slash, t_form, date = text.replace("-", "/"), text.replace(" ", "T"), text[:10]
    got = conn.execute(
        "SELECT _ld_timestamp(?), _ld_timestamp(?), _ld_timestamp(?), _ld_date(?), _ld_date(?)",
        [text, slash, t_form, date, date.replace("-", "/")],
    ).fetchall()[0]
    assert got[0] == got[1] == got[2]
    assert got[3] == got[4]


def test_canonical_values_parse_to_the_expected_instants(conn):
    got = conn.execute(
        "SELECT _ld_timestamp('2024-02-29 23:59:59'), _ld_timestamp('2023-02-29 10:00:00'), "
        "_ld_date('2024-02-29'), _ld_date('2023-02-29')"
    ).fetchall()[0]
    assert got == (dt.datetime(2024, 2, 29, 23, 59, 59), None, dt.date(2024, 2, 29), None)


def test_enum_codes_and_labels_map_alike(conn):
    got = conn.execute(
        "SELECT _ld_enum_task_status('done'), _ld_enum_task_status('Done'), _ld_enum_task_status(' d-o_ne'), "
        "_ld_enum_task_status('donee')"
    ).fetchall()[0]
    assert got == ("done", "done", "done", None)


def _scan(tmp_path, data: bytes, chunk_bytes: int):
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    try:
        scan = scan_file(path, chunk_bytes)
    except FileRejected as exc:
        return str(exc)
    return scan.encoding, scan.sha256, scan.newline


@pytest.mark.parametrize(
    "data, encoding",
    [
        # a UTF-8 character cut by a chunk border, then a chunk of ASCII: still UTF-8
        (("名称,x\n" + "ab" * 20 + "\n").encode() * 3, "utf-8"),
        # GBK bytes whose second half is ASCII ('a' = 0x61 is a GBK trail byte): not UTF-8 once the
        # ASCII chunk after the lead byte is decoded (it is not skipped while a character is open)
        (b"h,i\n\xe4" + b"abcd" * 4 + b"\n", "gb18030"),
        # mostly ASCII, with GBK that is not valid UTF-8 far into the file
        (b"a,b\n" + b"x,y\n" * 50 + "郑州,史".encode("gb18030") + b"\n", "gb18030"),
    ],
    ids=["utf8_cut", "gbk_trail_ascii", "late_gbk"],
)
def test_ascii_chunks_skipped_give_the_scan_of_one_big_chunk(tmp_path, data, encoding):
    whole = _scan(tmp_path, data, 1 << 20)
    assert whole[0] == encoding
    for size in (1, 2, 3, 4, 5, 7, 16):
        assert _scan(tmp_path, data, size) == whole
