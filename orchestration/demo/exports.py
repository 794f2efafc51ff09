"""The demo firm's raw export files, entity by entity: names, encodings and the dirty rows each carries.

File layout (all names start with `demo_`, which is how reruns know which files they own):

    staff/demo_staff_<as_of>.xlsx                Chinese headers, enum labels, Excel date cells
    clients/demo_clients_0_full_<d-3>.csv        GB18030, Chinese headers/labels, CRLF, 2026/3/5 dates
    clients/demo_clients_1_incr_<as_of>.csv      UTF-8 with BOM, a few rows changed since the snapshot
    contracts/demo_contracts_<as_of>.csv         UTF-8, English
    invoices/demo_invoices_<as_of>.csv           UTF-8, English
    payments/demo_payments_0_history_<d-3>.csv   UTF-8, English: everything updated up to as_of-3
    payments/demo_payments_1_daily_<d>.csv       GB18030, Chinese, ¥1,280.00, 2026/11/19 or 2026年11月19日
    tasks/demo_tasks_<year>.csv                  UTF-8, English, one file per created_at year
    feedback/demo_feedback_<as_of>.csv           UTF-8 with BOM, Chinese headers, 是/否
    targets/demo_targets_<as_of>.xlsx            Chinese headers and labels, rates formatted as %
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from openpyxl import Workbook

from orchestration.contract import ENTITIES, ENUMS
from orchestration.demo.firm import Firm
from orchestration.demo.writers import Renderer, Style, header, save_xlsx, write_csv

EN = Style()
ZH_GB = Style(
    headers="zh", enums="label", dates="slash_short", seconds=False, encoding="gb18030", newline="\r\n"
)
ZH_BOM = Style(headers="zh", enums="label", booleans="zh", encoding="utf-8-sig")
DROP_STYLES = (
    Style(headers="zh", enums="label", dates="slash", amounts="yen", seconds=False, encoding="gb18030",
          newline="\r\n"),
    Style(headers="zh", enums="label", dates="cn", amounts="yen", encoding="gb18030", newline="\r\n"),
)  # fmt: skip


class Output:
    """Collects files and counts while writing."""

    def __init__(self, out_dir: Path, shift: timedelta):
        self.out_dir = out_dir
        self.shift = shift
        self.files: dict[str, list[str]] = {e: [] for e in ENTITIES}
        self.rows: dict[str, int] = {e: 0 for e in ENTITIES}
        self.rejects: dict[str, list[dict]] = {e: [] for e in ENTITIES}

    def csv(self, entity, name, style, records, dirty=(), drop=()) -> None:
        """dirty: (position, base record, {column: raw text}, reason) rows inserted among the good ones."""
        rd = Renderer(entity, style, self.shift)
        rows = [rd.row(rec, drop) for rec in records]
        good = len(rows)
        for i, (pos, base, override, reason) in enumerate(sorted(dirty, key=lambda d: d[0])):
            idx = min(pos, good) + i  # after the good rows before pos and the earlier dirty rows
            rows.insert(idx, rd.row(base, drop, override))
            self.rejects[entity].append({"file": f"{entity}/{name}", "line": idx + 2, "reason": reason})
        self.rows[entity] += write_csv(self.out_dir / entity / name, rd.headers(drop), rows, style)
        self.files[entity].append(f"{entity}/{name}")


def staff_xlsx(out: Output, firm: Firm, stamp: datetime) -> None:
    ent = ENTITIES["staff"]
    wb = Workbook()
    ws = wb.active
    ws.title = "员工花名册"
    heads = [header("staff", c.name, Style(headers="zh")) for c in ent.columns]
    heads[heads.index("姓名")] = " 姓名 "  # a stray space, as hand-kept sheets have
    ws.append(heads + ["职级"])  # an extra column the contract does not know
    rows = list(firm.staff)
    pos = len(rows) // 2 + 1
    dirty = dict(rows[pos - 1], staff_id=f"09{len(rows) + 1:03d}", role="实习生")
    rows.insert(pos, dirty)
    for i, s in enumerate(rows):
        role = ENUMS["role"].get(s["role"], s["role"])
        ws.append(
            [
                s["staff_id"],
                s["staff_name"],
                role,
                s["team"],
                s["hire_date"],
                s["leave_date"],
                s["monthly_capacity"],
                s["updated_at"] + out.shift,
                f"P{1 + i % 5}",
            ]  # fmt: skip
        )
    for cell in ws["A"][1:]:
        cell.number_format = "@"  # ids stay text
    for col in ("E", "F"):
        for cell in ws[col][1:]:
            cell.number_format = "yyyy-mm-dd"
    for cell in ws["H"][1:]:
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
    name = f"demo_staff_{firm.as_of:%Y%m%d}.xlsx"
    save_xlsx(wb, out.out_dir / "staff" / name, stamp)
    out.files["staff"].append(f"staff/{name}")
    out.rows["staff"] += len(rows)
    out.rejects["staff"].append(
        {"file": f"staff/{name}", "line": pos + 2, "reason": "role: unknown enum 实习生"}
    )


def targets_xlsx(out: Output, firm: Firm, rows: list[dict], stamp: datetime) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "经营目标"
    ws.append([header("targets", c.name, Style(headers="zh")) for c in ENTITIES["targets"].columns])
    rows = list(rows)
    bad = dict(rows[3])
    bad["target_value"], bad["period"] = None, "2099-01"  # required value left empty
    rows.insert(4, bad)
    for t in rows:
        ws.append(
            [
                t["period"],
                ENUMS["metric"][t["metric"]],
                ENUMS["scope_type"][t["scope_type"]],
                t["scope_id"],
                t["target_value"],
            ]  # fmt: skip
        )
        if t["metric"].endswith("_rate"):
            ws.cell(ws.max_row, 5).number_format = "0%"
        elif t["target_value"] is not None and t["target_value"] >= 1000:
            ws.cell(ws.max_row, 5).number_format = "#,##0"
    name = f"demo_targets_{firm.as_of:%Y%m%d}.xlsx"
    save_xlsx(wb, out.out_dir / "targets" / name, stamp)
    out.files["targets"].append(f"targets/{name}")
    out.rows["targets"] += len(rows)
    out.rejects["targets"].append(
        {"file": f"targets/{name}", "line": 6, "reason": "target_value: missing required value"}
    )


def clients_csv(out: Output, firm: Firm, old_versions: dict[str, dict]) -> None:
    """A GB18030 snapshot as of 3 days ago + a small BOM increment with the newer versions."""
    clients_recs = [c.rec for c in firm.clients]
    any_client = clients_recs[len(clients_recs) // 2]
    full = [old_versions.get(c["client_id"], c) for c in clients_recs]
    bad_enum = dict(
        any_client,
        client_id=f"{int(clients_recs[-1]['client_id']) + 11:010d}",
        client_name="北京云端互联网科技有限公司",
    )
    bad_name = dict(any_client, client_id=f"{int(clients_recs[-1]['client_id']) + 13:010d}", client_name=None)
    snapshot = f"demo_clients_0_full_{firm.as_of - timedelta(days=3):%Y%m%d}.csv"
    out.csv("clients", snapshot, ZH_GB, full, dirty=[
        (len(full) // 3, bad_enum, {"industry": "互联网"}, "industry: unknown enum 互联网"),
        (2 * len(full) // 3, bad_name, {}, "client_name: missing required value"),
    ])  # fmt: skip
    incr = [c for c in clients_recs if c["client_id"] in old_versions]
    out.csv("clients", f"demo_clients_1_incr_{firm.as_of:%Y%m%d}.csv", ZH_BOM, incr)


def contracts_csv(out: Output, firm: Firm) -> None:
    contracts = [k.rec for k in firm.contracts]
    bad_fee = dict(contracts[len(contracts) // 2], contract_id="HT0000-99999")
    dirty = [(len(contracts) // 2, bad_fee, {"fee_per_cycle": "面议"}, "fee_per_cycle: invalid amount 面议")]
    out.csv("contracts", f"demo_contracts_{firm.as_of:%Y%m%d}.csv", EN, contracts, dirty=dirty)


def invoices_csv(out: Output, firm: Firm) -> None:
    inv = firm.invoices
    base = inv[len(inv) // 2]
    bad_due = dict(base, invoice_id="AR0000999991", due_date=base["issue_date"] - timedelta(days=5))
    out.csv("invoices", f"demo_invoices_{firm.as_of:%Y%m%d}.csv", EN, inv,
            dirty=[(len(inv) // 2, bad_due, {}, "due_date before issue_date")])  # fmt: skip


def payments_csv(out: Output, firm: Firm, pay_files: list[list[dict]], fault: str | None) -> None:
    """The history snapshot + three daily drops (+ a broken manual drop under the fault)."""
    as_of, n_pay = firm.as_of, len(firm.payments)
    out.csv("payments", f"demo_payments_0_history_{as_of - timedelta(days=3):%Y%m%d}.csv", EN, pay_files[0])
    for k in (1, 2, 3):
        day = as_of - timedelta(days=3 - k)
        rows = pay_files[k]
        seed_row = rows[0] if rows else firm.payments[-1]
        dirty = []
        if k == 2:
            bad = dict(seed_row, payment_id=f"SK{n_pay + 901:08d}")
            dirty.append((len(rows) // 2, bad, {"amount": "12,3x"}, "amount: invalid amount 12,3x"))
        if k == 3:
            refund = dict(seed_row, payment_id=f"SK{n_pay + 902:08d}")
            dirty.append((len(rows), refund, {"amount": "-200.00"}, "amount: negative amount -200.00"))
        out.csv("payments", f"demo_payments_1_daily_{day:%Y%m%d}.csv", DROP_STYLES[k % 2], rows, dirty=dirty)
    if fault == "missing_column":
        resend = (pay_files[3] or firm.payments)[-5:]
        out.csv(
            "payments", f"demo_payments_2_manual_{as_of:%Y%m%d}.csv", DROP_STYLES[0], resend, drop=("amount",)
        )


def tasks_csv(out: Output, firm: Firm) -> None:
    """One file per year of creation."""
    by_year: dict[int, list[dict]] = {}
    for t in firm.tasks:
        by_year.setdefault(t["created_at"].year, []).append(t)
    last_year = max(by_year)
    for year, rows in by_year.items():
        dirty = []
        if year == last_year:
            bad = dict(rows[len(rows) // 2], task_id=f"T{len(firm.tasks) + 901:09d}")
            dirty.append((len(rows) // 2, bad, {"stage": "复核"}, "stage: unknown enum 复核"))
        out.csv("tasks", f"demo_tasks_{year}.csv", EN, rows, dirty=dirty)


def feedback_csv(out: Output, firm: Firm) -> None:
    fb = firm.feedback
    if fb:
        bad = dict(fb[-1], feedback_id=f"FB{len(fb) + 901:07d}")
        dirty = [
            (len(fb) // 2, bad, {"feedback_date": "2026-13-01"}, "feedback_date: invalid date 2026-13-01")
        ]
        out.csv("feedback", f"demo_feedback_{firm.as_of:%Y%m%d}.csv", ZH_BOM, fb, dirty=dirty)
