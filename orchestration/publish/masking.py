"""Personal-data masking of published tables, done in SQL (one CREATE TABLE AS per table).

Two layers:
- by column name: `contact_phone`, `credit_code` and any column ending in `_phone` / `_credit_code`
  are replaced by their masked form (`138****5678`; credit code: first 6 + `********` + last 4);
- by pattern: every other text/JSON column has mobile numbers and credit codes found inside free
  text (feedback comments, rejected raw records) replaced by the same masked forms.
The working warehouse is never touched: masking happens while copying into the snapshot.
"""

from __future__ import annotations

import duckdb

PHONE_COLUMNS = ("contact_phone",)
PHONE_SUFFIX = "_phone"
CREDIT_CODE_COLUMNS = ("credit_code",)
CREDIT_CODE_SUFFIX = "_credit_code"

# Character set of the unified social credit code (GB 32100-2015): digits and capitals without I O Z S V.
CC_CHARS = "[0-9A-HJ-NPQRTUWXY]"
# RE2 has no look-around, so the "not adjacent to a digit/letter" guards are captured and put back.
PHONE_IN_TEXT = r"(^|[^0-9])(1[3-9][0-9])[0-9]{4}([0-9]{4})([^0-9]|$)"
PHONE_IN_TEXT_REPLACEMENT = r"\1\2****\3\4"
CC_IN_TEXT = (
    rf"(^|[^0-9A-Za-z])({CC_CHARS}{{2}}[0-9]{{4}})[0-9]{{2}}{CC_CHARS}{{6}}({CC_CHARS}{{4}})([^0-9A-Za-z]|$)"
)
CC_IN_TEXT_REPLACEMENT = r"\1\2********\3\4"

BARE_JSON_NUMBER = r"([:\[,]\s*)(1[3-9][0-9]{9}|[0-9]{18})(\s*[,}\]])"

# Temporary macros: live in the building connection only, never persisted into the snapshot.
MACROS = [
    r"""CREATE OR REPLACE TEMP MACRO pii_digits(v) AS
        regexp_replace(CAST(v AS VARCHAR), '[^0-9]', '', 'g')""",
    # +86 / 0086 country prefixes are dropped so the kept digits are the recognisable ones
    r"""CREATE OR REPLACE TEMP MACRO pii_national(d) AS CASE
        WHEN length(d) = 13 AND d LIKE '86%' THEN substr(d, 3)
        WHEN length(d) = 15 AND d LIKE '0086%' THEN substr(d, 5)
        ELSE d END""",
    r"""CREATE OR REPLACE TEMP MACRO mask_phone(v) AS CASE
        WHEN v IS NULL THEN NULL
        WHEN trim(CAST(v AS VARCHAR)) = '' THEN CAST(v AS VARCHAR)
        WHEN length(pii_national(pii_digits(v))) >= 7
            THEN left(pii_national(pii_digits(v)), 3) || '****' || right(pii_national(pii_digits(v)), 4)
        ELSE '****' END""",
    r"""CREATE OR REPLACE TEMP MACRO mask_credit_code(v) AS CASE
        WHEN v IS NULL THEN NULL
        WHEN trim(CAST(v AS VARCHAR)) = '' THEN CAST(v AS VARCHAR)
        WHEN length(trim(CAST(v AS VARCHAR))) >= 10 THEN
            left(upper(trim(CAST(v AS VARCHAR))), 6) || '********'
            || right(upper(trim(CAST(v AS VARCHAR))), 4)
        ELSE '********' END""",
    # applied twice: a global replace consumes the separator, so back-to-back numbers need a 2nd pass
    rf"""CREATE OR REPLACE TEMP MACRO mask_phones_in_text(v) AS
        regexp_replace(regexp_replace(v, '{PHONE_IN_TEXT}', '{PHONE_IN_TEXT_REPLACEMENT}', 'g'),
                       '{PHONE_IN_TEXT}', '{PHONE_IN_TEXT_REPLACEMENT}', 'g')""",
    rf"""CREATE OR REPLACE TEMP MACRO mask_codes_in_text(v) AS
        regexp_replace(regexp_replace(v, '{CC_IN_TEXT}', '{CC_IN_TEXT_REPLACEMENT}', 'g'),
                       '{CC_IN_TEXT}', '{CC_IN_TEXT_REPLACEMENT}', 'g')""",
    r"""CREATE OR REPLACE TEMP MACRO mask_text(v) AS mask_codes_in_text(mask_phones_in_text(v))""",
    # a bare JSON number (phone or 18-digit code) becomes a string first, so its masked form stays valid
    rf"""CREATE OR REPLACE TEMP MACRO pii_quote_json_numbers(v) AS
        regexp_replace(CAST(v AS VARCHAR), '{BARE_JSON_NUMBER}', '\1"\2"\3', 'g')""",
    # should the result still not parse (a look-alike inside a string), keep it whole as a JSON string
    r"""CREATE OR REPLACE TEMP MACRO mask_json(v) AS CAST(CASE
        WHEN v IS NULL THEN NULL
        WHEN json_valid(mask_text(pii_quote_json_numbers(v))) THEN mask_text(pii_quote_json_numbers(v))
        ELSE to_json(mask_text(CAST(v AS VARCHAR)))::VARCHAR END AS JSON)""",
]


def is_phone_column(name: str) -> bool:
    n = name.lower()
    return n in PHONE_COLUMNS or n.endswith(PHONE_SUFFIX)


def is_credit_code_column(name: str) -> bool:
    n = name.lower()
    return n in CREDIT_CODE_COLUMNS or n.endswith(CREDIT_CODE_SUFFIX)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    for sql in MACROS:
        con.execute(sql)


def masked_select(columns: list[tuple[str, str]]) -> tuple[str, list[str], list[str]]:
    """The select list that copies a table masked, for `columns` = [(name, duckdb type)].

    Returns (select list, columns masked by name, columns masked by pattern).
    """
    exprs, by_name, by_pattern = [], [], []
    for name, dtype in columns:
        q = quote(name)
        if is_phone_column(name):
            exprs.append(f"mask_phone({q}) AS {q}")
            by_name.append(name)
        elif is_credit_code_column(name):
            exprs.append(f"mask_credit_code({q}) AS {q}")
            by_name.append(name)
        elif dtype == "JSON":
            exprs.append(f"mask_json({q}) AS {q}")
            by_pattern.append(name)
        elif dtype == "VARCHAR":
            exprs.append(f"mask_text({q}) AS {q}")
            by_pattern.append(name)
        else:
            exprs.append(q)
    return ", ".join(exprs), by_name, by_pattern
