"""Set-based parsing of text cells into contract types, as DuckDB macros and per-column SQL.

Every parser maps a cleaned cell (trimmed, '' → NULL) to a typed value, or NULL when the text does
not parse; `reason_sql` turns "not NULL in, NULL out" and rule breaks into a reject reason.
"""

from __future__ import annotations

from orchestration.contract import (
    AMOUNT,
    BOOLEAN,
    BOOLEAN_FALSE,
    BOOLEAN_TRUE,
    DATE,
    ENUM,
    ENUM_EXTRA_LABELS,
    ENUMS,
    INTEGER,
    NUMBER,
    PERIOD,
    TEXT,
    TIMESTAMP,
    Column,
    Entity,
)

from .options import DateBounds

# Space-like characters trimmed around every cell, besides ASCII whitespace: ideographic space, NBSP.
_SPACE = "\\s\u3000\u00a0"
# The same characters as code points (RE2's \s is ASCII tab, LF, FF, CR and space; not VT): a cell
# that neither starts nor ends with one of them is its own cleaned text, without running the regex.
_SPACE_CODES = "9, 10, 12, 13, 32, 160, 12288"
# The canonical forms most exports use: parsed by a cast once their shape is checked (same result
# as the general patterns below, which they are special cases of).
_CANONICAL_DATE_RE = r"\d{4}-\d\d-\d\d"
_CANONICAL_TIMESTAMP_RE = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
_TIME_RE = r"[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?"
_DATE_RE = r"\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2}|\d{4}年\d{1,2}月\d{1,2}日"
_AMOUNT_BODY = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)"

TYPE_LABELS = {
    DATE: ("日期", "date"),
    TIMESTAMP: ("时间", "timestamp"),
    AMOUNT: ("金额", "amount"),
    INTEGER: ("整数", "integer"),
    NUMBER: ("数值", "number"),
    BOOLEAN: ("布尔值", "boolean"),
    PERIOD: ("期间", "period (YYYY-MM)"),
}


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def enum_key(value: str) -> str:
    """Python twin of the SQL enum key: lower case, spaces/underscores/hyphens dropped."""
    return "".join(ch for ch in value.lower() if not (ch.isspace() or ch in "_-"))


def enum_labels(enum: str) -> dict[str, str]:
    """Every accepted spelling (as enum_key) → English code."""
    spellings = {code: code for code in ENUMS[enum]}
    spellings.update({label: code for code, label in ENUMS[enum].items()})
    spellings.update(ENUM_EXTRA_LABELS.get(enum, {}))
    keys: dict[str, str] = {}
    for spelling, code in spellings.items():
        key = enum_key(spelling)
        if keys.get(key, code) != code:
            raise ValueError(f"enum {enum}: spelling {spelling!r} is ambiguous")
        keys[key] = code
    return keys


def macros_sql() -> list[str]:
    """Temp macros (per connection) used by the per-column expressions."""
    true_list = ", ".join(lit(v) for v in BOOLEAN_TRUE)
    false_list = ", ".join(lit(v) for v in BOOLEAN_FALSE)
    stmts = [
        # ascii() is the first character's code point (0 for ''), so '' and NULL take the regex path
        f"""CREATE OR REPLACE TEMP MACRO _ld_clean(s) AS CASE
            WHEN ascii(s) NOT IN (0, {_SPACE_CODES}) AND ascii(right(s, 1)) NOT IN ({_SPACE_CODES}) THEN s
            ELSE nullif(regexp_replace(s, '^[{_SPACE}]+|[{_SPACE}]+$', '', 'g'), '') END""",
        f"""CREATE OR REPLACE TEMP MACRO _ld_date(s) AS CASE
            WHEN regexp_full_match(s, '{_CANONICAL_DATE_RE}') THEN try_cast(s AS DATE)
            WHEN regexp_full_match(s, '{_DATE_RE}')
            THEN try_cast(regexp_replace(s, '^(\\d+)\\D(\\d+)\\D(\\d+)\\D?$', '\\1-\\2-\\3') AS DATE) END""",
        # Timestamp: a date, optionally followed by (space or T) HH:MM[:SS[.ffffff]]; a bare date is midnight.
        f"""CREATE OR REPLACE TEMP MACRO _ld_timestamp(s) AS
            CASE WHEN regexp_full_match(s, '{_CANONICAL_TIMESTAMP_RE}')
                 THEN try_cast(left(s, 10) AS DATE) + try_cast(right(s, 8) AS TIME)
            WHEN regexp_full_match(s, '(?:{_DATE_RE})(?:{_TIME_RE})?')
            THEN _ld_date(regexp_extract(s, '^(?:{_DATE_RE})'))
                 + CASE WHEN regexp_full_match(s, '(?:{_DATE_RE})') THEN TIME '00:00:00'
                        ELSE try_cast(regexp_replace(s, '^(?:{_DATE_RE})[ T]+', '') AS TIME) END
            END""",
        # Amount text without currency symbol (sign kept): `-¥1,280.50` -> `-1,280.50`.
        f"""CREATE OR REPLACE TEMP MACRO _ld_amount_text(s) AS
            regexp_replace(s, '^([-+]?)[{_SPACE}]*[¥￥][{_SPACE}]*', '\\1')""",
        f"""CREATE OR REPLACE TEMP MACRO _ld_amount(s) AS
            CASE WHEN regexp_full_match(_ld_amount_text(s), '{_AMOUNT_BODY}(?:\\.\\d{{1,2}})?')
            THEN try_cast(replace(_ld_amount_text(s), ',', '') AS DECIMAL(18,2)) END""",
        f"""CREATE OR REPLACE TEMP MACRO _ld_amount_too_precise(s) AS
            regexp_full_match(_ld_amount_text(s), '{_AMOUNT_BODY}\\.\\d{{3,}}')""",
        """CREATE OR REPLACE TEMP MACRO _ld_integer(s) AS
            CASE WHEN regexp_full_match(s, '[-+]?\\d+') THEN try_cast(s AS INTEGER) END""",
        f"""CREATE OR REPLACE TEMP MACRO _ld_number(s) AS
            CASE WHEN regexp_full_match(s, '{_AMOUNT_BODY}(?:\\.\\d+)?(?:[eE][-+]?\\d+)?|[-+]?\\.\\d+')
            THEN try_cast(replace(s, ',', '') AS DOUBLE) END""",
        f"""CREATE OR REPLACE TEMP MACRO _ld_boolean(s) AS CASE
            WHEN lower(s) IN ({true_list}) THEN true WHEN lower(s) IN ({false_list}) THEN false END""",
        """CREATE OR REPLACE TEMP MACRO _ld_period(s) AS
            CASE WHEN regexp_full_match(s, '\\d{4}[-/]\\d{1,2}|\\d{4}年\\d{1,2}月')
            THEN strftime(try_cast(regexp_replace(s, '^(\\d+)\\D(\\d+)\\D?$', '\\1-\\2-1') AS DATE), '%Y-%m')
            END""",
        f"""CREATE OR REPLACE TEMP MACRO _ld_enum_key(s) AS
            lower(regexp_replace(s, '[{_SPACE}_-]+', '', 'g'))""",
    ]
    for enum in ENUMS:
        cases = " ".join(f"WHEN {lit(k)} THEN {lit(code)}" for k, code in enum_labels(enum).items())
        codes = ", ".join(lit(code) for code in ENUMS[enum])  # a code is its own spelling: no regex
        stmts.append(
            f"CREATE OR REPLACE TEMP MACRO _ld_enum_{enum}(s) AS CASE WHEN s IN ({codes}) THEN s "
            f"ELSE CASE _ld_enum_key(s) {cases} END END"
        )
    return stmts


def parse_sql(col: Column, v: str) -> str:
    """SQL expression parsing the cleaned text column `v` into the column's type."""
    if col.type == TEXT:
        return v
    if col.type == ENUM:
        return f"_ld_enum_{col.enum}({v})"
    if col.type in TYPE_LABELS:
        return f"_ld_{col.type}({v})"
    raise ValueError(f"unknown column type {col.type!r}")


def _quoted(v: str) -> str:
    """SQL for `'<cell text>'` in a reason, cut to 60 characters."""
    return f"'''' || left({v}, 60) || ''''"


def reason_sql(col: Column, v: str, p: str, bounds: DateBounds | None = None) -> str:
    """SQL: the reject reason of this cell, or NULL when it is fine."""
    name = col.name
    whens = []
    if col.required:
        whens.append(f"WHEN {v} IS NULL THEN {lit(f'{name}: 缺少必填值 missing required value')}")
    else:
        whens.append(f"WHEN {v} IS NULL THEN NULL")
    if col.type == AMOUNT:
        whens.append(
            f"WHEN {p} IS NULL AND _ld_amount_too_precise({v}) THEN "
            f"{lit(f'{name}: 金额超过两位小数 more than 2 decimals ')} || {_quoted(v)}"
        )
    if col.type == ENUM:
        allowed = "/".join(ENUMS[col.enum])
        whens.append(
            f"WHEN {p} IS NULL THEN {lit(f'{name}: 未知枚举值 unknown value ')} || {_quoted(v)}"
            f" || {lit(f' (expected {allowed})')}"
        )
    elif col.type != TEXT:
        zh, en = TYPE_LABELS[col.type]
        whens.append(f"WHEN {p} IS NULL THEN {lit(f'{name}: 非法{zh} invalid {en} ')} || {_quoted(v)}")
    if col.min_value is not None:
        bound = _number(col.min_value)
        if col.min_exclusive:
            text = f"{name}: 必须大于 {bound} must be > {bound}, got "
            whens.append(f"WHEN {p} <= {bound} THEN {lit(text)} || {_quoted(v)}")
        else:
            text = f"{name}: 不得小于 {bound} must be >= {bound}, got "
            whens.append(f"WHEN {p} < {bound} THEN {lit(text)} || {_quoted(v)}")
    if col.max_value is not None:
        bound = _number(col.max_value)
        text = f"{name}: 不得大于 {bound} must be <= {bound}, got "
        whens.append(f"WHEN {p} > {bound} THEN {lit(text)} || {_quoted(v)}")
    if is_identifier(col):
        whens += identifier_whens(name, v)
    if bounds is not None and col.type in (DATE, TIMESTAMP, PERIOD):
        whens.append(date_range_when(col, v, p, bounds))
    return "CASE " + " ".join(whens) + " END"


ID_MAX_LENGTH = 64


def is_identifier(col: Column) -> bool:
    """Text columns named `*_id` (keys and references) must be usable as a page or file name."""
    return col.type == TEXT and col.name.endswith("_id")


# DuckDB regex (RE2) of characters an identifier must not contain: C0/C1 controls, line separators.
_CONTROL_RE = "'[\\x00-\\x1f\\x7f-\\x9f\u2028\u2029]'"
_SLASH_TEXT = "编号含 / 或 \\ identifier contains / or \\ "


def identifier_whens(name: str, v: str) -> list[str]:
    """Contract 1.1: at most 64 characters, no control characters, no `/` or backslash; not `.`/`..`."""
    visible = f"regexp_replace({v}, {_CONTROL_RE}, '\ufffd', 'g')"  # controls shown as U+FFFD
    return [
        f"WHEN length({v}) > {ID_MAX_LENGTH} THEN "
        f"{lit(f'{name}: 编号过长 identifier longer than {ID_MAX_LENGTH} characters ')} || {_quoted(v)}",
        f"WHEN regexp_matches({v}, {_CONTROL_RE}) THEN "
        f"{lit(f'{name}: 编号含控制字符 identifier contains control characters ')} || {_quoted(visible)}",
        f"WHEN contains({v}, '/') OR contains({v}, chr(92)) THEN "
        f"{lit(f'{name}: {_SLASH_TEXT}')} || {_quoted(v)}",
        f"WHEN {v} IN ('.', '..') THEN {lit(f'{name}: 编号不能作文件名 identifier cannot be a file name ')}"
        f" || {_quoted(v)}",
    ]


def date_range_when(col: Column, v: str, p: str, bounds: DateBounds) -> str:
    """Contract 1.1: dates before `lower` or after `upper` (as-of + 5 years by default) are implausible."""
    lo, hi = bounds.lower.isoformat(), bounds.upper.isoformat()
    value = {DATE: p, TIMESTAMP: f"{p}::DATE", PERIOD: f"({p} || '-01')::DATE"}[col.type]
    upper = f"DATE '{hi[:7]}-01'" if col.type == PERIOD else f"DATE '{hi}'"
    text = f"{col.name}: 日期超出合理范围 date outside the plausible range {lo} .. {hi} "
    return f"WHEN {value} < DATE '{lo}' OR {value} > {upper} THEN {lit(text)} || {_quoted(v)}"


def row_rule_sql(entity: Entity, left: str, op: str, right: str, p) -> str:
    """SQL: reason when a row rule such as `end_date >= start_date` is broken (both sides present)."""
    if op not in (">=", ">", "<=", "<", "="):
        raise ValueError(f"unsupported row rule operator {op!r}")
    lp, rp = p(left), p(right)
    text = f"{left}: 违反规则 violates {left} {op} {right} "
    return (
        f"CASE WHEN {lp} IS NOT NULL AND {rp} IS NOT NULL AND NOT ({lp} {op} {rp}) THEN "
        f"{lit(text)} || '(' || {lp}::VARCHAR || ' vs ' || {rp}::VARCHAR || ')' END"
    )


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)
