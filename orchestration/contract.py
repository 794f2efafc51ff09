"""The raw export contract (version 1) as data.

This module is the single machine-readable statement of `docs/raw-data-contract.md`: entity folders,
canonical column names, Chinese header aliases, types, enumerations and primary keys. The loader, the
demo generator and the docs all read it; nothing else may restate it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# Column types the loader knows how to parse.
TEXT = "text"
DATE = "date"
TIMESTAMP = "timestamp"
AMOUNT = "amount"  # CNY yuan, up to 2 decimals, may carry ¥/￥ and thousands separators
INTEGER = "integer"
NUMBER = "number"
BOOLEAN = "boolean"
ENUM = "enum"
PERIOD = "period"  # YYYY-MM


@dataclass(frozen=True)
class Column:
    name: str
    aliases: tuple[str, ...]
    type: str
    required: bool = False
    enum: str | None = None  # key into ENUMS when type == ENUM
    min_value: float | None = None  # inclusive lower bound for numbers
    min_exclusive: bool = False  # True: value must be > min_value
    max_value: float | None = None
    references: str | None = None  # "entity.column" (documentation; checked in dbt)
    personal_data: bool = False


@dataclass(frozen=True)
class Entity:
    name: str
    label: str  # Chinese name
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    required: bool = True  # required entities fail the load when their folder is missing or empty
    has_updated_at: bool = True
    row_rules: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)
    # row_rules: (left column, operator, right column), e.g. ("end_date", ">=", "start_date")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


# Enumerations: English code -> Chinese label. The loader accepts either (case and spacing ignored).
ENUMS: dict[str, dict[str, str]] = {
    "role": {
        "accountant": "会计",
        "field_agent": "外勤",
        "sales": "销售",
        "manager": "主管",
        "service": "客服",
    },
    "taxpayer_type": {"general": "一般纳税人", "small_scale": "小规模纳税人"},
    "industry": {
        "tech": "科技",
        "trade": "商贸",
        "construction": "建筑",
        "manufacturing": "制造",
        "services": "服务",
        "catering": "餐饮",
        "other": "其他",
    },
    "client_status": {"active": "服务中", "churned": "已流失", "suspended": "暂停"},
    "service_type": {
        "bookkeeping": "代理记账",
        "registration": "工商注册/变更",
        "tax_planning": "税务筹划",
        "audit": "审计",
        "other": "其他",
    },
    "billing_cycle": {
        "monthly": "月付",
        "quarterly": "季付",
        "semiannual": "半年付",
        "annual": "年付",
        "one_off": "一次性",
    },
    "contract_status": {"active": "执行中", "expired": "已到期", "terminated": "已终止"},
    "invoice_status": {"open": "未结清", "paid": "已结清", "void": "作废", "written_off": "坏账核销"},
    "channel": {
        "wechat": "微信",
        "alipay": "支付宝",
        "bank_transfer": "对公转账",
        "cash": "现金",
        "other": "其他",
    },
    "stage": {
        "signing": "签约",
        "document_collection": "票据采集",
        "bookkeeping": "记账",
        "tax_filing": "报税",
        "fee_collection": "收款",
        "registration": "工商办理",
        "other": "其他",
    },
    "task_status": {"todo": "待办", "in_progress": "进行中", "done": "已完成", "cancelled": "已取消"},
    "outcome": {"success": "成功", "failed": "失败"},
    "metric": {
        "collected_amount": "回款额",
        "collection_rate": "收款率",
        "renewal_rate": "续费率",
        "new_contract_amount": "新签额",
        "on_time_rate": "按时完成率",
        "clients_per_accountant": "人均服务客户数",
    },
    "scope_type": {"company": "公司", "team": "部门", "staff": "员工", "industry": "行业"},
}

# Extra spellings some source systems use for an enum label (beyond code and label).
ENUM_EXTRA_LABELS: dict[str, dict[str, str]] = {
    "service_type": {"工商注册": "registration", "工商变更": "registration"},
}

BOOLEAN_TRUE = ("是", "true", "1", "y", "yes")
BOOLEAN_FALSE = ("否", "false", "0", "n", "no")


def C(name, aliases, type_, required=False, **kw) -> Column:  # noqa: N802 - compact table syntax
    if isinstance(aliases, str):
        aliases = (aliases,)
    return Column(name, tuple(aliases), type_, required, **kw)


UPDATED_AT = C("updated_at", "更新时间", TIMESTAMP, True)
# Columns several entities share, declared once.
CLIENT_ID = C("client_id", "客户编号", TEXT, True, references="clients.client_id")
CONTRACT_ID = C("contract_id", "合同编号", TEXT, references="contracts.contract_id")
SERVICE_TYPE = C("service_type", "服务类型", ENUM, True, enum="service_type")

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in [
        Entity(
            "staff",
            "员工",
            (
                C("staff_id", "员工编号", TEXT, True),
                C("staff_name", "姓名", TEXT, True),
                C("role", "岗位", ENUM, True, enum="role"),
                C("team", ("部门/分部", "部门", "分部"), TEXT),
                C("hire_date", "入职日期", DATE),
                C("leave_date", "离职日期", DATE),
                C("monthly_capacity", "月度产能", INTEGER, min_value=0),
                UPDATED_AT,
            ),
            ("staff_id",),
        ),
        Entity(
            "clients",
            "客户",
            (
                C("client_id", "客户编号", TEXT, True),
                C("client_name", "客户名称", TEXT, True),
                C("credit_code", "统一社会信用代码", TEXT, personal_data=True),
                C("taxpayer_type", "纳税人类型", ENUM, True, enum="taxpayer_type"),
                C("industry", "行业", ENUM, True, enum="industry"),
                C("region", "区域", TEXT),
                C("source", "客户来源", TEXT),
                C("signed_date", "首次签约日期", DATE, True),
                C("accountant_id", "负责会计", TEXT, references="staff.staff_id"),
                C("sales_id", "销售", TEXT, references="staff.staff_id"),
                C("contact_phone", "联系电话", TEXT, personal_data=True),
                C("status", "状态", ENUM, True, enum="client_status"),
                UPDATED_AT,
            ),
            ("client_id",),
        ),
        Entity(
            "contracts",
            "合同",
            (
                C("contract_id", "合同编号", TEXT, True),
                CLIENT_ID,
                SERVICE_TYPE,
                C("billing_cycle", "付款周期", ENUM, True, enum="billing_cycle"),
                C("fee_per_cycle", "每期费用", AMOUNT, True, min_value=0),
                C("start_date", "开始日期", DATE, True),
                C("end_date", "结束日期", DATE, True),
                C("signed_date", "签约日期", DATE),
                C("previous_contract_id", "续约自", TEXT, references="contracts.contract_id"),
                C("status", "状态", ENUM, True, enum="contract_status"),
                UPDATED_AT,
            ),
            ("contract_id",),
            row_rules=(("end_date", ">=", "start_date"),),
        ),
        Entity(
            "invoices",
            "应收账单",
            (
                C("invoice_id", "账单编号", TEXT, True),
                CLIENT_ID,
                CONTRACT_ID,
                C("issue_date", "账单日期", DATE, True),
                C("due_date", "到期日", DATE, True),
                C("amount", "应收金额", AMOUNT, True, min_value=0, min_exclusive=True),
                C("status", "状态", ENUM, True, enum="invoice_status"),
                UPDATED_AT,
            ),
            ("invoice_id",),
            row_rules=(("due_date", ">=", "issue_date"),),
        ),
        Entity(
            "payments",
            "收款",
            (
                C("payment_id", "收款编号", TEXT, True),
                replace(CLIENT_ID, required=False),  # a receipt may not name its client
                C("invoice_id", "账单编号", TEXT, references="invoices.invoice_id"),
                C("paid_date", "收款日期", DATE, True),
                C("amount", "收款金额", AMOUNT, True, min_value=0, min_exclusive=True),
                C("channel", "收款渠道", ENUM, True, enum="channel"),
                C("payer_name", "付款方", TEXT),
                C("reference", ("备注/流水号", "备注", "流水号"), TEXT),
                UPDATED_AT,
            ),
            ("payment_id",),
        ),
        Entity(
            "tasks",
            "服务任务",
            (
                C("task_id", "任务编号", TEXT, True),
                CLIENT_ID,
                CONTRACT_ID,
                SERVICE_TYPE,
                C("stage", "环节", ENUM, True, enum="stage"),
                C("period", "所属期", PERIOD),
                C("assignee_id", "负责人", TEXT, True, references="staff.staff_id"),
                C("created_at", "创建时间", TIMESTAMP, True),
                C("due_date", "截止日期", DATE, True),
                C("started_at", "开始时间", TIMESTAMP),
                C("completed_at", "完成时间", TIMESTAMP),
                C("status", "状态", ENUM, True, enum="task_status"),
                C("depends_on_task_id", "前置任务", TEXT, references="tasks.task_id"),
                C("error_count", "差错数", INTEGER, min_value=0),
                C("outcome", "结果", ENUM, enum="outcome"),
                UPDATED_AT,
            ),
            ("task_id",),
        ),
        Entity(
            "feedback",
            "客户评价",
            (
                C("feedback_id", "评价编号", TEXT, True),
                CLIENT_ID,
                C("feedback_date", "日期", DATE, True),
                C("score", "评分", INTEGER, min_value=1, max_value=5),
                C("is_complaint", "是否投诉", BOOLEAN),
                C("category", "类别", TEXT),
                UPDATED_AT,
            ),
            ("feedback_id",),
            required=False,
        ),
        Entity(
            "targets",
            "经营目标",
            (
                C("period", "期间", PERIOD, True),
                C("metric", "指标", ENUM, True, enum="metric"),
                C("scope_type", "范围类型", ENUM, True, enum="scope_type"),
                C("scope_id", "范围", TEXT),
                C("target_value", "目标值", NUMBER, True),
            ),
            ("period", "metric", "scope_type", "scope_id"),
            required=False,
            has_updated_at=False,
        ),
    ]
}

REQUIRED_ENTITIES = [e.name for e in ENTITIES.values() if e.required]
