"""Write the simulated firm into the landing zone as a realistic set of raw exports.

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

import random
from datetime import date, datetime, timedelta
from pathlib import Path

from openpyxl import Workbook

from orchestration.contract import ENTITIES, ENUMS
from orchestration.demo.firm import Firm
from orchestration.demo.targets import make_targets
from orchestration.demo.timeline import at
from orchestration.demo.writers import Renderer, Style, header, save_xlsx, write_csv

FAULTS = ("missing_column", "stale")
OWNED_PREFIX = "demo_"

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


def clear_owned(out_dir: Path) -> None:
    """Remove files a previous run wrote; anything else in the landing zone is left alone."""
    for entity in ENTITIES:
        folder = out_dir / entity
        if folder.is_dir():
            for f in folder.iterdir():
                if f.is_file() and f.name.startswith(OWNED_PREFIX):
                    f.unlink()


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


def _staff_xlsx(out: Output, firm: Firm, stamp: datetime) -> None:
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


def _targets_xlsx(out: Output, firm: Firm, rows: list[dict], stamp: datetime) -> None:
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


def _payment_files(firm: Firm, rng: random.Random) -> tuple[list[list[dict]], list[dict]]:
    """Split payments into the history snapshot and three daily drops, with re-sent versions.

    A file holds the payments last updated on its day (the snapshot: up to as_of-3). Some keys occur
    twice: an older wrong version in the snapshot and the final one in a drop, and two exact
    updated_at ties (across two drops, and inside one drop) where the later row must win. Returns
    the rows of each file in order and a log of those keys.
    """
    as_of = firm.as_of
    snap_cut = as_of - timedelta(days=3)
    drop_days = [as_of - timedelta(days=k) for k in (2, 1, 0)]

    def file_of(p: dict) -> int:
        d = p["updated_at"].date()
        return 0 if d <= snap_cut else 1 + drop_days.index(d)

    def stamp(k: int) -> datetime:
        return at(drop_days[k - 1], rng.randint(9, 18), rng.randint(0, 59), rng.randint(0, 59))

    applied = [p for p in firm.payments if file_of(p) == 0 and p["invoice_id"] is not None]
    if len(applied) < 3:  # a firm too small to show re-sent versions
        return [[p for p in firm.payments if file_of(p) == k] for k in range(4)], []
    n_picks = min(len(applied) - 2, max(5, len(firm.payments) // 200))
    chosen = rng.sample(applied, n_picks + 2)
    picks, (cross, inner) = chosen[:-2], chosen[-2:]
    entries: list[tuple[int, int, dict]] = []  # (file, rank: 0 = superseded version first, record)
    versions: list[dict] = []
    for n, p in enumerate(picks):
        old = dict(p)
        if n < 2:  # a typo in the amount, corrected a few days later
            old["amount"], kind = p["amount"] * 10, "amount_corrected"
        else:  # received unapplied, applied to its invoice later
            old["invoice_id"], kind = None, "applied_later"
        entries.append((0, 0, old))
        p["updated_at"] = stamp(1 + n % 3)
        versions.append({"payment_id": p["payment_id"], "kind": kind, "winner_amount": p["amount"] / 100})
    forced = {cross["payment_id"]: 2}
    # whole minutes: one drop style writes HH:MM, and a tie must stay a tie once rendered
    cross["updated_at"] = stamp(1).replace(second=0)
    entries.append((1, 0, dict(cross, amount=cross["amount"] + 100000)))
    inner["updated_at"] = stamp(3).replace(second=0)
    entries.append((3, 0, dict(inner, amount=inner["amount"] + 100000)))
    for p, kind in ((cross, "tie_across_files"), (inner, "tie_within_file")):
        versions.append({"payment_id": p["payment_id"], "kind": kind, "winner_amount": p["amount"] / 100})
    for p in firm.payments:
        entries.append((forced.get(p["payment_id"], file_of(p)), 1, p))
    files: list[list[tuple]] = [[], [], [], []]
    for k, rank, rec in entries:
        files[k].append((rec["updated_at"], rec["payment_id"], rank, rec))
    return [[e[3] for e in sorted(f, key=lambda e: e[:3])] for f in files], versions


def _client_versions(firm: Firm, rng: random.Random) -> dict[str, dict]:
    """Older versions of the clients that changed in the last three days (the rest of the story is the
    increment file): recent churns, plus a few phone changes and suspensions. Mutates the final records."""
    as_of = firm.as_of
    clients_recs = [c.rec for c in firm.clients]
    snap_day = as_of - timedelta(days=3)
    recent = [c for c in clients_recs if c["updated_at"].date() > snap_day]
    recent_ids = {c["client_id"] for c in recent}
    active = [c for c in clients_recs if c["status"] == "active" and c["client_id"] not in recent_ids]
    changed = rng.sample(active, min(len(active), max(3, len(clients_recs) // 100)))
    old_versions: dict[str, dict] = {}
    for n, c in enumerate(changed + recent):
        old = dict(c)
        old["updated_at"] = min(c["updated_at"], at(snap_day, 18, 0)) - timedelta(days=rng.randint(1, 90))
        if n < len(changed):
            c["updated_at"] = at(
                as_of - timedelta(days=rng.randint(0, 2)), rng.randint(9, 18), rng.randint(0, 59)
            )
            if n % 3 == 2:
                c["status"] = "suspended"
            else:
                c["contact_phone"] = "1" + c["contact_phone"][1:3] + f"{rng.randint(0, 99999999):08d}"
        else:
            old["status"] = "active"
        old_versions[c["client_id"]] = old
    return old_versions


def _stale_shift(firm: Firm) -> timedelta:
    newest = max(
        r["updated_at"]
        for rows in (
            firm.staff,
            [c.rec for c in firm.clients],
            [k.rec for k in firm.contracts],
            firm.invoices,
            firm.payments,
            firm.tasks,
            firm.feedback,
        )  # fmt: skip
        for r in rows
    )
    return at(firm.as_of - timedelta(days=10), 20, 0) - newest


def generate(
    out_dir: Path,
    as_of: date,
    seed: int = 42,
    clients: int = 800,
    months: int = 24,
    fault: str | None = None,
) -> dict:
    """Simulate a firm and write its raw exports under out_dir/<entity>/; returns summary counts."""
    if fault is not None and fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; choose from {FAULTS}")
    out_dir = Path(out_dir)
    firm = Firm(as_of, seed, clients, months).run()
    targets = make_targets(firm)
    rng = random.Random(seed * 7919 + 1)  # file-level choices, independent of the firm's stream
    pay_files, versions = _payment_files(firm, rng)  # before the shift: files follow real update days
    old_versions = _client_versions(firm, rng)
    shift = _stale_shift(firm) if fault == "stale" else timedelta(0)
    clear_owned(out_dir)
    out = Output(out_dir, shift)
    stamp = at(as_of, 20, 0)
    _staff_xlsx(out, firm, stamp)
    _clients_csv(out, firm, old_versions)
    _contracts_csv(out, firm)
    _invoices_csv(out, firm)
    _payments_csv(out, firm, pay_files, fault)
    _tasks_csv(out, firm)
    _feedback_csv(out, firm)
    _targets_xlsx(out, firm, targets, stamp)
    summary = {
        "as_of": as_of.isoformat(),
        "seed": seed,
        "clients": clients,
        "months": months,
        "fault": fault,
        "out_dir": str(out_dir),
        "rows_written": out.rows,  # data lines incl. duplicates and dirty rows
        "unique_keys": {
            "staff": len(firm.staff),
            "clients": len(firm.clients),
            "contracts": len(firm.contracts),
            "invoices": len(firm.invoices),
            "payments": len(firm.payments),
            "tasks": len(firm.tasks),
            "feedback": len(firm.feedback),
            "targets": len(targets),
        },
        "dirty_rows": {e: r for e, r in out.rejects.items() if r},
        "payment_versions": versions,
        "files": out.files,
    }
    return summary


def _clients_csv(out: Output, firm: Firm, old_versions: dict[str, dict]) -> None:
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


def _contracts_csv(out: Output, firm: Firm) -> None:
    contracts = [k.rec for k in firm.contracts]
    bad_fee = dict(contracts[len(contracts) // 2], contract_id="HT0000-99999")
    dirty = [(len(contracts) // 2, bad_fee, {"fee_per_cycle": "面议"}, "fee_per_cycle: invalid amount 面议")]
    out.csv("contracts", f"demo_contracts_{firm.as_of:%Y%m%d}.csv", EN, contracts, dirty=dirty)


def _invoices_csv(out: Output, firm: Firm) -> None:
    inv = firm.invoices
    base = inv[len(inv) // 2]
    bad_due = dict(base, invoice_id="AR0000999991", due_date=base["issue_date"] - timedelta(days=5))
    out.csv("invoices", f"demo_invoices_{firm.as_of:%Y%m%d}.csv", EN, inv,
            dirty=[(len(inv) // 2, bad_due, {}, "due_date before issue_date")])  # fmt: skip


def _payments_csv(out: Output, firm: Firm, pay_files: list[list[dict]], fault: str | None) -> None:
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


def _tasks_csv(out: Output, firm: Firm) -> None:
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


def _feedback_csv(out: Output, firm: Firm) -> None:
    fb = firm.feedback
    if fb:
        bad = dict(fb[-1], feedback_id=f"FB{len(fb) + 901:07d}")
        dirty = [
            (len(fb) // 2, bad, {"feedback_date": "2026-13-01"}, "feedback_date: invalid date 2026-13-01")
        ]
        out.csv("feedback", f"demo_feedback_{firm.as_of:%Y%m%d}.csv", ZH_BOM, fb, dirty=dirty)
