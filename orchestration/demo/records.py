"""The simulated firm's vocabulary: mixes and weights, and the client and contract records it tracks.

Records are plain dicts keyed by contract column names, holding Python values: `date`, `datetime`,
amounts as integer cents, enums as English codes (see `firm.py` for the story they tell).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

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
# Share of the book lost per month (churn at renewal plus terminations; measured on the simulation):
# new clients are won at this rate, so the book keeps its size.
CLIENT_LOSS_PER_MONTH = 0.02
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
