"""Simulation of a bookkeeping firm's history, month by month, in canonical (contract) form.

Records are plain dicts keyed by contract column names, holding Python values: `date`, `datetime`,
amounts as integer cents, enums as English codes. References between records (invoice of a
payment, upstream task) are held as objects until ids are assigned at the end, so that ids can be
numbered in date order like a real system's. Formatting and files are `writers.py`'s job.

The causal story the reports must be able to reveal:
client traits (industry, payment habit, document punctuality, satisfaction) + accountant load
-> payment delays, late documents, bookkeeping errors, late filings -> feedback and complaints
-> renewal or churn at each contract's end.

The exported history starts at the window start, but the firm does not: a contract already running
then has lived its earlier months, and its client remembers them at renewal (Work.prior_experience),
so the first year's renewals are decided like every later one's (no start-of-history jump in the rate).
"""

from __future__ import annotations

import random
from datetime import date, datetime

from orchestration.demo.billing import Billing
from orchestration.demo.people import People
from orchestration.demo.records import CYCLE_MONTHS, TEAMS, Client, Contract
from orchestration.demo.timeline import add_months, at, days, month_first, month_idx
from orchestration.demo.work import Work

__all__ = ["CYCLE_MONTHS", "TEAMS", "Firm"]


class Firm(People, Billing, Work):
    """Runs the simulation; results in `self.staff`, `self.clients`, ... (lists of dicts)."""

    def __init__(self, as_of: date, seed: int, n_clients: int, months: int):
        self.as_of = as_of
        self.rng = random.Random(seed)
        # the months before the exported history (see Work.prior_experience) draw from their own stream
        self.prior_rng = random.Random(seed * 104729 + 3)
        self.n_clients = n_clients
        self.months = months
        self.cut = at(as_of, 20, 0)  # the export ran on the as-of evening: nothing later exists
        self.as_of_idx = month_idx(as_of)
        self.w_idx = self.as_of_idx - months + 1
        self.window_start = month_first(self.w_idx)
        self.staff: list[dict] = []
        self.clients: list[Client] = []
        self.contracts: list[Contract] = []
        self.invoices: list[dict] = []
        self.payments: list[dict] = []
        self.tasks: list[dict] = []
        self.feedback: list[dict] = []
        self.targets: list[dict] = []
        self.names_taken: set[str] = set()

    # ----------------------------------------------------------------- helpers
    def ts(self, d: date, lo: int = 9, hi: int = 18) -> datetime:
        """A working-hours timestamp on day d."""
        r = self.rng
        return at(d, r.randint(lo, hi), r.randint(0, 59), r.randint(0, 59))

    def clip(self, t: datetime) -> datetime:
        return min(t, self.cut)

    def rand_date(self, lo: date, hi: date) -> date:
        return lo + days(self.rng.randint(0, max(0, (hi - lo).days)))

    # ---------------------------------------------------------------- driver
    def run(self) -> Firm:
        self.make_staff()
        self._staff_index = {s["staff_id"]: s for s in self.staff}
        self.make_clients()
        self.pending: dict[int, list] = {}
        ends: dict[int, list[Contract]] = {}
        self.open_book(ends)
        for m in range(self.w_idx, self.as_of_idx + 1):
            self.simulate_month(m, ends)
        self.one_offs()
        self.finish()
        return self

    def open_book(self, ends: dict[int, list[Contract]]) -> None:
        """Contracts running at the window start; new clients queued for their first service month."""
        r = self.rng
        for c in self.clients:
            signed = c.rec["signed_date"]
            if signed < self.window_start:  # contract running at the window start, on its anniversary
                s_idx = month_idx(signed)
                start_idx = s_idx + 12 * ((self.w_idx - s_idx) // 12)
                start = month_first(start_idx)
                k = self.bookkeeping_contract(c, start, start - days(r.randint(0, 20)), None)
                ends.setdefault(month_idx(k.rec["end_date"]), []).append(k)
            else:  # new client: service starts next month unless signed early in the month
                start = signed.replace(day=1) if signed.day <= 10 else add_months(signed.replace(day=1), 1)
                start = signed if start > self.as_of else start
                self.pending.setdefault(month_idx(start), []).append((c, start, signed, None))

    def simulate_month(self, m: int, ends: dict[int, list[Contract]]) -> None:
        # 1. chains of the previous service month, with this month's accountant load
        work = []
        for c in self.clients:
            if c.churn_date is not None and c.churn_date < month_first(m - 1):
                continue
            for k in reversed(c.bk):
                if k.covers(m - 1):
                    work.append((c, k, self.accountant_for(c, month_first(m))))
                    break
        load: dict[str, int] = {}
        for _, _, acc in work:
            load[acc["staff_id"]] = load.get(acc["staff_id"], 0) + 1
        for c, k, acc in work:
            ratio = load[acc["staff_id"]] / acc["monthly_capacity"]
            if m == self.w_idx and k.first_idx < m - 1:  # a contract running before the history starts
                self.prior_experience(c, k, range(k.first_idx, m - 1), ratio)
            self.chain(c, k, m - 1, acc, ratio)
        # 2. contracts starting this month
        for c, start, signed, prev in self.pending.pop(m, []):
            if c.churn_date is not None:
                continue
            k = self.bookkeeping_contract(c, start, signed, prev)
            ends.setdefault(month_idx(k.rec["end_date"]), []).append(k)
        # 3. contracts ending this month: renew or churn
        for k in ends.pop(m, []):
            if k.terminate_idx is None and k.rec["end_date"] < self.as_of:
                self.decide_renewal(k)
        for c, start, signed, prev in self.pending.pop(m, []):  # renewals starting this very month
            k = self.bookkeeping_contract(c, start, signed, prev)
            ends.setdefault(month_idx(k.rec["end_date"]), []).append(k)

    def finish(self) -> None:
        """Assign ids in date order, resolve references, settle last-updated times."""
        for c in self.clients:
            c.rec["accountant_id"] = self.accountant_for(c, self.as_of)["staff_id"]
            if c.rec["updated_at"] is None:
                c.rec["updated_at"] = self.clip(self.ts(self.rand_date(c.rec["signed_date"], self.as_of)))
        self.contracts.sort(key=lambda k: (k.rec["signed_date"], k.rec["start_date"], k.rec["client_id"]))
        for n, k in enumerate(self.contracts, 1):
            k.rec["contract_id"] = f"HT{k.rec['signed_date'].year}-{n:05d}"
        for k in self.contracts:
            prev = k.rec["previous_contract_id"]
            k.rec["previous_contract_id"] = prev.rec["contract_id"] if prev is not None else None
        self.invoices.sort(key=lambda i: (i["issue_date"], i["client_id"]))
        for n, inv in enumerate(self.invoices, 1):
            inv["invoice_id"] = f"AR{inv['issue_date']:%y%m}{n:06d}"
            k = inv["contract_id"]
            inv["contract_id"] = k.rec["contract_id"] if k is not None else None
        self.payments.sort(key=lambda p: (p["paid_date"], p["updated_at"], p["_client"].rec["client_id"]))
        for n, p in enumerate(self.payments, 1):
            p["payment_id"] = f"SK{n:08d}"
            if p["invoice_id"] is not None:
                p["invoice_id"] = p["invoice_id"]["invoice_id"]
        self.tasks.sort(key=lambda t: (t["created_at"], t["client_id"]))
        for n, t in enumerate(self.tasks, 1):
            t["task_id"] = f"T{n:09d}"
        for t in self.tasks:
            k, dep = t["contract_id"], t["depends_on_task_id"]
            t["contract_id"] = k.rec["contract_id"] if k is not None else None
            t["depends_on_task_id"] = dep["task_id"] if dep is not None else None
        self.feedback.sort(key=lambda f: (f["feedback_date"], f["client_id"]))
        for n, f in enumerate(self.feedback, 1):
            f["feedback_id"] = f"FB{n:07d}"
        for s in self.staff:
            s.pop("_weight", None)
