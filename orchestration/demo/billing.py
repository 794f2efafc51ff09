"""Contracts, invoices and payments of the simulated firm: signing, renewal or churn, paying habits."""

from __future__ import annotations

from datetime import date

from orchestration.demo.records import (
    CHANNELS,
    CYCLE_MONTHS,
    CYCLES,
    INVOICE_TERMS,
    PAY_DAYS,
    YUAN,
    Client,
    Contract,
    pick,
)
from orchestration.demo.timeline import add_months, at, days, month_first, month_idx


class Billing:
    """Part of `Firm` (shares its rng and record lists): contracts, invoices and payments."""

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
