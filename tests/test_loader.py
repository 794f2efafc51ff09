"""Loader rules on small hand-written files: encodings, headers, types, rejects, dedup, atomicity."""

import datetime as dt
import json
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import pytest

from orchestration.loading import LoadError, load_entity
from orchestration.loading.options import LoadOptions

FIXTURES = Path(__file__).parent / "fixtures" / "loader"
AS_OF = dt.date(2026, 1, 7)


@pytest.fixture
def conn(tmp_path):
    c = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield c
    c.close()


@pytest.fixture
def raw(tmp_path):
    path = tmp_path / "raw"
    path.mkdir()
    return path


def write(raw: Path, entity: str, name: str, text: str, encoding: str = "utf-8") -> Path:
    folder = raw / entity
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


NOW = LoadOptions(settle_seconds=0)  # hand-written files are complete when written


def load(conn, entity, raw, load_id="L1"):
    return load_entity(conn, entity, raw, load_id=load_id, as_of_date=AS_OF, options=NOW)


def rows(conn, sql):
    return conn.execute(sql).fetchall()


def rejects(conn, entity):
    return rows(
        conn,
        f"SELECT source_file, source_line, reason FROM raw.load_rejects WHERE entity = '{entity}' "
        "ORDER BY source_file, source_line",
    )


STAFF_HEADER = "staff_id,staff_name,role,team,updated_at\n"


# --- encodings --------------------------------------------------------------------------------------


def test_gb18030_file_with_chinese_headers_and_labels(conn, raw):
    fixture = FIXTURES / "clients_gb18030.csv"
    with pytest.raises(UnicodeDecodeError):
        fixture.read_bytes().decode("utf-8")  # the test really exercises the GB18030 path
    (raw / "clients").mkdir()
    shutil.copy(fixture, raw / "clients" / "export.csv")

    result = load(conn, "clients", raw)

    [f] = result.files
    assert (f.encoding, f.status, f.rows_read, f.rows_accepted, f.rows_rejected) == (
        "gb18030",
        "loaded",
        3,
        2,
        1,
    )
    got = rows(
        conn,
        "SELECT client_id, client_name, credit_code, taxpayer_type, industry, region, signed_date, "
        "accountant_id, status, updated_at, _source_line FROM raw.clients ORDER BY client_id",
    )
    assert got == [
        (
            "0000611365",
            "杭州云帆科技有限公司",
            "91330106MA2KXXXX1X",
            "small_scale",
            "tech",
            "西湖区",
            dt.date(2024, 3, 1),
            "S001",
            "active",
            dt.datetime(2026, 1, 5, 9, 30),
            2,
        ),
        (
            "0000611366",
            "宁波海通商贸有限公司",
            None,
            "general",
            "trade",
            "鄞州区",
            dt.date(2023, 11, 20),
            "S002",
            "churned",
            dt.datetime(2026, 1, 6, 18, 5, 30),
            3,
        ),
    ]
    assert rejects(conn, "clients") == [
        (
            "clients/export.csv",
            4,
            "taxpayer_type: 未知枚举值 unknown value '小规模' (expected general/small_scale)",
        )
    ]
    record = json.loads(rows(conn, "SELECT raw_record FROM raw.load_rejects")[0][0])
    assert record["客户编号"] == "0000611367" and record["纳税人类型"] == "小规模"


def test_utf8_with_bom_header_is_recognised(conn, raw):
    write(raw, "staff", "s.csv", STAFF_HEADER + "007,王芳,会计,一部,2026-01-01 08:00\n", "utf-8-sig")
    result = load(conn, "staff", raw)
    assert result.files[0].encoding == "utf-8-sig"
    assert rows(conn, "SELECT staff_id, staff_name, role, team FROM raw.staff") == [
        ("007", "王芳", "accountant", "一部")
    ]


def test_unknown_encoding_rejects_the_file(conn, raw):
    path = write(raw, "staff", "s.csv", STAFF_HEADER)
    path.write_bytes(STAFF_HEADER.encode() + b"\xff\xfe\xfa,x,accountant,,2026-01-01\n")
    with pytest.raises(LoadError, match="unknown encoding"):
        load(conn, "staff", raw)


# --- xlsx ------------------------------------------------------------------------------------------


def test_xlsx_date_cells_leading_zero_ids_and_sheet_rows(conn, raw):
    (raw / "payments").mkdir()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["收款编号", "客户编号", "收款日期", "收款金额", "收款渠道", "付款方", "更新时间"])
    ws.append(
        ["0000123", "0000611365", dt.date(2026, 1, 5), 1500, "微信", "张三", dt.datetime(2026, 1, 5, 10, 30)]
    )
    ws.append([])  # sheet row 3 left empty: not a row, later rows keep their sheet row numbers
    ws.append(
        ["0000124", "0000611366", dt.datetime(2026, 1, 6), 1280.5, "Bank Transfer", None, dt.date(2026, 1, 6)]
    )
    ws.append(["0000125", None, "2026/1/7", 0, "cash", None, dt.datetime(2026, 1, 7, 9, 0)])
    wb.create_sheet("说明").append(["this sheet is ignored"])
    wb.save(raw / "payments" / "2026-01.xlsx")

    result = load(conn, "payments", raw)

    [f] = result.files
    assert (f.file_format, f.encoding, f.rows_read, f.rows_accepted, f.rows_rejected) == (
        "xlsx",
        None,
        3,
        2,
        1,
    )
    assert f.empty_rows_skipped == 1
    assert rows(
        conn,
        "SELECT payment_id, client_id, paid_date, amount, channel, payer_name, updated_at, _source_line "
        "FROM raw.payments ORDER BY payment_id",
    ) == [
        (
            "0000123",
            "0000611365",
            dt.date(2026, 1, 5),
            Decimal("1500.00"),
            "wechat",
            "张三",
            dt.datetime(2026, 1, 5, 10, 30),
            2,
        ),
        (
            "0000124",
            "0000611366",
            dt.date(2026, 1, 6),
            Decimal("1280.50"),
            "bank_transfer",
            None,
            dt.datetime(2026, 1, 6),
            4,
        ),
    ]
    assert rejects(conn, "payments") == [
        ("payments/2026-01.xlsx", 5, "amount: 必须大于 0 must be > 0, got '0'")
    ]


# --- headers ---------------------------------------------------------------------------------------


def test_aliases_fullwidth_parentheses_case_and_extra_columns(conn, raw):
    header = " 账单编号 ,CLIENT_ID,Issue_Date,到期日（截止）,应收金额（元）,"
    header += "ｓｔａｔｕｓ,更新时间(北京时间),业务员,\n"
    write(
        raw, "invoices", "inv.csv", header + "INV-01,0001,2026-01-01,2026-01-31,880,未结清,2026-01-01,张三,\n"
    )
    load(conn, "invoices", raw)
    got = rows(
        conn,
        "SELECT invoice_id, client_id, contract_id, issue_date, due_date, amount, status, _extra "
        "FROM raw.invoices",
    )
    assert got[0][:7] == (
        "INV-01",
        "0001",
        None,
        dt.date(2026, 1, 1),
        dt.date(2026, 1, 31),
        Decimal("880.00"),
        "open",
    )
    assert json.loads(got[0][7]) == {"业务员": "张三", "_col9": None}


def test_no_extra_columns_gives_empty_json(conn, raw):
    write(raw, "staff", "s.csv", STAFF_HEADER + "S1,李雷,sales,,2026-01-01\n")
    load(conn, "staff", raw)
    assert json.loads(rows(conn, "SELECT _extra FROM raw.staff")[0][0]) == {}


def test_two_headers_for_one_column_reject_the_file(conn, raw):
    write(
        raw, "staff", "s.csv", "staff_id,员工编号,staff_name,role,updated_at\nS1,S1,李雷,sales,2026-01-01\n"
    )
    with pytest.raises(LoadError, match="'staff_id' and '员工编号' both map to staff_id"):
        load(conn, "staff", raw)


# --- values and rejects ----------------------------------------------------------------------------

CONTRACTS = (
    "contract_id,client_id,service_type,billing_cycle,fee_per_cycle,start_date,end_date,status,updated_at\n"
    'C1,0001,代理记账,月付,"¥1,280.50",2026/1/1,2026年12月31日,执行中,2026-01-02 08:00\n'  # 2 ok
    "C2,0001,bookkeeping,monthly,300,2026-02-30,2026-12-31,active,2026-01-02\n"  # 3 bad date
    "C3,0001,bookkeeping,monthly,-100,2026-01-01,2026-12-31,active,2026-01-02\n"  # 4 negative
    "C4,0001,bookkeeping,weekly,300,2026-01-01,2026-12-31,active,2026-01-02\n"  # 5 unknown enum
    "C5,,bookkeeping,monthly,300,2026-01-01,2026-12-31,active,2026-01-02\n"  # 6 missing required
    "C6,0001,bookkeeping,monthly,300,2026-03-01,2026-02-28,active,2026-01-02\n"  # 7 end < start
    'C7,0001,bookkeeping,monthly,"12,3x",2026-01-01,2026-12-31,active,2026-01-02\n'  # 8 bad amount
    "C8,0001,工商注册,one off,1.234,2026-01-01,2026-12-31,ACTIVE,2026-01-02 8h\n"  # 9 two faults
    "C9,0001, Tax Planning ,ANNUAL,￥1500,2026-01-01,2026-12-31,已到期,2026-01-03\n"  # 10 ok
)


def test_each_bad_row_kind_is_rejected_with_reason_and_line(conn, raw):
    write(raw, "contracts", "c.csv", CONTRACTS)
    result = load(conn, "contracts", raw)
    assert rejects(conn, "contracts") == [
        ("contracts/c.csv", 3, "start_date: 非法日期 invalid date '2026-02-30'"),
        ("contracts/c.csv", 4, "fee_per_cycle: 不得小于 0 must be >= 0, got '-100'"),
        (
            "contracts/c.csv",
            5,
            "billing_cycle: 未知枚举值 unknown value 'weekly' "
            "(expected monthly/quarterly/semiannual/annual/one_off)",
        ),
        ("contracts/c.csv", 6, "client_id: 缺少必填值 missing required value"),
        (
            "contracts/c.csv",
            7,
            "end_date: 违反规则 violates end_date >= start_date (2026-02-28 vs 2026-03-01)",
        ),
        ("contracts/c.csv", 8, "fee_per_cycle: 非法金额 invalid amount '12,3x'"),
        (
            "contracts/c.csv",
            9,
            "fee_per_cycle: 金额超过两位小数 more than 2 decimals '1.234'; "
            "updated_at: 非法时间 invalid timestamp '2026-01-02 8h'",
        ),
    ]
    assert rows(
        conn,
        "SELECT contract_id, service_type, billing_cycle, fee_per_cycle, start_date, end_date, status "
        "FROM raw.contracts ORDER BY contract_id",
    ) == [
        (
            "C1",
            "bookkeeping",
            "monthly",
            Decimal("1280.50"),
            dt.date(2026, 1, 1),
            dt.date(2026, 12, 31),
            "active",
        ),
        (
            "C9",
            "tax_planning",
            "annual",
            Decimal("1500.00"),
            dt.date(2026, 1, 1),
            dt.date(2026, 12, 31),
            "expired",
        ),
    ]
    # Row accounting: 9 data rows read = 2 accepted + 7 rejected, in the result and in raw.load_files.
    [f] = result.files
    assert (f.rows_read, f.rows_accepted, f.rows_rejected) == (9, 2, 7)
    assert rows(
        conn, "SELECT rows_read, rows_accepted, rows_rejected, rows_superseded FROM raw.load_files"
    ) == [(9, 2, 7, 0)]
    record = json.loads(rows(conn, "SELECT raw_record FROM raw.load_rejects WHERE source_line = 8")[0][0])
    assert record["fee_per_cycle"] == "12,3x" and record["contract_id"] == "C7"


def test_enum_labels_extra_spellings_and_spacing(conn, raw):
    # `工商注册` is an extra label of service_type; `one off` matches one_off with spacing ignored.
    write(
        raw,
        "contracts",
        "c.csv",
        CONTRACTS.splitlines()[0] + "\n"
        "C8,0001,工商注册,one off,1.23,2026-01-01,2026-12-31,ACTIVE,2026-01-02\n",
    )
    load(conn, "contracts", raw)
    assert rows(conn, "SELECT service_type, billing_cycle, fee_per_cycle, status FROM raw.contracts") == [
        ("registration", "one_off", Decimal("1.23"), "active")
    ]


def test_integers_booleans_ranges_and_periods(conn, raw):
    write(
        raw,
        "feedback",
        "f.csv",
        "feedback_id,client_id,feedback_date,score,is_complaint,category,updated_at\n"
        "F1,0001,2026-01-02,5,是,服务态度,2026-01-02\n"  # 2 ok
        "F2,0001,2026-01-02,0,否,,2026-01-02\n"  # 3 score below 1
        "F3,0001,2026-01-02,6,1,,2026-01-02\n"  # 4 score above 5
        "F4,0001,2026-01-02,4.5,maybe,,2026-01-02\n"  # 5 not an integer, not a boolean
        "F5,0001,2026-01-02,,FALSE,,2026-01-02\n",
    )  # 6 ok, score optional
    write(
        raw,
        "tasks",
        "t.csv",
        "task_id,client_id,service_type,stage,period,assignee_id,created_at,due_date,status,error_count,"
        "updated_at\n"
        "T1,0001,代理记账,记账,2026年1月,S1,2026-01-01 09:00,2026-01-15,进行中,2,2026-01-02\n"
        "T2,0001,bookkeeping,bookkeeping,2026/02,S1,2026-01-01 09:00,2026-01-15,todo,-1,2026-01-02\n"
        "T3,0001,bookkeeping,bookkeeping,2026-13,S1,2026-01-01 09:00,2026-01-15,todo,,2026-01-02\n",
    )
    load(conn, "feedback", raw)
    load(conn, "tasks", raw)
    assert rows(conn, "SELECT feedback_id, score, is_complaint FROM raw.feedback ORDER BY 1") == [
        ("F1", 5, True),
        ("F5", None, False),
    ]
    assert rejects(conn, "feedback") == [
        ("feedback/f.csv", 3, "score: 不得小于 1 must be >= 1, got '0'"),
        ("feedback/f.csv", 4, "score: 不得大于 5 must be <= 5, got '6'"),
        (
            "feedback/f.csv",
            5,
            "score: 非法整数 invalid integer '4.5'; is_complaint: 非法布尔值 invalid boolean 'maybe'",
        ),
    ]
    assert rows(conn, "SELECT task_id, stage, period, status, error_count FROM raw.tasks") == [
        ("T1", "bookkeeping", "2026-01", "in_progress", 2)
    ]
    assert rejects(conn, "tasks") == [
        ("tasks/t.csv", 3, "error_count: 不得小于 0 must be >= 0, got '-1'"),
        ("tasks/t.csv", 4, "period: 非法期间 invalid period (YYYY-MM) '2026-13'"),
    ]


def test_amount_formats(conn, raw):
    write(
        raw,
        "invoices",
        "i.csv",
        "invoice_id,client_id,issue_date,due_date,amount,status,updated_at\n"
        'I1,0001,2026-01-01,2026-01-31,"¥1,280.50",open,2026-01-01\n'
        "I2,0001,2026-01-01,2026-01-31,￥ 1500,open,2026-01-01\n"
        'I3,0001,2026-01-01,2026-01-31,"1,234,567.8",open,2026-01-01\n'
        "I4,0001,2026-01-01,2026-01-31,1.234,open,2026-01-01\n"
        'I5,0001,2026-01-01,2026-01-31,"1,23",open,2026-01-01\n'
        "I6,0001,2026-01-01,2026-01-31,-¥5,open,2026-01-01\n",
    )
    load(conn, "invoices", raw)
    assert rows(conn, "SELECT invoice_id, amount FROM raw.invoices ORDER BY 1") == [
        ("I1", Decimal("1280.50")),
        ("I2", Decimal("1500.00")),
        ("I3", Decimal("1234567.80")),
    ]
    assert [r[1:] for r in rejects(conn, "invoices")] == [
        (5, "amount: 金额超过两位小数 more than 2 decimals '1.234'"),
        (6, "amount: 非法金额 invalid amount '1,23'"),
        (7, "amount: 必须大于 0 must be > 0, got '-¥5'"),
    ]


def test_line_numbers_survive_quoted_newlines_and_blank_lines(conn, raw):
    write(
        raw,
        "payments",
        "p.csv",
        "payment_id,paid_date,amount,channel,reference,updated_at\r\n"
        'P1,2026-01-01,10,cash,"第一行\r\n第二行",2026-01-01\r\n'  # lines 2-3
        "\r\n"  # line 4 blank
        "P2,2026-01-01,x,cash,,2026-01-01\r\n"  # line 5 rejected
        ",,,,,\r\n"  # line 6 empty record
        "P3,2026-01-01,y,cash,,2026-01-01\r\n",
    )  # line 7 rejected
    result = load(conn, "payments", raw)
    assert rows(conn, "SELECT payment_id, reference, _source_line FROM raw.payments") == [
        ("P1", "第一行\r\n第二行", 2)
    ]
    assert [r[1] for r in rejects(conn, "payments")] == [5, 7]
    assert (result.files[0].rows_read, result.files[0].empty_rows_skipped) == (3, 1)


def test_whitespace_trimmed_and_empty_string_is_null(conn, raw):
    write(raw, "staff", "s.csv", STAFF_HEADER + "  0042 ,\u3000韩梅梅 , Field_Agent ,  ,2026-01-01\n")
    load(conn, "staff", raw)
    assert rows(conn, "SELECT staff_id, staff_name, role, team FROM raw.staff") == [
        ("0042", "韩梅梅", "field_agent", None)
    ]


# --- dedup -----------------------------------------------------------------------------------------

PAY_HEADER = "payment_id,paid_date,amount,channel,updated_at\n"


def test_dedup_greatest_updated_at_then_later_file_then_later_line(conn, raw):
    write(
        raw,
        "payments",
        "a.csv",
        PAY_HEADER
        + "P1,2026-01-01,100,cash,2026-01-02 00:00\n"  # a:2 newest P1 -> wins over b
        + "P2,2026-01-01,200,cash,2026-01-05 00:00\n"  # a:3 tie with b -> loses to later file
        + "P3,2026-01-01,300,cash,2026-01-03 00:00\n"  # a:4 tie in same file -> loses to line 5
        + "P3,2026-01-01,301,cash,2026-01-03 00:00\n",
    )  # a:5 wins
    write(
        raw,
        "payments",
        "b.csv",
        PAY_HEADER
        + "P1,2026-01-01,111,cash,2026-01-01 23:59:59\n"  # older
        + "P2,2026-01-01,222,cash,2026/1/5\n",
    )  # same instant as a:3, later file
    result = load(conn, "payments", raw)
    assert rows(
        conn, "SELECT payment_id, amount, _source_file, _source_line FROM raw.payments ORDER BY 1"
    ) == [
        ("P1", Decimal("100.00"), "payments/a.csv", 2),
        ("P2", Decimal("222.00"), "payments/b.csv", 3),
        ("P3", Decimal("301.00"), "payments/a.csv", 5),
    ]
    assert [(f.source_file, f.file_order, f.rows_read, f.rows_superseded) for f in result.files] == [
        ("payments/a.csv", 1, 4, 2),
        ("payments/b.csv", 2, 2, 1),
    ]
    assert result.rows_unique == 3
    assert rows(
        conn,
        "SELECT files, rows_read, rows_accepted, rows_rejected, rows_unique, max_updated_at "
        "FROM raw.load_runs",
    ) == [(2, 6, 6, 0, 3, dt.datetime(2026, 1, 5))]


def test_targets_dedup_by_file_then_line_with_empty_scope(conn, raw):
    header = "期间,指标,范围类型,范围,目标值\n"
    write(raw, "targets", "1.csv", header + '2026-01,回款额,公司,,"1,000,000"\n2026-01,收款率,公司,,0.9\n')
    write(
        raw,
        "targets",
        "2.csv",
        header + "2026/1,collected_amount,company,,1200000\n"
        "2026年1月,收款率,公司,,0.95\n2026-01,收款率,公司,,0.97\n",
    )
    result = load(conn, "targets", raw)
    assert rows(
        conn,
        "SELECT period, metric, scope_type, scope_id, target_value, _source_line FROM raw.targets ORDER BY 2",
    ) == [
        ("2026-01", "collected_amount", "company", None, 1200000.0, 2),
        ("2026-01", "collection_rate", "company", None, 0.97, 4),
    ]
    assert [f.rows_superseded for f in result.files] == [2, 1]
    assert result.max_updated_at is None


# --- file-level failures and atomicity -------------------------------------------------------------


def test_missing_required_column_fails_loudly_and_keeps_previous_table(conn, raw):
    write(raw, "staff", "1.csv", STAFF_HEADER + "S1,李雷,sales,一部,2026-01-01\n")
    load(conn, "staff", raw, load_id="good")
    write(raw, "staff", "2.csv", "staff_id,staff_name,team,updated_at\nS2,韩梅梅,二部,2026-01-02\n")

    with pytest.raises(
        LoadError, match=r"staff/2.csv: 缺少必填列 missing required column\(s\): role \(岗位\)"
    ):
        load(conn, "staff", raw, load_id="bad")

    assert rows(conn, "SELECT staff_id, staff_name, _source_file FROM raw.staff") == [
        ("S1", "李雷", "staff/1.csv")
    ]
    assert rows(
        conn, "SELECT load_id, source_file, status, message FROM raw.load_files ORDER BY load_id"
    ) == [
        ("bad", "staff/2.csv", "rejected_file", "缺少必填列 missing required column(s): role (岗位)"),
        ("good", "staff/1.csv", "loaded", None),
    ]
    assert rows(conn, "SELECT load_id, rows_unique FROM raw.load_runs") == [("good", 1)]
    # Also visible from a fresh connection: the rejected-file row was committed.
    conn.close()
    db = duckdb.connect(str(raw.parent / "warehouse.duckdb"), read_only=True)
    assert rows(db, "SELECT count(*) FROM raw.load_files WHERE status = 'rejected_file'") == [(1,)]
    db.close()


def test_malformed_csv_rejects_the_file_with_the_line(conn, raw):
    write(raw, "staff", "s.csv", STAFF_HEADER + "S1,李雷,sales,一部,2026-01-01\nS2,韩梅梅,sales,2026-01-01\n")
    with pytest.raises(LoadError, match="malformed CSV: .*Line: 3"):
        load(conn, "staff", raw)
    assert rows(conn, "SELECT status FROM raw.load_files") == [("rejected_file",)]


def test_missing_required_folder_fails(conn, raw):
    with pytest.raises(LoadError, match="required folder .*clients is missing"):
        load(conn, "clients", raw)


def test_empty_required_folder_fails(conn, raw):
    (raw / "clients").mkdir()
    (raw / "clients" / "notes.txt").write_text("not an export")
    with pytest.raises(LoadError, match="clients is empty"):
        load(conn, "clients", raw)


def test_missing_optional_folder_gives_empty_table(conn, raw):
    result = load(conn, "feedback", raw)
    assert result.files == [] and result.rows_unique == 0
    assert rows(conn, "SELECT count(*) FROM raw.feedback") == [(0,)]
    assert [c[0] for c in conn.execute("DESCRIBE raw.feedback").fetchall()][-3:] == [
        "_source_file",
        "_source_line",
        "_extra",
    ]
    assert rows(conn, "SELECT entity, files, rows_read FROM raw.load_runs") == [("feedback", 0, 0)]


def test_reload_replaces_entity_rows_and_appends_runs(conn, raw):
    body = "S1,李雷,sales,一部,2026-01-01\nS2,x,nope,,2026-01-01\n"
    path = write(raw, "staff", "1.csv", STAFF_HEADER + body)
    load(conn, "staff", raw, load_id="r1")
    load(conn, "staff", raw, load_id="r2")  # unchanged: skipped, rejects kept with the load that read it
    assert rows(conn, "SELECT load_id, count(*) FROM raw.load_rejects GROUP BY 1") == [("r1", 1)]
    assert rows(conn, "SELECT load_id, status FROM raw.load_files") == [("r2", "skipped_unchanged")]
    path.write_bytes(path.read_bytes() + "S3,韩梅梅,sales,一部,2026-01-02\n".encode())
    load(conn, "staff", raw, load_id="r3")  # changed file: read again, its old rejects replaced
    assert rows(conn, "SELECT load_id, count(*) FROM raw.load_rejects GROUP BY 1") == [("r3", 1)]
    assert rows(conn, "SELECT load_id, status FROM raw.load_files") == [("r3", "loaded")]
    assert rows(conn, "SELECT load_id FROM raw.load_runs ORDER BY 1") == [("r1",), ("r2",), ("r3",)]
    assert rows(conn, "SELECT count(*) FROM raw.staff") == [(2,)]


# --- docs ------------------------------------------------------------------------------------------


def test_contract_doc_tables_match_contract():
    from orchestration.loading.contract_doc import DOC, generated_section, render

    assert generated_section(DOC.read_text(encoding="utf-8")) == render().strip("\n")
