"""Monthly business targets, set the way a manager would: recent actuals plus ambition.

Every month of the window plus the next three gets all six metrics at company scope; collected
amount and on-time rate are also broken down by team (team name) and by industry (industry code).
Amounts are yuan, rates are fractions.
"""

from __future__ import annotations

import random

from orchestration.demo.firm import CYCLE_MONTHS, TEAMS, Firm
from orchestration.demo.timeline import month_idx, period


def _trailing(actual: dict[int, float], idx: int, first: int) -> float:
    window = [actual.get(i, 0.0) for i in range(max(first, idx - 3), idx)]
    if not window:  # the first months: no history yet, use the first three months
        window = [actual.get(i, 0.0) for i in range(first, first + 3)]
    return sum(window) / len(window)


def _round(x: float, step: int) -> float:
    return float(round(x / step) * step)


def make_targets(firm: Firm) -> list[dict]:
    r = random.Random(firm.rng.random())
    first, last_actual = firm.w_idx, firm.as_of_idx
    collected: dict[tuple, dict[int, float]] = {}
    for p in firm.payments:
        c = p["_client"]
        i = month_idx(p["paid_date"])
        for key in (("company", None), ("team", TEAMS[c.team][0]), ("industry", c.industry)):
            bucket = collected.setdefault(key, {})
            bucket[i] = bucket.get(i, 0.0) + p["amount"] / 100
    new_amount: dict[int, float] = {}
    for k in firm.contracts:
        rec = k.rec
        if rec["previous_contract_id"] is None and rec["signed_date"] >= firm.window_start:
            cycles = 1 if rec["billing_cycle"] == "one_off" else 12 // CYCLE_MONTHS[rec["billing_cycle"]]
            i = month_idx(rec["signed_date"])
            new_amount[i] = new_amount.get(i, 0.0) + rec["fee_per_cycle"] / 100 * cycles

    rows: list[dict] = []

    def add(idx: int, metric: str, scope_type: str, scope_id, value: float) -> None:
        rows.append(
            {
                "period": period(idx),
                "metric": metric,
                "scope_type": scope_type,
                "scope_id": scope_id,
                "target_value": value,
            }  # fmt: skip
        )

    n_acc = sum(len(m["accountant"]) for m in firm.team_staff)
    cpa_base = len([c for c in firm.clients if c.rec["status"] != "churned"]) / max(1, n_acc)
    for idx in range(first, last_actual + 4):
        lift = r.uniform(1.02, 1.12) if idx <= last_actual else 1.08
        ref = min(idx, last_actual + 1)
        for (scope_type, scope_id), actual in collected.items():
            base = _trailing(actual, ref, first) * lift
            step = 1000 if scope_type == "company" else 100
            add(idx, "collected_amount", scope_type, scope_id, _round(base, step))
        add(
            idx,
            "new_contract_amount",
            "company",
            None,
            _round(_trailing(new_amount, ref, first) * lift, 1000),
        )
        add(idx, "collection_rate", "company", None, round(r.uniform(0.9, 0.95), 2))
        add(idx, "renewal_rate", "company", None, r.choice((0.85, 0.88, 0.9)))
        add(idx, "on_time_rate", "company", None, 0.95)
        add(idx, "clients_per_accountant", "company", None, float(round(cpa_base * r.uniform(0.95, 1.05))))
        for team, _ in TEAMS:
            add(idx, "on_time_rate", "team", team, r.choice((0.93, 0.94, 0.95, 0.96)))
        for key in collected:
            if key[0] == "industry":
                add(idx, "on_time_rate", "industry", key[1], r.choice((0.92, 0.94, 0.95)))
    rows.sort(key=lambda t: (t["period"], t["metric"], t["scope_type"], t["scope_id"] or ""))
    return rows
