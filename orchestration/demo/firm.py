"""Simulation of a bookkeeping firm's history, month by month, in canonical (contract) form.

Records are plain dicts keyed by contract column names, holding Python values: `date`, `datetime`,
amounts as integer cents, enums as English codes. References between records (invoice of a
payment, upstream task) are held as objects until ids are assigned at the end, so that ids can be
numbered in date order like a real system's. Formatting and files are `writers.py`'s job.

The causal story the reports must be able to reveal:
client traits (industry, payment habit, document punctuality, satisfaction) + accountant load
-> payment delays, late documents, bookkeeping errors, late filings -> feedback and complaints
-> renewal or churn at each contract's end.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from orchestration.demo import names
from orchestration.demo.deadlines import filing_deadline
from orchestration.demo.timeline import add_months, at, days, month_first, month_idx, period

TEAMS = (
    ("朝阳分部", ("朝阳区", "东城区")),
    ("海淀分部", ("海淀区", "西城区", "昌平区")),
    ("通州分部", ("通州区", "大兴区", "丰台区")),
)
TEAM_WEIGHTS = (0.38, 0.34, 0.28)
INDUSTRY_WEIGHTS = {
    "services": 0.20,
    "trade": 0.22,
    "tech": 0.18,
    "construction": 0.10,
    "manufacturing": 0.10,
    "catering": 0.12,
    "other": 0.08,
}
# Mean days from invoice issue to payment (terms are INVOICE_TERMS = 30 days): tech mostly pays on
# time, construction ~16 days slower and mostly late; the firm as a whole is roughly 60 % on time.
PAY_DAYS = {
    "tech": 24,
    "services": 28,
    "catering": 27,
    "other": 31,
    "manufacturing": 34,
    "trade": 38,
    "construction": 40,
}
SOURCES = (("referral", 0.35), ("online", 0.25), ("walk_in", 0.15), ("partner", 0.20), ("event", 0.05))
CHANNELS = (("bank_transfer", 0.45), ("wechat", 0.28), ("alipay", 0.15), ("cash", 0.07), ("other", 0.05))
CYCLES = (("monthly", 1, 0.30), ("quarterly", 3, 0.35), ("semiannual", 6, 0.12), ("annual", 12, 0.23))
CYCLE_MONTHS = {name: k for name, k, _ in CYCLES}
FEES_SMALL = (200, 250, 300, 350, 400)
FEES_GENERAL = (600, 800, 1000, 1200, 1500)
ACTIVE_SHARE = 0.65  # share of all clients in service in an average month (measured on the simulation)
INVOICE_TERMS = 30  # days from issue to due date
YUAN = 100  # amounts are held in cents


def pick(rng: random.Random, weighted) -> str:
    items = list(weighted.items()) if isinstance(weighted, dict) else [(w[0], w[-1]) for w in weighted]
    return rng.choices([k for k, _ in items], weights=[w for _, w in items])[0]


def poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method: lam is small (< 3) here.
    limit, k, p = 2.718281828459045 ** (-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@dataclass(eq=False)
class Client:
    rec: dict
    team: int
    industry: str
    sat: float  # latent satisfaction (mean survey score)
    chronic: bool  # chronic late payer
    pay_offset: float  # personal deviation from the industry's payment speed
    doc_late: bool  # tends to hand in documents late
    monthly_fee: int  # yuan
    cycle: str
    contact: str  # person who pays by wechat/alipay/cash
    accountant: dict
    successor: dict  # takes over if the accountant leaves
    bk: list = field(default_factory=list)  # bookkeeping contracts in time order
    churn_date: date | None = None
    first_start: date | None = None


@dataclass(eq=False)
class Contract:
    rec: dict
    client: Client
    first_idx: int  # first service month
    terminate_idx: int | None = None  # service stops from this month on
    sign_task: dict | None = None
    invoices: list = field(default_factory=list)
    complaints: int = 0
    scores: list = field(default_factory=list)
    late_filings: int = 0

    def covers(self, idx: int) -> bool:
        if self.terminate_idx is not None and idx >= self.terminate_idx:
            return False
        return self.first_idx <= idx < self.first_idx + 12


class Firm:
    """Runs the simulation; results in `self.staff`, `self.clients`, ... (lists of dicts)."""

    def __init__(self, as_of: date, seed: int, n_clients: int, months: int):
        self.as_of = as_of
        self.rng = random.Random(seed)
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

    # ------------------------------------------------------------------ staff
    def make_staff(self) -> None:
        r, scale = self.rng, self.n_clients / 800
        n_acc = max(3, round(11 * scale))
        per_role = max(1, round(scale))
        self.team_staff: list[dict[str, list[dict]]] = []
        for t, (team, _) in enumerate(TEAMS):
            roles = {
                "manager": per_role,
                "accountant": n_acc // 3 + (1 if t < n_acc % 3 else 0),
                "field_agent": per_role,
                "sales": per_role,
                "service": per_role if t == 0 else max(0, round(scale) - 1),
            }
            members: dict[str, list[dict]] = {k: [] for k in roles}
            k = 0
            for role, count in roles.items():
                for _ in range(count):
                    k += 1
                    rec = self._staff_rec(f"0{t + 1}{k:03d}", role, team)
                    members[role].append(rec)
            self.team_staff.append(members)
        # One accountant of the first team left mid-window; a colleague took over the clients.
        self.leaver = None
        if self.months >= 4:
            members = self.team_staff[0]
            rec = self._staff_rec(f"01{len(self.staff) + 1:03d}", "accountant", TEAMS[0][0])
            rec["leave_date"] = add_months(self.window_start, self.months // 2) + days(r.randint(5, 20))
            rec["updated_at"] = self.ts(rec["leave_date"], 17, 19)
            members["accountant"].append(rec)
            self.leaver = rec
        # Uneven load at any firm size: each accountant gets a share of the clients (weight) and a
        # capacity set so that the expected load / capacity spreads evenly over 0.65..1.35.
        accs = [a for members in self.team_staff for a in members["accountant"]]
        ratios = [0.65 + 0.7 * i / max(1, len(accs) - 1) for i in range(len(accs))]
        r.shuffle(ratios)
        for acc in accs:
            acc["_weight"] = r.lognormvariate(0, 0.3)
        for acc, ratio in zip(accs, ratios, strict=True):
            t = next(i for i, (team, _) in enumerate(TEAMS) if team == acc["team"])
            total = sum(a["_weight"] for a in self.team_staff[t]["accountant"])
            expected = ACTIVE_SHARE * self.n_clients * TEAM_WEIGHTS[t] * acc["_weight"] / total
            acc["monthly_capacity"] = max(10, round(expected / ratio / 5) * 5)

    def _staff_rec(self, staff_id: str, role: str, team: str) -> dict:
        r = self.rng
        hire = self.window_start - days(r.randint(60, 6 * 365))
        rec = {
            "staff_id": staff_id,
            "staff_name": names.person_name(r),
            "role": role,
            "team": team,
            "hire_date": hire,
            "leave_date": None,
            "monthly_capacity": None,
            "updated_at": self.ts(self.as_of - days(r.randint(1, 300))),
        }
        self.staff.append(rec)
        return rec

    def accountant_for(self, c: Client, d: date) -> dict:
        acc = c.accountant
        if acc is self.leaver and d >= acc["leave_date"]:
            return c.successor
        return acc

    # ---------------------------------------------------------------- clients
    def make_clients(self) -> None:
        r = self.rng
        drafts = []
        for _ in range(self.n_clients):
            if r.random() < 0.6:  # the book the window starts with
                signed = self.window_start - days(r.randint(1, 5 * 365))
            else:  # won during the window
                signed = self.rand_date(self.window_start, self.as_of)
            drafts.append((signed, r.random()))
        drafts.sort()
        next_id = 611000 + r.randint(0, 500)
        for signed, _ in drafts:
            next_id += r.randint(1, 7)
            industry = pick(r, INDUSTRY_WEIGHTS)
            team = r.choices(range(3), weights=TEAM_WEIGHTS)[0]
            general_p = 0.35 if industry in ("manufacturing", "construction", "trade") else 0.2
            taxpayer = "general" if r.random() < general_p else "small_scale"
            members = self.team_staff[team]
            accs = [a for a in members["accountant"] if not (a is self.leaver and signed >= a["leave_date"])]
            acc = r.choices(accs, weights=[a["_weight"] for a in accs])[0]
            stay = [a for a in members["accountant"] if a is not self.leaver]
            successor = r.choices(stay, weights=[a["_weight"] for a in stay])[0]  # if acc leaves
            rec = {
                "client_id": f"{next_id:010d}",
                "client_name": names.company_name(r, industry, self.names_taken),
                "credit_code": names.credit_code(r) if r.random() < 0.95 else None,
                "taxpayer_type": taxpayer,
                "industry": industry,
                "region": r.choice(TEAMS[team][1]),
                "source": pick(r, SOURCES),
                "signed_date": signed,
                "accountant_id": None,  # set at the end (current accountant)
                "sales_id": r.choice(members["sales"])["staff_id"],
                "contact_phone": names.phone(r),
                "status": "active",
                "updated_at": None,
            }
            c = Client(
                rec=rec,
                team=team,
                industry=industry,
                sat=min(4.9, max(2.2, r.gauss(4.0, 0.55))),
                chronic=r.random() < 0.05,
                pay_offset=r.gauss(0, 4),
                doc_late=r.random() < 0.18,
                monthly_fee=r.choice(FEES_GENERAL if taxpayer == "general" else FEES_SMALL),
                cycle=pick(r, CYCLES),
                contact=names.person_name(r),
                accountant=acc,
                successor=successor,
            )
            self.clients.append(c)

    # -------------------------------------------------------------- contracts
    def new_contract(
        self, c: Client, service: str, cycle: str, fee_yuan: int, start: date, end: date, signed: date, prev
    ) -> Contract:
        rec = {
            "contract_id": None,
            "client_id": c.rec["client_id"],
            "service_type": service,
            "billing_cycle": cycle,
            "fee_per_cycle": fee_yuan * YUAN,
            "start_date": start,
            "end_date": end,
            "signed_date": signed,
            "previous_contract_id": prev,  # Contract object until ids are assigned
            "status": "active",
            "updated_at": self.clip(self.ts(signed)),
        }
        k = Contract(rec=rec, client=c, first_idx=month_idx(start))
        self.contracts.append(k)
        if c.first_start is None or start < c.first_start:
            c.first_start = start
        # One signing task per contract, by the client's sales rep.
        created = self.ts(signed - days(self.rng.randint(1, 10)))
        done = self.clip(self.ts(signed, 10, 19))
        k.sign_task = self.add_task(
            c, k, "signing", None, self.staff_by_id(c.rec["sales_id"]), created, signed,
            created, done, None, None, None,
        )  # fmt: skip
        return k

    def bookkeeping_contract(self, c: Client, start: date, signed: date, prev: Contract | None) -> Contract:
        r = self.rng
        if prev is not None and r.random() < 0.25:
            c.monthly_fee += r.choice((50, 100))  # price rise at renewal
        if prev is not None and r.random() < 0.2:
            c.cycle = pick(r, CYCLES)
        k_months = CYCLE_MONTHS[c.cycle]
        fee = c.monthly_fee * k_months
        if c.cycle == "annual":
            fee = round(fee * 0.9 / 100) * 100  # prepaying a year earns a discount
        end = add_months(start, 12) - days(1)
        k = self.new_contract(c, "bookkeeping", c.cycle, fee, start, end, signed, prev)
        c.bk.append(k)
        # A few contracts are terminated mid-term (unhappy clients more often).
        p_term = 0.012 + (0.03 if c.sat < 3.2 else 0)
        if r.random() < p_term:
            idx = k.first_idx + r.randint(2, 10)
            if idx <= self.as_of_idx:
                k.terminate_idx = idx
                t_date = month_first(idx) - days(r.randint(0, 10))
                k.rec["status"] = "terminated"
                k.rec["updated_at"] = self.clip(self.ts(t_date))
                self.churn(c, t_date)
        # Invoices at each billing cycle start. The contract running at the window start bills from
        # its own start, so the first months' collections include the receivables carried in.
        for i in range(12 // k_months):
            issue = add_months(start, i * k_months)
            if issue > self.as_of or (k.terminate_idx is not None and month_idx(issue) >= k.terminate_idx):
                break
            self.invoice(c, k, issue, fee)
        return k

    def churn(self, c: Client, d: date) -> None:
        c.churn_date = d
        c.rec["status"] = "churned"
        c.rec["updated_at"] = self.clip(self.ts(d + days(self.rng.randint(1, 20))))

    def decide_renewal(self, k: Contract) -> None:
        """At a bookkeeping contract's end: renew (maybe late) or churn, from the term's experience."""
        r, c = self.rng, k.client
        end = k.rec["end_date"]
        late_invoices = sum(
            1
            for inv in k.invoices
            if inv["_due"] + days(45) < end
            and (inv["_settled"] is None or inv["_settled"] > inv["_due"] + days(45))
        )
        mean_score = sum(k.scores) / len(k.scores) if k.scores else c.sat
        p = 0.96 - 0.1 * min(k.complaints, 3) - 0.04 * min(k.late_filings, 3)
        p -= 0.3 if mean_score < 3 else 0.12 if mean_score < 3.6 else 0
        p -= 0.3 if late_invoices >= 2 else 0.08 if late_invoices == 1 else 0
        p = min(0.97, max(0.05, p))
        k.rec["status"] = "expired"
        k.rec["updated_at"] = at(end + days(1), 2, 0)
        if r.random() >= p:
            self.churn(c, end)
            return
        delay = 0 if r.random() < 0.88 else r.randint(7, 40)
        start = end + days(1 + delay)
        if start > self.as_of:
            return  # renewal still being negotiated: the client stays active with an expired contract
        signed = start - days(r.randint(0, 15)) if delay == 0 else start
        self.pending.setdefault(month_idx(start), []).append((c, start, signed, k))

    # --------------------------------------------------------- invoices, pay
    def invoice(self, c: Client, k: Contract | None, issue: date, fee_yuan: int) -> dict:
        r = self.rng
        due = issue + days(INVOICE_TERMS)
        amount = fee_yuan * YUAN
        inv = {
            "invoice_id": None,
            "client_id": c.rec["client_id"],
            "contract_id": k,
            "issue_date": issue,
            "due_date": due,
            "amount": amount,
            "status": "open",
            "updated_at": self.clip(self.ts(issue, 8, 11)),
            "_due": due,
            "_settled": None,  # date the invoice was fully paid (may lie after the as-of date)
        }
        self.invoices.append(inv)
        if k is not None:
            k.invoices.append(inv)
        if r.random() < 0.004:  # issued by mistake
            inv["status"] = "void"
            inv["updated_at"] = self.clip(self.ts(issue + days(r.randint(1, 20))))
            return inv
        never = False
        if c.chronic:
            never = r.random() < 0.2
            delay = INVOICE_TERMS + r.randint(60, 150)
        else:
            delay = max(0, round(r.gauss(PAY_DAYS[c.industry] + c.pay_offset, 7)))
        if never:
            if due + days(180) <= self.as_of and r.random() < 0.5:
                inv["status"] = "written_off"
                inv["updated_at"] = self.clip(self.ts(due + days(180 + r.randint(0, 30))))
            return inv
        pay_date = issue + days(delay)
        parts = [(pay_date, amount)]
        if r.random() < 0.05 and amount >= 1000 * YUAN:  # paid in two instalments
            first = round(amount * r.uniform(0.4, 0.7) / (100 * YUAN)) * 100 * YUAN
            parts = [(pay_date, first), (pay_date + days(r.randint(10, 40)), amount - first)]
        if r.random() < 0.01:  # overpayment: stays with the client as a credit
            last_date, last_amount = parts[-1]
            parts[-1] = (last_date, last_amount + r.choice((100, 200, 500, 1000)) * YUAN)
        inv["_settled"] = parts[-1][0]
        for d, amt in parts:
            if d <= self.as_of:
                self.payment(c, inv, d, amt)
        if inv["_settled"] <= self.as_of:
            inv["status"] = "paid"
            inv["updated_at"] = self.clip(self.ts(inv["_settled"] + days(r.randint(0, 1)), 9, 19))
        return inv

    def payment(self, c: Client, inv: dict, d: date, amount: int) -> None:
        r = self.rng
        channel = pick(r, CHANNELS)
        shape = r.random()
        client_id, invoice = c.rec["client_id"], inv
        payer = c.rec["client_name"] if channel == "bank_transfer" else c.contact
        if shape >= 0.98:  # neither client nor invoice: identify by payer name, or not at all
            client_id = invoice = None
            if r.random() < 0.5:
                channel, payer = "bank_transfer", c.rec["client_name"]
            else:
                trade = c.rec["client_name"][2:6]
                payer = r.choice((c.contact, trade + "（个人）", "北京" + trade + "商行", "未知付款方"))
        elif shape >= 0.78:  # client only: to be applied oldest due first
            invoice = None
        reference = {
            "bank_transfer": lambda: "".join(r.choice("0123456789") for _ in range(16)),
            "wechat": lambda: "42000" + "".join(r.choice("0123456789") for _ in range(15)),
            "alipay": lambda: d.strftime("%Y%m%d") + "".join(r.choice("0123456789") for _ in range(12)),
            "cash": lambda: f"现金收据No.{r.randint(1, 999999):06d}",
            "other": lambda: r.choice(("POS刷卡", "代收", "")),
        }[channel]()
        updated = self.ts(d, 9, 19) + days(0 if r.random() < 0.85 else r.randint(1, 2))
        self.payments.append(
            {
                "payment_id": None,
                "client_id": client_id,
                "invoice_id": invoice,
                "paid_date": d,
                "amount": amount,
                "channel": channel,
                "payer_name": payer or None,
                "reference": reference or None,
                "updated_at": self.clip(updated),
                "_client": c,
            }
        )

    # ------------------------------------------------------------------ tasks
    def staff_by_id(self, staff_id: str) -> dict:
        return self._staff_index[staff_id]

    def add_task(
        self, c, k, stage, per, assignee, created, due, started, completed, depends, errors, outcome
    ):
        """Record a task as seen on the as-of evening (later events have not happened yet)."""
        status = "todo"
        if completed is not None and completed <= self.cut:
            status = "done"
        elif started is not None and started <= self.cut:
            status, completed = "in_progress", None
        else:
            started = completed = None
        if status != "done":
            errors = outcome = None
        task = {
            "task_id": None,
            "client_id": c.rec["client_id"],
            "contract_id": k,
            "service_type": k.rec["service_type"] if k is not None else "bookkeeping",
            "stage": stage,
            "period": per,
            "assignee_id": assignee["staff_id"],
            "created_at": created,
            "due_date": due,
            "started_at": started,
            "completed_at": completed,
            "status": status,
            "depends_on_task_id": depends,
            "error_count": errors,
            "outcome": outcome,
            "updated_at": max(t for t in (created, started, completed) if t is not None),
        }
        self.tasks.append(task)
        return task

    def chain(self, c: Client, k: Contract, p_idx: int, acc: dict, ratio: float) -> None:
        """The monthly chain 票据采集 → 记账 → 报税 → 收款 for service month p_idx."""
        r = self.rng
        ms = month_first(p_idx + 1)  # the work happens in the following month
        if ms > self.as_of:
            return
        per = period(p_idx)
        deadline = filing_deadline(ms.year, ms.month)
        created = at(ms, 8, r.randint(0, 59), r.randint(0, 59))
        members = self.team_staff[c.team]
        agent = members["field_agent"][p_idx % len(members["field_agent"])]
        collector = (members["service"] or members["sales"])[0]

        late_docs = c.doc_late and r.random() < 0.7
        doc_day = r.randint(5, 18) if late_docs else r.randint(0, 5)
        doc_start = created + timedelta(hours=r.randint(1, 30))
        doc_done = max(doc_start + timedelta(hours=1), self.ts(ms + days(doc_day)))
        # Overloaded accountants take longer and make more mistakes.
        bk_start = doc_done + timedelta(hours=r.randint(1, 24))
        dur = r.randint(1, 3) + int(min(0.5, max(0.0, ratio - 1.0)) * r.uniform(4, 10))
        bk_done = self.ts(bk_start.date() + days(dur), 10, 20)
        errors = poisson(r, 0.12 + 2.2 * max(0.0, ratio - 0.8) ** 1.2)
        fi_start = bk_done + timedelta(minutes=r.randint(10, 240))
        fi_done = self.ts(fi_start.date() + days(r.randint(0, 1)), 9, 21)
        fi_done = max(fi_done, fi_start + timedelta(minutes=30))
        late = fi_done.date() > deadline
        failed = r.random() < (0.35 if late else 0.01)
        fee_start = fi_done + timedelta(hours=r.randint(1, 30))
        fee_done = self.ts(fee_start.date() + days(r.randint(20, 60) if c.chronic else r.randint(1, 10)))

        cancel_from = None
        if r.random() < 0.005:
            cancel_from = r.choice(("bookkeeping", "tax_filing", "fee_collection"))
        bk_due = max(ms + days(7), deadline - days(3))
        steps = (
            ("document_collection", agent, ms + days(4), doc_start, doc_done, None, None),
            ("bookkeeping", acc, bk_due, bk_start, bk_done, errors, None),
            ("tax_filing", acc, deadline, fi_start, fi_done, None, "failed" if failed else "success"),
            ("fee_collection", collector, ms + days(24), fee_start, fee_done, None, None),
        )
        prev = k.sign_task
        cancelled = False
        for stage, who, due, started, done, err, outcome in steps:
            if stage == cancel_from:
                cancelled = True
            if cancelled:
                prev = self.cancelled_task(c, k, stage, per, who, created, due, prev, started)
                continue
            prev = self.add_task(c, k, stage, per, who, created, due, started, done, prev, err, outcome)
        if cancelled or fi_done > self.cut:
            return
        # Experience the client reacts to (feedback, and later the renewal decision).
        k.late_filings += late
        p_complaint = min(0.7, 0.005 + 0.05 * errors + 0.2 * late + 0.15 * failed)
        if r.random() < p_complaint:
            category = "记账差错" if errors and (not late or r.random() < 0.5) else "报税延误"
            score = r.choice((1, 1, 2)) if r.random() < 0.9 else None
            self.add_feedback(c, k, fi_done.date() + days(r.randint(1, 12)), score, True, category)
        elif r.random() < 0.08:
            score = round(c.sat - 0.5 * errors - 0.8 * late + r.gauss(0, 0.5))
            score = min(5, max(1, score))
            complaint = score <= 2 and r.random() < 0.3
            self.add_feedback(c, k, fi_done.date() + days(r.randint(3, 25)), score, complaint,
                              "服务态度" if complaint else "满意度回访")  # fmt: skip

    def cancelled_task(self, c, k, stage, per, who, created, due, prev, started):
        t_cancel = created + timedelta(days=self.rng.randint(2, 12))
        if t_cancel > self.cut:
            return self.add_task(c, k, stage, per, who, created, due, None, None, prev, None, None)
        task = self.add_task(c, k, stage, per, who, created, due, None, None, prev, None, None)
        task["status"] = "cancelled"
        task["updated_at"] = t_cancel
        return task

    def add_feedback(self, c: Client, k: Contract | None, d: date, score, complaint: bool, category) -> None:
        if d > self.as_of:
            return
        if k is not None:
            k.complaints += complaint
            if score is not None:
                k.scores.append(score)
        self.feedback.append(
            {
                "feedback_id": None,
                "client_id": c.rec["client_id"],
                "feedback_date": d,
                "score": score,
                "is_complaint": complaint,
                "category": category,
                "updated_at": self.clip(self.ts(d, 9, 19)),
            }
        )

    # -------------------------------------------------------------- one-offs
    def one_offs(self) -> None:
        """Registration, tax planning and audit engagements, each billed once."""
        r = self.rng
        for c in self.clients:
            life_end = min(c.churn_date or self.as_of, self.as_of)
            life_start = max(c.first_start or c.rec["signed_date"], self.window_start)
            events = []
            signed = c.rec["signed_date"]
            if signed >= self.window_start and r.random() < 0.35:
                events.append(("registration", signed, r.choice((800, 1200, 1500, 2000, 3000))))
            for y in range(self.window_start.year, self.as_of.year + 1):
                if r.random() < 0.02:
                    events.append(("registration", self.rand_date(date(y, 1, 1), date(y, 12, 31)), 600))
                if r.random() < (0.08 if c.rec["taxpayer_type"] == "general" else 0.02):
                    d = self.rand_date(date(y, 1, 1), date(y, 12, 31))
                    events.append(("tax_planning", d, r.choice((3000, 5000, 8000, 12000, 20000))))
                if r.random() < 0.04:
                    events.append(("audit", self.rand_date(date(y, 3, 1), date(y, 5, 31)),
                                   r.choice((5000, 8000, 10000, 15000))))  # fmt: skip
            for service, start, fee in events:
                if not (life_start <= start <= life_end) and not (
                    service == "registration" and start == signed
                ):
                    continue
                if start < self.window_start or start > self.as_of:
                    continue
                end = start + days(r.choice((30, 45, 60, 90)))
                k = self.new_contract(c, service, "one_off", fee, start, end, start, None)
                if end < self.as_of:
                    k.rec["status"] = "expired"
                    k.rec["updated_at"] = at(end + days(1), 2, 0)
                self.invoice(c, k, start, fee)
                stage = "registration" if service == "registration" else "other"
                members = self.team_staff[c.team]
                who = members["field_agent"][0] if stage == "registration" else self.accountant_for(c, start)
                created = self.ts(start)
                started = created + timedelta(hours=r.randint(2, 72))
                done = self.ts(start + days(r.randint(5, 40)))
                outcome = ("success" if r.random() < 0.94 else "failed") if stage == "registration" else None
                self.add_task(c, k, stage, None, who, created, start + days(30), started, done,
                              k.sign_task, None, outcome)  # fmt: skip

    # ---------------------------------------------------------------- driver
    def run(self) -> Firm:
        r = self.rng
        self.make_staff()
        self._staff_index = {s["staff_id"]: s for s in self.staff}
        self.make_clients()
        self.pending: dict[int, list] = {}
        ends: dict[int, list[Contract]] = {}
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
        for m in range(self.w_idx, self.as_of_idx + 1):
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
                self.chain(c, k, m - 1, acc, load[acc["staff_id"]] / acc["monthly_capacity"])
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
        self.one_offs()
        self.finish()
        return self

    def finish(self) -> None:
        """Assign ids in date order, resolve references, settle last-updated times."""
        r = self.rng
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
        del r
