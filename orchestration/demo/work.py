"""The firm's work and its clients' reactions: monthly task chains, one-off engagements, feedback."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from orchestration.demo.deadlines import filing_deadline
from orchestration.demo.records import Client, Contract, poisson
from orchestration.demo.timeline import at, days, month_first, period


class Work:
    """Part of `Firm` (shares its rng and record lists): task chains, one-offs, feedback."""

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

        doc_start, doc_done, bk_start, bk_done, errors, fi_start, fi_done, late, failed = self.filing(
            c, ms, created, deadline, ratio, r
        )
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
        self.react(c, k, errors, late, failed, fi_done.date())

    def filing(self, c: Client, ms: date, created: datetime, deadline: date, ratio: float, r: random.Random):
        """One service month's documents, books and filing (work starting on `ms`, drawn from `r`): the
        timestamps of each step, the bookkeeping errors, whether the filing was late and whether it failed."""

        def ts(d: date, lo: int = 9, hi: int = 18) -> datetime:
            return at(d, r.randint(lo, hi), r.randint(0, 59), r.randint(0, 59))

        late_docs = c.doc_late and r.random() < 0.7
        doc_day = r.randint(5, 18) if late_docs else r.randint(0, 5)
        doc_start = created + timedelta(hours=r.randint(1, 30))
        doc_done = max(doc_start + timedelta(hours=1), ts(ms + days(doc_day)))
        # Overloaded accountants take longer and make more mistakes.
        bk_start = doc_done + timedelta(hours=r.randint(1, 24))
        dur = r.randint(1, 3) + int(min(0.5, max(0.0, ratio - 1.0)) * r.uniform(4, 10))
        bk_done = ts(bk_start.date() + days(dur), 10, 20)
        errors = poisson(r, 0.12 + 2.2 * max(0.0, ratio - 0.8) ** 1.2)
        fi_start = bk_done + timedelta(minutes=r.randint(10, 240))
        fi_done = ts(fi_start.date() + days(r.randint(0, 1)), 9, 21)
        fi_done = max(fi_done, fi_start + timedelta(minutes=30))
        late = fi_done.date() > deadline
        failed = r.random() < (0.35 if late else 0.01)
        return doc_start, doc_done, bk_start, bk_done, errors, fi_start, fi_done, late, failed

    def prior_experience(self, c: Client, k: Contract, months: range, ratio: float) -> None:
        """The service months of `k` before the exported history starts: they happened (the client
        remembers them at renewal) but no record of them is exported. Drawn like a recorded month, at
        the accountant's load of the first recorded month, from a stream of their own (`self.prior_rng`)
        so that the recorded history's draws are unchanged."""
        r = self.prior_rng
        for p_idx in months:
            ms = month_first(p_idx + 1)
            created = at(ms, 8)
            *_, errors, _, fi_done, late, failed = self.filing(
                c, ms, created, filing_deadline(ms.year, ms.month), ratio, r
            )
            self.react(c, k, errors, late, failed, fi_done.date(), r)

    def react(
        self, c: Client, k: Contract, errors: int, late: bool, failed: bool, filed: date, prior=None
    ) -> None:
        """Experience the client reacts to: feedback now, and (through `k`) the renewal decision later.
        With `prior` (a random stream), the month lies before the exported history: only `k` remembers it."""
        r = prior or self.rng
        record = self.add_feedback if prior is None else self.remember
        k.late_filings += late
        p_complaint = min(0.7, 0.005 + 0.05 * errors + 0.2 * late + 0.15 * failed)
        if r.random() < p_complaint:
            category = "记账差错" if errors and (not late or r.random() < 0.5) else "报税延误"
            score = r.choice((1, 1, 2)) if r.random() < 0.9 else None
            record(c, k, filed + days(r.randint(1, 12)), score, True, category)
        elif r.random() < 0.08:
            score = round(c.sat - 0.5 * errors - 0.8 * late + r.gauss(0, 0.5))
            score = min(5, max(1, score))
            complaint = score <= 2 and r.random() < 0.3
            record(c, k, filed + days(r.randint(3, 25)), score, complaint,
                   "服务态度" if complaint else "满意度回访")  # fmt: skip

    @staticmethod
    def remember(c: Client, k: Contract, d: date, score, complaint: bool, category) -> None:
        """Feedback from before the exported history: it counts towards k's renewal, nothing is written."""
        k.complaints += complaint
        if score is not None:
            k.scores.append(score)

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
