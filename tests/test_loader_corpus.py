"""Hostile corpus: generated files per class, each with its expected outcome, through the real loader.

Every case loads into a real DuckDB file; whatever the outcome, per file rows read = accepted +
rejected, and a bad file is a `raw.load_files` row with a reason, never a crash.
"""

import datetime as dt
import os
import random
import re
import threading
import time
from pathlib import Path

import duckdb
import pytest

from orchestration.loading import LoadError, load_entity
from orchestration.loading.options import LoadOptions

AS_OF = dt.date(2026, 11, 20)
NOW = LoadOptions(settle_seconds=0)
HEAD = "payment_id,paid_date,amount,channel,payer_name,updated_at"
GBK_NAMES = "郑远 叶小平 史志强"  # every character's GBK bytes are also valid UTF-8


def body(*lines: str, nl: str = "\n", final: bool = True) -> str:
    text = nl.join((HEAD, *lines))
    return text + nl if final else text


def row(pid: str, amount: str = "10.00", paid: str = "2026-11-01", payer: str = "", upd: str = "2026-11-02"):
    return f"{pid},{paid},{amount},cash,{payer},{upd}"


# (case id, file bytes, expected file status, accepted payment_ids, [(line, reason fragment)])
CASES = [
    ("gbk_valid_as_utf8", body(row("P1", payer=GBK_NAMES)).encode("gb18030"), "loaded", ["P1"], []),
    ("utf8_chinese", body(row("P1", payer="郑远 史志强 ¥·（）")).encode(), "loaded", ["P1"], []),
    ("utf8_bom", b"\xef\xbb\xbf" + body(row("P1", payer="叶小平")).encode(), "loaded", ["P1"], []),
    ("utf16_bom", body(row("P1")).encode("utf-16"), "rejected_file", [], [(0, "UTF-16")]),
    ("utf16_no_bom", body(row("P1")).encode("utf-16-le"), "rejected_file", [], [(0, "NUL bytes")]),
    ("zero_bytes", b"", "rejected_file", [], [(0, "empty file (0 bytes)")]),
    ("garbage", random.Random(7).randbytes(4000).replace(b"\x00", b"\xff"), "rejected_file", [],
     [(0, "unknown encoding")]),
    ("header_only_no_newline", HEAD.encode(), "loaded", [], []),
    ("cr_only", body(row("P1"), row("P2", "x"), row("P3"), nl="\r").encode(), "loaded", ["P1", "P3"],
     [(3, "invalid amount 'x'")]),
    ("crlf_and_lf", (HEAD + "\r\n" + row("P1") + "\n" + row("P2") + "\r\n").encode(), "loaded",
     ["P1", "P2"], []),
    ("cr_mixed_with_lf", (HEAD + "\n" + row("P1") + "\r" + row("P2") + "\n").encode(), "rejected_file", [],
     [(0, "mixed line endings")]),
    ("truncated_last_record", body(row("P1", "1234.00"), row("P2", "12"), final=False).encode(), "loaded",
     ["P1"], [(3, "incomplete final line")]),
    ("truncated_gbk", body(row("P1", payer="史志强"), row("P2", payer="郑"), final=False).encode("gb18030"),
     "loaded", ["P1"], [(3, "incomplete final line")]),
    ("semicolon_separated", body(row("P1")).replace(",", ";").encode(), "rejected_file", [],
     [(0, "missing required column")]),
    ("tab_separated", body(row("P1")).replace(",", "\t").encode(), "rejected_file", [],
     [(0, "missing required column")]),
    ("quoted_separators", body('P1,2026-11-01,"1,234.50",cash,"张三, 李四 ""公司""",2026-11-02').encode(),
     "loaded", ["P1"], []),
    ("unterminated_quote", body(row("P1"), 'P2,2026-11-01,5,cash,"open,2026-11-02').encode(),
     "rejected_file", [], [(0, "malformed CSV")]),
    ("extra_field_with_phone", body(row("P1"), row("P2", payer="13812345678") + ",x").encode(),
     "rejected_file", [], [(0, "malformed CSV")]),
    ("id_shapes", body(row("000123"), row("A/B"), row("A\\B"), row("A\x07B"), row("X" * 65), row(".."),
                       row("Y" * 64), row("张-01")).encode(), "loaded", ["000123", "Y" * 64, "张-01"],
     [(3, "contains / or \\"), (4, "contains / or \\"), (5, "control characters"),
      (6, "longer than 64"), (7, "cannot be a file name")]),
    ("date_extremes", body(row("D1", paid="0001-01-01"), row("D2", paid="9999-12-31"),
                           row("D3", paid="1999-12-31"), row("D4", paid="2000-01-01"),
                           row("D5", paid="2031-11-20"), row("D6", paid="2031-11-21"),
                           row("D7", upd="9999-12-31 23:59"), row("D8", upd="2026-11-21 08:00"),
                           row("D9", paid="2026-02-30")).encode(), "loaded", ["D4", "D5", "D8"],
     [(2, "plausible range"), (3, "plausible range"), (4, "plausible range"), (7, "plausible range"),
      (8, "updated_at: 日期超出合理范围"), (10, "invalid date '2026-02-30'")]),
    # a 3 MB field (beyond DuckDB's 2 MB line limit): the file is rejected whole, with the line named
    ("huge_field_3mb", body(row("P1", payer="张" * 1_000_000), row("P2")).encode(), "rejected_file", [],
     [(0, "Maximum line size")]),
    ("odd_amounts", body(row("A1", '"¥1,234.00"'), row("A2", " ￥ 12 "), row("A3", "1234.5"),
                         row("A4", '"1,23"'), row("A5", "-5"), row("A6", "1e3"), row("A7", "1.234"),
                         row("A8", "１２"), row("A9", "0"), row("A10", "NaN")).encode(),
     "loaded", ["A1", "A2", "A3"],
     [(5, "invalid amount '1,23'"), (6, "must be > 0"), (7, "invalid amount '1e3'"),
      (8, "more than 2 decimals"), (9, "invalid amount"), (10, "must be > 0"), (11, "invalid amount 'NaN'")]),
]  # fmt: skip


@pytest.fixture
def conn(tmp_path):
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield c
    c.close()


def write(raw: Path, name: str, data: bytes) -> Path:
    (raw / "payments").mkdir(parents=True, exist_ok=True)
    path = raw / "payments" / name
    path.write_bytes(data)
    return path


def assert_balanced(conn):
    assert conn.execute(
        "SELECT count(*) FROM raw.load_files WHERE rows_read <> rows_accepted + rows_rejected"
    ).fetchall() == [(0,)]


@pytest.mark.parametrize(("case", "data", "status", "accepted", "rejects"), CASES, ids=[c[0] for c in CASES])
def test_corpus_case(conn, tmp_path, case, data, status, accepted, rejects):
    write(tmp_path / "raw", f"{case}.csv", data)
    try:
        load_entity(conn, "payments", tmp_path / "raw", load_id="c", as_of_date=AS_OF, options=NOW)
    except LoadError as exc:
        assert status == "rejected_file", exc
    [(got_status, message, read, acc, rej)] = conn.execute(
        "SELECT status, message, rows_read, rows_accepted, rows_rejected FROM raw.load_files"
    ).fetchall()
    assert got_status == status, message
    assert_balanced(conn)
    if status == "rejected_file":
        assert (read, acc, rej) == (0, 0, 0)
        assert rejects[0][1] in message
        assert "13812345678" not in message  # the reason names the line, never copies it
        return
    got = conn.execute("SELECT payment_id FROM raw.payments ORDER BY _source_line").fetchall()
    assert [r[0] for r in got] == accepted
    got_rejects = conn.execute(
        "SELECT source_line, reason FROM raw.load_rejects ORDER BY source_line"
    ).fetchall()
    assert len(got_rejects) == len(rejects), got_rejects
    for (line, reason), (want_line, fragment) in zip(got_rejects, rejects, strict=True):
        assert line == want_line and fragment in reason, (line, reason)
    assert (read, acc, rej) == (len(accepted) + len(rejects), len(accepted), len(rejects))


def test_gbk_names_really_are_valid_utf8_and_come_back_intact(conn, tmp_path):
    data = body(row("P1", payer=GBK_NAMES)).encode("gb18030")
    assert data.decode("utf-8") != body(row("P1", payer=GBK_NAMES))  # the trap: valid, but garbled
    write(tmp_path / "raw", "a.csv", data)
    result = load_entity(conn, "payments", tmp_path / "raw", load_id="c", as_of_date=AS_OF, options=NOW)
    assert result.files[0].encoding == "gb18030"
    assert conn.execute("SELECT payer_name FROM raw.payments").fetchall() == [(GBK_NAMES,)]


def test_truncated_amount_is_never_loaded_cut(conn, tmp_path):
    full = body(row("P1"), row("P2", "1234.00"))
    write(tmp_path / "raw", "a.csv", full[: full.index("1234.00") + 2].encode())  # cut to "12"
    load_entity(conn, "payments", tmp_path / "raw", load_id="c", as_of_date=AS_OF, options=NOW)
    assert conn.execute("SELECT payment_id, amount::VARCHAR FROM raw.payments").fetchall() == [
        ("P1", "10.00")
    ]
    [(reason, record)] = conn.execute("SELECT reason, raw_record->>'amount' FROM raw.load_rejects").fetchall()
    assert "incomplete final line" in reason and record == "12"


def test_declared_encoding_wins_and_is_enforced(conn, tmp_path):
    raw = tmp_path / "raw"
    write(raw, "a.csv", body(row("P1", payer="叶小平")).encode("gb18030"))
    (raw / "payments" / ".encoding").write_text("gb18030\n")
    result = load_entity(conn, "payments", raw, load_id="c", as_of_date=AS_OF, options=NOW)
    assert result.files[0].encoding == "gb18030" and "declared" in result.files[0].message
    write(raw, "b.csv", body(row("P2", payer="张三")).encode("gb18030"))
    (raw / "payments" / "b.csv.encoding").write_text("utf-8")  # per-file declaration beats the folder's
    with pytest.raises(LoadError, match="not valid utf-8 as declared in b.csv.encoding"):
        load_entity(conn, "payments", raw, load_id="d", as_of_date=AS_OF, options=NOW)


def test_future_updated_at_is_accepted_and_flagged(conn, tmp_path):
    write(
        tmp_path / "raw",
        "a.csv",
        body(row("P1", upd="2026-11-20 23:59"), row("P2", upd="2026-11-21")).encode(),
    )
    result = load_entity(conn, "payments", tmp_path / "raw", load_id="c", as_of_date=AS_OF, options=NOW)
    assert result.rows_accepted == 2 and result.rows_future_updated_at == 1
    assert conn.execute(
        "SELECT check_name, source_file, source_line, record_key FROM raw.load_warnings"
    ).fetchall() == [("future_updated_at", "payments/a.csv", 3, "P2")]


def _old(path: Path) -> None:
    past = time.time() - 3600
    os.utime(path, (past, past))


def _during_settle(action) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(0.4), action()))
    thread.start()
    return thread


def test_file_still_being_written_waits_for_the_next_night(conn, tmp_path):
    raw = tmp_path / "raw"
    _old(write(raw, "a.csv", body(row("P1")).encode()))
    young = write(raw, "b.csv", body(row("P2")).encode())
    thread = _during_settle(lambda: young.open("ab").write(row("P3").encode() + b"\n"))
    result = load_entity(
        conn, "payments", raw, load_id="c", as_of_date=AS_OF, options=LoadOptions(settle_seconds=1.5)
    )
    thread.join()
    assert [(f.source_file, f.status) for f in result.files] == [
        ("payments/a.csv", "loaded"),
        ("payments/b.csv", "waiting"),
    ]
    assert conn.execute("SELECT payment_id FROM raw.payments").fetchall() == [("P1",)]
    assert (
        "still being written"
        in conn.execute("SELECT message FROM raw.load_files WHERE status = 'waiting'").fetchall()[0][0]
    )


def test_file_deleted_mid_run_is_a_file_reject(conn, tmp_path):
    raw = tmp_path / "raw"
    _old(write(raw, "a.csv", body(row("P1")).encode()))
    young = write(raw, "b.csv", body(row("P2")).encode())
    thread = _during_settle(young.unlink)
    with pytest.raises(
        LoadError, match="payments/b.csv: 文件在加载过程中消失 file disappeared during the load"
    ):
        load_entity(
            conn, "payments", raw, load_id="c", as_of_date=AS_OF, options=LoadOptions(settle_seconds=1.5)
        )
    thread.join()
    assert conn.execute("SELECT source_file, status FROM raw.load_files").fetchall() == [
        ("payments/b.csv", "rejected_file")
    ]


def test_done_markers_decide_when_a_folder_uses_them(conn, tmp_path):
    raw = tmp_path / "raw"
    write(raw, "a.csv", body(row("P1")).encode())
    write(raw, "a.csv.done", b"")
    write(raw, "b.csv", body(row("P2")).encode())  # no marker yet
    result = load_entity(
        conn, "payments", raw, load_id="c", as_of_date=AS_OF, options=LoadOptions(settle_seconds=600)
    )
    assert [f.status for f in result.files] == ["loaded", "waiting"]
    assert conn.execute("SELECT payment_id FROM raw.payments").fetchall() == [("P1",)]


def _load_all(tmp_path: Path, name: str, data: bytes, chunk_bytes: int) -> tuple:
    raw = tmp_path / name / "raw"
    write(raw, "a.csv", data)
    with duckdb.connect(str(tmp_path / name / "w.duckdb")) as c:
        opts = LoadOptions(settle_seconds=0, chunk_bytes=chunk_bytes)
        load_entity(c, "payments", raw, load_id="c", as_of_date=AS_OF, options=opts)
        return (
            c.execute("SELECT * EXCLUDE (_extra) FROM raw.payments ORDER BY payment_id").fetchall(),
            c.execute("SELECT source_line, reason FROM raw.load_rejects ORDER BY source_line").fetchall(),
        )


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_tiny_chunks_give_the_same_load(tmp_path, newline):
    """Chunk borders inside GB18030 characters, CRLF pairs, blank lines and quoted line breaks."""
    text = body(
        row("P1", payer="郑远"), "", row("P2", "x", payer="叶小平"), "", "",
        f'P3,2026-11-01,5,cash,"史志强{newline}第二行",2026-11-02', row("P4", payer="小平"), nl=newline,
        final=False,
    )  # fmt: skip
    data = text.encode("gb18030")
    small = _load_all(tmp_path, "small", data, 3)
    assert small == _load_all(tmp_path, "large", data, 1 << 20)
    assert [(r[0], r[-1]) for r in small[0]] == [("P1", 2), ("P3", 7)]  # blank lines 3, 5, 6 counted
    assert [(line, reason.split(":")[0]) for line, reason in small[1]] == [
        (4, "amount"),
        (9, "末行不完整 incomplete final line"),
    ]


# ---------------------------------------------------------------- unreadable files
# As root, chmod 000 does not make a file unreadable (CAP_DAC_OVERRIDE), so the class is produced by
# real kernel conditions: entries that are not regular files, a read that fails with EIO, and a
# loader process without the DAC capabilities (the way a non-root service account meets chmod 000).


def _fifo(path: Path) -> None:
    os.mkfifo(path)

    # Watchdog: were the loader to open the FIFO it would block; this writer then unblocks it with a
    # valid export, so the test fails on "loaded" instead of hanging.
    def unblock():
        time.sleep(30)
        if path.exists():
            with open(path, "wb") as fh:
                fh.write(body(row("F1")).encode())

    threading.Thread(target=unblock, daemon=True).start()


NOT_FILES = [
    ("directory", lambda p: p.mkdir(), "not a regular file: a directory"),
    ("broken_symlink", lambda p: p.symlink_to(p.parent / "gone.csv"), "broken symbolic link"),
    ("symlink_loop", lambda p: p.symlink_to(p), "unreadable file: Too many levels of symbolic links"),
    ("fifo", _fifo, "named pipe (FIFO)"),
    # a regular file whose read fails with EIO (address 0 of the reading process is never mapped)
    ("read_error_eio", lambda p: p.symlink_to("/proc/self/mem"), "read error: Input/output error"),
]


@pytest.mark.parametrize(("case", "make", "reason"), NOT_FILES, ids=[c[0] for c in NOT_FILES])
def test_unreadable_entries_are_file_rejects(conn, tmp_path, case, make, reason):
    raw = tmp_path / "raw"
    write(raw, "a_good.csv", body(row("P1")).encode())
    make(raw / "payments" / f"b_{case}.csv")
    with pytest.raises(LoadError, match=re.escape(f"payments/b_{case}.csv: ") + ".*" + re.escape(reason)):
        load_entity(conn, "payments", raw, load_id="c", as_of_date=AS_OF, options=NOW)
    assert conn.execute(
        "SELECT source_file, status, rows_read FROM raw.load_files ORDER BY source_file"
    ).fetchall() == [(f"payments/b_{case}.csv", "rejected_file", 0)]
    [(message,)] = conn.execute("SELECT message FROM raw.load_files").fetchall()
    assert reason in message
    assert_balanced(conn)


def test_damaged_workbook_is_a_file_reject(conn, tmp_path):
    write(tmp_path / "raw", "a.xlsx", b"PK\x03\x04" + random.Random(3).randbytes(2000))
    with pytest.raises(LoadError, match="payments/a.xlsx: 无法读取 xlsx unreadable workbook"):
        load_entity(conn, "payments", tmp_path / "raw", load_id="c", as_of_date=AS_OF, options=NOW)
    assert conn.execute("SELECT status, rows_read FROM raw.load_files").fetchall() == [("rejected_file", 0)]


def test_symlink_to_a_regular_file_is_loaded(conn, tmp_path):
    raw = tmp_path / "raw"
    target = tmp_path / "exports" / "p.csv"
    target.parent.mkdir()
    target.write_bytes(body(row("P1")).encode())
    (raw / "payments").mkdir(parents=True)
    (raw / "payments" / "a.csv").symlink_to(target)
    load_entity(conn, "payments", raw, load_id="c", as_of_date=AS_OF, options=NOW)
    assert conn.execute("SELECT payment_id FROM raw.payments").fetchall() == [("P1",)]


PERMISSION_LOADER = """
import datetime as dt, sys
from pathlib import Path
import duckdb
from orchestration.loading import LoadError, load_entity
from orchestration.loading.options import LoadOptions
raw, warehouse = sys.argv[1:3]
with duckdb.connect(warehouse) as conn:
    try:
        load_entity(conn, "payments", Path(raw), load_id="c", as_of_date=dt.date(2026, 11, 20),
                    options=LoadOptions(settle_seconds=0))
    except LoadError as exc:
        print("LoadError", exc)
"""


def test_permission_denied_is_a_file_reject(tmp_path):
    """chmod 000, read by a loader that really lacks the right to read it (root without
    CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH via setpriv, or any non-root user)."""
    import shutil
    import subprocess
    import sys

    raw = tmp_path / "raw"
    write(raw, "a.csv", body(row("P1")).encode()).chmod(0)
    cmd = [sys.executable, "-c", PERMISSION_LOADER, str(raw), str(tmp_path / "w.duckdb")]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("root without setpriv: cannot drop the capability that reads chmod 000 files")
        drop = "-dac_override,-dac_read_search"
        cmd = ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", *cmd]
    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(repo)}, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]  # no crash
    assert "payments/a.csv: 无法读取文件 unreadable file: Permission denied" in proc.stdout
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT status, rows_read FROM raw.load_files").fetchall() == [
            ("rejected_file", 0)
        ]
