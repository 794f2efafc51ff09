"""Simulate the firm and write it into the landing zone as a realistic set of raw exports.

The simulation is orchestration.demo.firm; which payment and client versions go to which file, and
the stale-export fault, are decided here; the files themselves are written by orchestration.demo.exports
(its docstring lists the layout). All file names start with `demo_`, which is how reruns know which
files they own.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

from orchestration.contract import ENTITIES
from orchestration.demo import exports
from orchestration.demo.firm import Firm
from orchestration.demo.targets import make_targets
from orchestration.demo.timeline import at

FAULTS = ("missing_column", "stale")
OWNED_PREFIX = "demo_"


def clear_owned(out_dir: Path) -> None:
    """Remove files a previous run wrote; anything else in the landing zone is left alone."""
    for entity in ENTITIES:
        folder = out_dir / entity
        if folder.is_dir():
            for f in folder.iterdir():
                if f.is_file() and f.name.startswith(OWNED_PREFIX):
                    f.unlink()


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
    out = exports.Output(out_dir, shift)
    stamp = at(as_of, 20, 0)
    exports.staff_xlsx(out, firm, stamp)
    exports.clients_csv(out, firm, old_versions)
    exports.contracts_csv(out, firm)
    exports.invoices_csv(out, firm)
    exports.payments_csv(out, firm, pay_files, fault)
    exports.tasks_csv(out, firm)
    exports.feedback_csv(out, firm)
    exports.targets_xlsx(out, firm, targets, stamp)
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
