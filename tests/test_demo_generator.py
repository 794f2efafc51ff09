"""The demo generator: deterministic, in the contract's formats, and carrying the patterns the reports need.

Everything is read back from the written files with pandas/openpyxl, independently of the generator's code.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from orchestration.contract import ENTITIES, ENUMS
from orchestration.demo import generate

AS_OF = date(2026, 11, 20)
CUT = pd.Timestamp("2026-11-20 20:00:00")


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def parse_ts(s: pd.Series) -> pd.Series:
    """Dates/timestamps in any of the contract's text styles."""
    s = (
        s.astype("string")
        .str.replace(r"(\d+)年(\d+)月(\d+)日", r"\1-\2-\3", regex=True)
        .str.replace("/", "-")
    )
    return pd.to_datetime(s, format="mixed")


def read_csvs(root: Path, entity: str, pattern: str = "*.csv", encoding: str = "utf-8") -> pd.DataFrame:
    files = sorted((root / entity).glob(pattern))
    return pd.concat(
        [pd.read_csv(f, dtype=str, encoding=encoding).assign(_file=f.name) for f in files], ignore_index=True
    )


def read_any(path: Path) -> pd.DataFrame:
    if path.suffix == ".xlsx":
        return pd.read_excel(path, dtype=str)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030")
    return pd.read_csv(io.StringIO(text), dtype=str)


def all_updated_at(root: Path) -> pd.Series:
    """Every updated_at value of every file, whatever its header language."""
    values = []
    for f in sorted(root.glob("*/*")):
        df = read_any(f)
        col = "updated_at" if "updated_at" in df else "更新时间" if "更新时间" in df else None
        if col:
            values.append(parse_ts(df[col].dropna()))
    return pd.concat(values)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("small")
    return out, generate(out, AS_OF, seed=7, clients=40, months=6)


@pytest.fixture(scope="module")
def firm(tmp_path_factory) -> tuple[Path, dict]:
    """A moderate firm for the statistical patterns."""
    out = tmp_path_factory.mktemp("firm")
    return out, generate(out, AS_OF, seed=42, clients=200, months=24)


@pytest.fixture(scope="module")
def frames(firm) -> dict[str, pd.DataFrame]:
    root, _ = firm
    clients = pd.read_csv(next((root / "clients").glob("*full*")), dtype=str, encoding="gb18030")
    staff = pd.read_excel(next((root / "staff").glob("*.xlsx")), dtype={"员工编号": str})
    return {
        "clients": clients.rename(
            columns={"客户编号": "client_id", "客户名称": "client_name", "行业": "industry"}
        ),
        "staff": staff.rename(columns={"员工编号": "staff_id", "岗位": "role", "月度产能": "capacity"}),
        "contracts": read_csvs(root, "contracts"),
        "invoices": read_csvs(root, "invoices"),
        "payments": read_csvs(root, "payments", "*history*"),
        "tasks": read_csvs(root, "tasks"),
        "feedback": read_csvs(root, "feedback", encoding="utf-8-sig"),
    }


# ----------------------------------------------------------------------------- determinism, layout


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(small, tmp_path):
    root, _ = small
    again = tmp_path / "again"
    generate(again, AS_OF, seed=7, clients=40, months=6)
    assert tree_bytes(root) == tree_bytes(again)
    other = tmp_path / "other"
    generate(other, AS_OF, seed=8, clients=40, months=6)
    a, b = tree_bytes(root), tree_bytes(other)
    assert a.keys() == b.keys()
    assert all(a[k] != b[k] for k in a if k.startswith(("clients", "payments/demo_payments_0", "tasks")))


def test_every_entity_folder_has_data(small):
    root, summary = small
    for entity in ENTITIES:
        files = sorted((root / entity).iterdir())
        assert files, entity
        assert summary["files"][entity] == [f"{entity}/{f.name}" for f in files]
        assert summary["unique_keys"][entity] > 0
    assert summary["unique_keys"]["staff"] >= 8  # 3 teams with manager, accountant, field agent, sales


def test_rerun_replaces_only_its_own_files(tmp_path):
    foreign = tmp_path / "payments" / "bank_export_manual.csv"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("payment_id\n", encoding="utf-8")
    generate(tmp_path, AS_OF, seed=1, clients=30, months=4, fault="missing_column")
    assert len(list((tmp_path / "payments").glob("demo_payments_2_manual_*"))) == 1
    generate(tmp_path, date(2026, 10, 31), seed=1, clients=30, months=4)
    names = sorted(p.name for p in (tmp_path / "payments").iterdir())
    assert "bank_export_manual.csv" in names
    assert not [n for n in names if "manual_" in n and n.startswith("demo_")]
    assert not [n for n in names if "20261120" in n]  # the previous as-of's drops are gone


# ----------------------------------------------------------------------------- formats


def test_encodings_and_text_styles(small):
    root, _ = small
    full = next((root / "clients").glob("*full*")).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        full.decode("utf-8")
    text = full.decode("gb18030")
    assert text.startswith("客户编号,客户名称") and "\r\n" in text
    assert re.search(r",20\d\d/\d{1,2}/\d{1,2},", text)  # YYYY/M/D
    assert "小规模纳税人" in text and "服务中" in text
    incr = next((root / "clients").glob("*incr*")).read_bytes()
    assert incr.startswith(b"\xef\xbb\xbf") and incr.decode("utf-8-sig").startswith("客户编号")
    assert next((root / "feedback").glob("*.csv")).read_bytes().startswith(b"\xef\xbb\xbf\xe8\xaf\x84")  # ﻿评
    drops = sorted((root / "payments").glob("demo_payments_1_daily_*"))
    assert len(drops) == 3
    drop_text = "".join(p.read_bytes().decode("gb18030") for p in drops)
    assert drop_text.startswith("收款编号") and "收款金额" in drop_text
    assert "¥" in drop_text and "2026/11/" in drop_text and "2026年11月" in drop_text
    assert re.search(r'"¥\d{1,3}(,\d{3})+\.\d\d"', drop_text)  # thousands separator, quoted
    history = next((root / "payments").glob("*history*")).read_text(encoding="utf-8")
    assert history.startswith("payment_id,client_id,invoice_id")


def test_staff_and_targets_are_real_xlsx(small):
    root, _ = small
    staff_file = next((root / "staff").glob("*.xlsx"))
    assert zipfile.is_zipfile(staff_file)
    ws = openpyxl.load_workbook(staff_file).active
    head = [c.value for c in ws[1]]
    assert [h.strip() for h in head[:4]] == ["员工编号", "姓名", "岗位", "部门"]
    assert head[1] != head[1].strip()  # a stray space the loader must ignore
    row = [c.value for c in ws[2]]
    assert isinstance(row[0], str) and row[0].startswith("0")  # ids stay text with leading zeros
    assert isinstance(row[4], datetime) and ws.cell(2, 5).is_date  # hire_date as an Excel date cell
    assert {c.value for c in ws["C"][1:]} >= {"会计", "外勤", "销售", "主管"}
    targets = openpyxl.load_workbook(next((root / "targets").glob("*.xlsx"))).active
    rates = [r for r in targets.iter_rows(min_row=2) if r[1].value == "按时完成率"]
    assert rates and all(isinstance(r[4].value, float) and r[4].number_format == "0%" for r in rates)


def test_nothing_happens_after_the_as_of_evening(small):
    root, _ = small
    checks = {
        "contracts": ["signed_date", "start_date", "updated_at"],
        "invoices": ["issue_date", "updated_at"],
        "tasks": ["created_at", "started_at", "completed_at", "updated_at"],
    }
    for entity, cols in checks.items():
        df = read_csvs(root, entity)
        for col in cols:
            assert parse_ts(df[col].dropna()).max() <= CUT, (entity, col)
    history = read_csvs(root, "payments", "*history*")
    drops = read_csvs(root, "payments", "*daily*", encoding="gb18030")
    for df, cols in ((history, ["paid_date", "updated_at"]), (drops, ["收款日期", "更新时间"])):
        for col in cols:
            assert parse_ts(df[col].dropna()).max() <= CUT
    fb = read_csvs(root, "feedback", encoding="utf-8-sig")
    assert parse_ts(fb["更新时间"]).max() <= CUT
    # the future only holds due dates and contract ends
    contracts = read_csvs(root, "contracts")
    assert parse_ts(contracts["end_date"]).max() > CUT


def test_faults(tmp_path):
    broken = tmp_path / "broken"
    generate(broken, AS_OF, seed=3, clients=30, months=4, fault="missing_column")
    manual = next((broken / "payments").glob("demo_payments_2_manual_*")).read_bytes().decode("gb18030")
    head = manual.splitlines()[0].split(",")
    assert "收款编号" in head and "收款金额" not in head and "amount" not in head
    assert len(manual.splitlines()) > 1
    assert all_updated_at(broken).max() > pd.Timestamp("2026-11-19")  # without `stale` the data is fresh
    stale = tmp_path / "stale"
    generate(stale, AS_OF, seed=3, clients=30, months=4, fault="stale")
    assert all_updated_at(stale).max() == pd.Timestamp("2026-11-10 20:00:00")
    with pytest.raises(ValueError):
        generate(tmp_path / "x", AS_OF, clients=10, months=2, fault="nope")


def test_dirty_rows_are_few_and_where_the_summary_says(small):
    root, summary = small
    rejects = [r for rows in summary["dirty_rows"].values() for r in rows]
    assert 5 <= len(rejects) <= 15
    tokens = {"industry": "互联网", "fee_per_cycle": "面议", "amount: invalid": "12,3x", "stage": "复核"}
    for r in rejects:
        path = root / r["file"]
        if path.suffix == ".xlsx":
            continue
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            text = path.read_bytes().decode("gb18030")
        line = text.splitlines()[r["line"] - 1]
        for key, token in tokens.items():
            if r["reason"].startswith(key):
                assert token in line, (r, line)
    staff = [r for r in rejects if r["file"].startswith("staff/")][0]
    ws = openpyxl.load_workbook(root / staff["file"]).active
    assert ws.cell(staff["line"], 3).value == "实习生"


def test_repeated_payment_keys_and_ties(small):
    root, summary = small
    files = sorted((root / "payments").glob("*.csv"))
    frames = []
    for order, f in enumerate(files):
        enc = "utf-8" if "history" in f.name else "gb18030"
        df = pd.read_csv(f, dtype=str, encoding=enc)
        df.columns = ENTITIES["payments"].column_names if enc == "gb18030" else df.columns
        frames.append(df.assign(file_order=order, line=range(len(df))))
    pay = pd.concat(frames, ignore_index=True)
    pay["ts"] = parse_ts(pay["updated_at"])
    pay["yuan"] = pd.to_numeric(pay["amount"].str.replace(r"[¥,]", "", regex=True), errors="coerce")
    kinds = {v["kind"] for v in summary["payment_versions"]}
    assert kinds == {"amount_corrected", "applied_later", "tie_across_files", "tie_within_file"}
    for v in summary["payment_versions"]:
        rows = pay[pay.payment_id == v["payment_id"]]
        assert len(rows) == 2, v
        winner = rows.sort_values(["ts", "file_order", "line"]).iloc[-1]  # the contract's rule
        assert winner["yuan"] == pytest.approx(v["winner_amount"])
        if v["kind"].startswith("tie"):
            assert rows["ts"].nunique() == 1
        if v["kind"] == "tie_across_files":
            assert rows["file_order"].nunique() == 2
        if v["kind"] == "tie_within_file":
            assert rows["file_order"].nunique() == 1


# ----------------------------------------------------------------------------- patterns


def test_identifiers_and_personal_data_shapes(frames):
    clients = frames["clients"]
    assert clients["client_id"].str.fullmatch(r"0\d{9}").all()
    good = clients.dropna(subset=["client_name"])
    assert good["client_name"].str.contains("北京").all() and good["client_name"].is_unique
    assert good["联系电话"].str.fullmatch(r"1\d{10}").all()
    assert good["统一社会信用代码"].dropna().str.fullmatch(r"[0-9A-Z]{18}").all()


def test_industries_pay_at_different_speeds(frames):
    pay, inv, clients = frames["payments"], frames["invoices"], frames["clients"]
    m = pay.dropna(subset=["invoice_id"]).merge(inv[["invoice_id", "issue_date"]], on="invoice_id")
    m = m.merge(clients[["client_id", "industry"]], on="client_id")
    m["days"] = (pd.to_datetime(m["paid_date"]) - pd.to_datetime(m["issue_date"])).dt.days
    med = m.groupby("industry")["days"].median()
    assert 25 <= med["科技"] <= 35
    assert 8 <= med["建筑"] - med["科技"] <= 25
    assert 8 <= med["商贸"] - med["科技"] <= 25


def test_chronic_late_payers_void_and_written_off(frames):
    pay, inv = frames["payments"], frames["invoices"]
    m = pay.dropna(subset=["invoice_id"]).merge(inv[["invoice_id", "due_date"]], on="invoice_id")
    m["late"] = (pd.to_datetime(m["paid_date"]) - pd.to_datetime(m["due_date"])).dt.days
    per_client = m.groupby("client_id")["late"].agg(["median", "size"])
    per_client = per_client[per_client["size"] >= 2]
    chronic = (per_client["median"] >= 60).mean()
    assert 0.01 <= chronic <= 0.12
    status = inv["status"].value_counts()
    assert status.get("void", 0) >= 1 and status.get("written_off", 0) >= 1 and status.get("open", 0) >= 1


def test_payment_shapes(frames):
    pay, clients = frames["payments"], frames["clients"]
    both = pay["client_id"].notna() & pay["invoice_id"].notna()
    client_only = pay["client_id"].notna() & pay["invoice_id"].isna()
    neither = pay[pay["client_id"].isna() & pay["invoice_id"].isna()]
    assert 0.70 <= both.mean() <= 0.85 and 0.12 <= client_only.mean() <= 0.28
    assert 0.005 <= len(neither) / len(pay) <= 0.05
    names = clients["client_name"].value_counts()
    identifiable = neither["payer_name"].map(names).eq(1)
    assert identifiable.sum() >= 1 and (~identifiable).sum() >= 1
    mix = pay["channel"].value_counts(normalize=True)
    assert mix.index[0] == "bank_transfer" and set(mix.index) == {
        "wechat",
        "alipay",
        "bank_transfer",
        "cash",
        "other",
    }


def test_overpayment_leaves_credit(frames):
    pay, inv = frames["payments"], frames["invoices"]
    paid = (
        pay.dropna(subset=["invoice_id"])
        .groupby("invoice_id")["amount"]
        .apply(lambda s: s.astype(float).sum())
    )
    amounts = inv.set_index("invoice_id")["amount"].astype(float)
    assert (paid > amounts.reindex(paid.index) + 0.001).any()


def test_contracts_renew_or_churn_and_many_end_soon(frames):
    ct, clients = frames["contracts"], frames["clients"]
    assert set(ct["service_type"]) >= {"bookkeeping", "registration", "tax_planning", "audit"}
    assert set(ct["billing_cycle"]) == {"monthly", "quarterly", "semiannual", "annual", "one_off"}
    bk = ct[ct["service_type"] == "bookkeeping"]
    start, end = pd.to_datetime(bk["start_date"]), pd.to_datetime(bk["end_date"])
    assert ((end - start).dt.days.between(364, 365)).all()  # 12-month terms
    active = bk[bk["status"] == "active"]
    left = (pd.to_datetime(active["end_date"]) - pd.Timestamp(AS_OF)).dt.days
    assert (left.between(0, 90).sum() >= 0.15 * len(active)) and (
        left.between(0, 180).sum() >= 0.35 * len(active)
    )
    ren = bk.dropna(subset=["previous_contract_id"]).merge(
        bk[["contract_id", "end_date"]],
        left_on="previous_contract_id",
        right_on="contract_id",
        suffixes=("", "_prev"),
    )
    gap = (pd.to_datetime(ren["start_date"]) - pd.to_datetime(ren["end_date_prev"])).dt.days
    assert (gap == 1).mean() > 0.7 and (gap.between(7, 45)).sum() >= 1
    assert (clients["状态"] == "已流失").sum() >= 10
    ended = bk[bk["status"] == "expired"]
    renewed = ended["contract_id"].isin(bk["previous_contract_id"]).mean()
    assert 0.6 <= renewed <= 0.95


def test_renewal_depends_on_complaints(frames):
    ct, fb = frames["contracts"], frames["feedback"]
    bk = ct[(ct["service_type"] == "bookkeeping") & (ct["status"] == "expired")].copy()
    bk["renewed"] = bk["contract_id"].isin(ct["previous_contract_id"])
    complaints = fb[fb["是否投诉"] == "是"].merge(bk[["contract_id", "client_id", "start_date", "end_date"]],
                                                  left_on="客户编号", right_on="client_id")  # fmt: skip
    in_term = pd.to_datetime(complaints["日期"], errors="coerce").between(
        pd.to_datetime(complaints["start_date"]), pd.to_datetime(complaints["end_date"])
    )
    with_complaint = set(complaints.loc[in_term, "contract_id"])
    rate_with = bk[bk["contract_id"].isin(with_complaint)]["renewed"].mean()
    rate_without = bk[~bk["contract_id"].isin(with_complaint)]["renewed"].mean()
    assert rate_with < rate_without - 0.05


def test_task_chains(frames):
    t = frames["tasks"]
    chain = t[t["period"].notna() & t["stage"].isin(ENUMS["stage"])]  # minus the dirty row
    assert set(chain["stage"]) == {"document_collection", "bookkeeping", "tax_filing", "fee_collection"}
    by_id = t.set_index("task_id")
    upstream = chain["depends_on_task_id"].map(by_id["stage"])
    expected = {"document_collection": "signing", "bookkeeping": "document_collection",
                "tax_filing": "bookkeeping", "fee_collection": "tax_filing"}  # fmt: skip
    assert (upstream == chain["stage"].map(expected)).all()
    # filing deadlines: official dates for 2025, next working day after the 15th otherwise
    filing = chain[chain["stage"] == "tax_filing"].drop_duplicates("period").set_index("period")["due_date"]
    assert filing["2025-09"] == "2025-10-27" and filing["2025-01"] == "2025-02-20"
    assert filing["2026-10"] == "2026-11-16"  # 15 Nov 2026 is a Sunday
    assert set(t["status"]) >= {"done", "in_progress", "cancelled"}
    assert (t["stage"] == "signing").sum() == len(frames["contracts"]) - 1  # minus the dirty contract row
    done_filings = chain[(chain["stage"] == "tax_filing") & (chain["status"] == "done")]
    assert set(done_filings["outcome"]) == {"success", "failed"}


def test_late_documents_delay_filings(frames):
    t = frames["tasks"].set_index("task_id")
    filing = t[(t["stage"] == "tax_filing") & (t["status"] == "done")]
    bk = t.loc[filing["depends_on_task_id"]]
    docs = t.loc[bk["depends_on_task_id"]]
    doc_late = (
        pd.to_datetime(docs["completed_at"]).dt.normalize() > pd.to_datetime(docs["due_date"])
    ).to_numpy()
    filed_late = (
        pd.to_datetime(filing["completed_at"]).dt.normalize() > pd.to_datetime(filing["due_date"])
    ).to_numpy()
    assert 0.02 <= filed_late.mean() <= 0.15
    assert filed_late[doc_late].mean() > 3 * filed_late[~doc_late].mean()


def test_error_rate_rises_with_accountant_load(frames):
    t, staff = frames["tasks"], frames["staff"]
    bk = t[(t["stage"] == "bookkeeping") & t["period"].notna() & (t["status"] != "cancelled")].copy()
    cap = staff.set_index("staff_id")["capacity"]
    month = bk.groupby(["assignee_id", "period"]).agg(
        load=("task_id", "size"), errors=("error_count", lambda s: pd.to_numeric(s).mean())
    )
    month["ratio"] = month["load"] / cap.reindex(month.index.get_level_values(0)).to_numpy()
    assert month["ratio"].max() > 1.1 and month["ratio"].min() < 0.85  # uneven: some well above capacity
    assert month["ratio"].corr(month["errors"], method="spearman") > 0.4
    high = month[month["ratio"] >= month["ratio"].quantile(0.75)]["errors"].mean()
    low = month[month["ratio"] <= month["ratio"].quantile(0.25)]["errors"].mean()
    assert high > 2 * low
    # and per accountant over the whole window
    per_acc = month.groupby(level=0).agg(ratio=("ratio", "mean"), errors=("errors", "mean"))
    top = per_acc["ratio"].idxmax()
    assert per_acc.loc[top, "errors"] > per_acc["errors"].median()


def test_feedback_and_targets(firm, frames):
    root, summary = firm
    fb = frames["feedback"]
    scores = pd.to_numeric(fb["评分"], errors="coerce").dropna()
    assert scores.between(1, 5).all()
    assert scores[fb["是否投诉"] == "是"].mean() < scores[fb["是否投诉"] == "否"].mean() - 1
    targets = pd.read_excel(next((root / "targets").glob("*.xlsx")), dtype={"期间": str}).dropna(
        subset=["目标值"]
    )
    company = targets[targets["范围类型"] == "公司"]
    periods = pd.period_range("2024-12", "2027-02", freq="M").strftime("%Y-%m")
    assert (company.groupby("期间")["指标"].nunique().reindex(periods) == 6).all()
    for scope in ("部门", "行业"):
        assert set(targets[targets["范围类型"] == scope]["指标"]) == {"回款额", "按时完成率"}
    rates = targets[targets["指标"].isin(["收款率", "续费率", "按时完成率"])]["目标值"]
    assert rates.between(0.5, 1).all()
    assert company[company["指标"] == "回款额"]["目标值"].min() > 10000
    assert summary["unique_keys"]["targets"] == len(targets)


def test_demo_deadlines_are_the_seed_then_the_rule(tmp_path):
    """Official months come from the dbt seed (one copy of the SAT dates), the rest from the SAT rule."""
    from orchestration.demo.deadlines import filing_deadline, official_deadlines
    from orchestration.tax_calendar import rule_deadline

    seed = tmp_path / "deadlines.csv"
    seed.write_text("year,month,deadline,source\n2030,1,2030-01-22,test\n", encoding="utf-8")
    assert official_deadlines(seed) == {(2030, 1): date(2030, 1, 22)}
    official = official_deadlines()
    assert len(official) == 48 and official[(2025, 10)] == date(2025, 10, 27)
    assert all(filing_deadline(y, m) == d for (y, m), d in official.items())
    assert (2026, 11) not in official
    assert filing_deadline(2026, 11) == rule_deadline(2026, 11) == date(2026, 11, 16)


# ----------------------------------------------------------------------------- stationary renewal behaviour


def _decided(firm) -> list:
    """Bookkeeping contracts whose end was decided (expired: renewed or churned) inside the window."""
    return [k for c in firm.clients for k in c.bk if k.rec["status"] == "expired"]


@pytest.mark.parametrize("seed", [42, 7])
def test_the_history_start_leaves_no_jump_in_renewal_behaviour(seed):
    """A contract already running when the exported history starts was lived in full: its client's
    complaints and late filings before the window count at renewal just like a later contract's (the
    old generator simulated it only from the window start, so its renewals were inflated: ~0.5 of a
    later contract's experience). And the firm wins about as many clients as it loses, so the book,
    and with it the accountants' load, neither drifts up nor down (it grew +35 % over 24 months).
    Read from the simulation itself: the earlier months are, by design, in no exported file."""
    from orchestration.demo.firm import Firm
    from orchestration.demo.timeline import month_idx

    firm = Firm(AS_OF, seed, 800, 24).run()
    decided = _decided(firm)
    opening = [k for k in decided if k.rec["start_date"] < firm.window_start]
    later = [k for k in decided if k.rec["start_date"] >= firm.window_start]
    assert len(opening) > 300 and len(later) > 300

    def experience(ks):  # complaints + late filings per contract
        return sum(k.complaints + k.late_filings for k in ks) / len(ks)

    assert 0.8 < experience(opening) / experience(later) < 1.25
    in_service = [
        sum(k.covers(m) for c in firm.clients for k in c.bk) for m in range(firm.w_idx + 1, month_idx(AS_OF))
    ]
    assert max(in_service) / min(in_service) < 1.12
    assert abs(in_service[-1] / in_service[0] - 1) < 0.08
