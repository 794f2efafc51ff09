"""Staff and clients of the simulated firm: teams, uneven accountant load, the client book."""

from __future__ import annotations

from datetime import date

from orchestration.demo import names
from orchestration.demo.records import (
    ACTIVE_SHARE,
    CLIENT_LOSS_PER_MONTH,
    CYCLES,
    FEES_GENERAL,
    FEES_SMALL,
    INDUSTRY_WEIGHTS,
    SOURCES,
    TEAM_WEIGHTS,
    TEAMS,
    Client,
    pick,
)
from orchestration.demo.timeline import add_months, days


class People:
    """Part of `Firm` (shares its rng and record lists): hiring staff and winning clients."""

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

    def staff_by_id(self, staff_id: str) -> dict:
        return self._staff_index[staff_id]

    def make_clients(self) -> None:
        r = self.rng
        drafts = []
        # A firm in steady state: it wins about as many clients as it loses, so its book (and its
        # accountants' load) neither grows nor shrinks over the window, whatever the window's length.
        book_share = 1 / (1 + CLIENT_LOSS_PER_MONTH * self.months)
        for _ in range(self.n_clients):
            if r.random() < book_share:  # the book the window starts with
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
