"""A small hand-made warehouse for the quality tests: every check passes on it as built."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from orchestration.raw_schema import create_raw_schema

AS_OF = dt.date(2026, 11, 20)
REQUIRED_WITH_UPDATED_AT = ("staff", "clients", "contracts", "invoices", "payments", "tasks")


def build_warehouse(path: Path, *, history_nights: int = 5) -> Path:
    conn = duckdb.connect(str(path))
    create_raw_schema(conn)
    # freshness: every required entity last updated the day before the as-of date (lag 1 day)
    for e in REQUIRED_WITH_UPDATED_AT:
        key = {
            "staff": "staff_id",
            "clients": "client_id",
            "contracts": "contract_id",
            "invoices": "invoice_id",
            "payments": "payment_id",
            "tasks": "task_id",
        }[e]
        conn.execute(
            f"insert into raw.{e} ({key}, updated_at) values ('K1', TIMESTAMP '2026-11-19 18:30:00')"
        )
    # volume history: payments accepted 100,110,90,100,105 (median 100), unique = accepted - 2 (median 98)
    history = [100, 110, 90, 100, 105][:history_nights]
    for i, n in enumerate(history, start=1):
        night = AS_OF - dt.timedelta(days=i)
        for e in ("payments", "invoices", "tasks"):
            conn.execute(
                "insert into raw.load_runs values (?, ?, ?, 1, ?, ?, 0, ?, NULL, ?)",
                [f"L{i}", night, e, n, n, n - 2, dt.datetime.combine(night, dt.time(2, 0))],
            )
    tonight = dt.datetime(2026, 11, 21, 2, 0)
    # an earlier, superseded load of tonight: must be ignored (the latest load of a night counts)
    conn.execute(
        "insert into raw.load_runs values ('T0', ?, 'payments', 1, 10, 10, 0, 10, NULL, ?)",
        [AS_OF, tonight - dt.timedelta(hours=1)],
    )
    for e in ("staff", "clients", "contracts", "invoices", "payments", "tasks"):
        read, rejected = (97, 2) if e == "payments" else (100, 0)
        unique = 93 if e == "payments" else 98
        conn.execute(
            "insert into raw.load_runs values ('T1', ?, ?, 1, ?, ?, ?, ?, NULL, ?)",
            [AS_OF, e, read, read - rejected, rejected, unique, tonight],
        )
        conn.execute(
            "insert into raw.load_files values "
            "('T1', ?, ?, ?, 1, 'csv', 'utf-8', 'loaded', NULL, ?, ?, ?, 0)",
            [AS_OF, e, f"{e}/2026-11-20.csv", read, read - rejected, rejected],
        )
    conn.execute("create schema core")
    conn.execute("""create table core.fct_invoices as select * from (values
        ('I1', 'C1', 1000.00::DECIMAL, 0.00::DECIMAL, DATE '2026-10-01', DATE '2026-10-31', 0),
        ('I2', 'C1', 2500.00::DECIMAL, 1000.00::DECIMAL, DATE '2026-09-01', DATE '2026-09-30', 51),
        ('I3', 'C2', 800.00::DECIMAL, 800.00::DECIMAL, DATE '2026-11-01', DATE '2026-11-30', 0)
        ) t(invoice_id, client_id, amount, outstanding_amount, issue_date, due_date, days_past_due)""")
    # 40 payments in the 30-day window: 20 wechat, 10 alipay, 10 bank_transfer; 2 unidentified (5%)
    conn.execute("""create table core.fct_payments as
        select 'P' || i as payment_id, (100 + i)::DECIMAL as amount,
            DATE '2026-11-20' - (i % 30)::INTEGER as paid_date,
            case when i <= 20 then 'wechat' when i <= 30 then 'alipay' else 'bank_transfer' end as channel,
            case when i in (7, 33) then 'unidentified' else 'client_id' end as identification_method
        from range(1, 41) r(i)""")
    conn.execute("""create table core.fct_tasks as select * from (values
        ('T1', 'bookkeeping', 'done', DATE '2026-11-15', 0),
        ('T2', 'tax_filing', 'in_progress', DATE '2026-11-15', 3),
        ('T3', 'bookkeeping', 'todo', DATE '2026-11-25', NULL)
        ) t(task_id, stage, status, due_date, error_count)""")
    conn.execute("""create table core.dim_clients as select * from (values
        ('C1', 'tech', 'general', 'active'), ('C2', 'trade', 'small_scale', 'active'),
        ('C3', 'other', 'small_scale', 'churned')) t(client_id, industry, taxpayer_type, status)""")
    conn.close()
    return path


def break_warehouse(path: Path) -> None:
    """One defect per kind: a negative payment, stale payments, a volume drop, unidentified receipts."""
    conn = duckdb.connect(str(path))
    conn.execute("update core.fct_payments set amount = -5 where payment_id = 'P3'")
    conn.execute("update raw.payments set updated_at = TIMESTAMP '2026-11-15 09:00:00'")
    conn.execute(
        "update raw.load_runs set rows_accepted = 40, rows_read = 42, rows_unique = 40 "
        "where load_id = 'T1' and entity = 'payments'"
    )
    # P1..P10 unidentified, with P33 from the clean build: 11 of 40
    conn.execute(
        "update core.fct_payments set identification_method = 'unidentified' "
        "where payment_id in ('P1','P2','P3','P4','P5','P6','P7','P8','P9','P10')"
    )
    conn.close()
