"""Personal-data masking of published tables, done in SQL (one CREATE TABLE AS per table).

One normaliser, written once here as regular-expression fragments and compiled both into DuckDB
macros (masking while the snapshot is built) and into Python patterns (the publication scanner and
every ops alert), so what is masked and what is looked for can never drift apart. It treats as the
same number every spelling a person or a source system uses:
- full-width digits (`１３８…`) and ASCII digits;
- separators at the usual places: `138-1234-5678`, `138 1234 5678` (space, NBSP, ideographic space,
  full-width hyphen), and spaces anywhere inside an 18-character credit code;
- country prefixes `+86`, `86`, `0086`, with or without a separator (`86-138-1234-5678`);
- case: credit codes in lower case (`91310115ma1k4abc12`).
A number counts only when it stands alone: not inside a longer run of digits or letters (hex ids,
hashes) and not the fraction of a decimal number (metrics such as 0.13812345678).

Three layers, per column:
- by column name: `contact_phone`, `credit_code` and any column ending in `_phone` / `_credit_code`
  are replaced by their masked form (`138****5678`; credit code: first 6 + `********` + last 4);
- key columns (`id`, `*_id`, `*_key`) are never partly masked, which would make two keys equal: a key
  that looks like personal data is replaced whole by `pii-` + 16 hex digits of its SHA-256, the same
  value in every table (joins and page links keep working; a collision needs a 64-bit hash collision);
- by pattern: every other text/JSON column has the numbers found inside free text (feedback comments,
  rejected raw records) replaced by the same masked forms.
The working warehouse is never touched: masking happens while copying into the snapshot.
"""

from __future__ import annotations

import re

import duckdb

PHONE_COLUMNS = ("contact_phone",)
PHONE_SUFFIX = "_phone"
CREDIT_CODE_COLUMNS = ("credit_code",)
CREDIT_CODE_SUFFIX = "_credit_code"
KEY_COLUMNS = ("id",)
KEY_SUFFIXES = ("_id", "_key")
KEY_PREFIX = "pii-"

FULLWIDTH_DIGITS = "０１２３４５６７８９"
# --- the normaliser's fragments (valid in both Python `re` and RE2) ---
DIGIT = "[0-9０-９]"
SEP = "[- \u00a0\u3000\uff0d]?"  # one optional separator between digit groups
SPACE = "[ \u00a0\u3000]?"  # one optional space between credit-code characters
# Character set of the unified social credit code (GB 32100-2015): digits and letters without I O Z S V.
CC_CHARS = "[0-9A-HJ-NPQRTUWXY]"
CC_CHAR = "[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy０-９]"
BEFORE = "(^|[^0-9A-Za-z０-９.])"  # RE2 has no look-around: guards are captured and put back
AFTER = "([^0-9A-Za-z０-９]|$)"
PHONE_PREFIX = f"((?:(?:[+＋]|[0０]{{2}})?[8８][6６]{SEP})?)"
PHONE_IN_TEXT = f"{BEFORE}{PHONE_PREFIX}([1１][3-9３-９]{DIGIT})({SEP}{DIGIT}{{4}}{SEP})({DIGIT}{{4}}){AFTER}"
PHONE_IN_TEXT_REPLACEMENT = r"\1\2\3****\5\6"
CC_IN_TEXT = (
    f"{BEFORE}({CC_CHAR}{SPACE}{CC_CHAR}(?:{SPACE}{DIGIT}){{4}})"
    f"((?:{SPACE}{DIGIT}){{2}}(?:{SPACE}{CC_CHAR}){{6}}{SPACE})"
    f"({CC_CHAR}(?:{SPACE}{CC_CHAR}){{3}}){AFTER}"
)
CC_IN_TEXT_REPLACEMENT = r"\1\2********\4\5"
# Either kind, for one pass that says whether a value can need masking at all.
PII_IN_TEXT = f"({PHONE_IN_TEXT})|({CC_IN_TEXT})"
# The shortest text either pattern can match: a mobile number's 11 digits (a credit code needs 18
# characters; each pattern atom is one character). A shorter value (most codes, Chinese names,
# statuses) cannot hold one, and skipping the regular expressions for it is most of the masking's and
# the scanner's speed. DuckDB's length() counts characters (code points), as RE2 matches them.
MIN_PII_CHARS = 11

# JSON text may spell the non-ASCII characters above as \uXXXX escapes: they are decoded first.
ESCAPED_CHARS = FULLWIDTH_DIGITS + "＋－\u3000\u00a0"
ESCAPE_RE = re.compile(r"\\u(ff1[0-9]|ff0b|ff0d|3000|00a0)", re.IGNORECASE)

INTERNAL_SUFFIXES = ("_fingerprint",)  # columns left out of the snapshot
PHONE_RE = re.compile(PHONE_IN_TEXT)
CREDIT_CODE_RE = re.compile(CC_IN_TEXT)

BARE_JSON_NUMBER = r"([:\[,]\s*)(1[3-9][0-9]{9}|[0-9]{18})(\s*[,}\]])"


def _sql(pattern: str) -> str:
    return pattern.replace("'", "''")


def unescape_sql(expr: str) -> str:
    """SQL decoding the \\uXXXX escapes of ESCAPED_CHARS (either case of hex digits) in `expr`."""
    for ch in ESCAPED_CHARS:
        for code in {f"\\u{ord(ch):04x}", f"\\u{ord(ch):04X}"}:
            expr = f"replace({expr}, '{code}', '{ch}')"
    return expr


def unescape(text: str) -> str:
    """The Python twin of the SQL `pii_unescape` macro."""
    return ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), text)


# Temporary macros: live in the building connection only, never persisted into the snapshot.
MACROS = [
    f"""CREATE OR REPLACE TEMP MACRO pii_ascii(v) AS
        translate(CAST(v AS VARCHAR), '{FULLWIDTH_DIGITS}', '0123456789')""",
    f"""CREATE OR REPLACE TEMP MACRO pii_unescape(v) AS {unescape_sql("CAST(v AS VARCHAR)")}""",
    r"""CREATE OR REPLACE TEMP MACRO pii_digits(v) AS regexp_replace(pii_ascii(v), '[^0-9]', '', 'g')""",
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
    r"""CREATE OR REPLACE TEMP MACRO pii_code(v) AS upper(regexp_replace(pii_ascii(v), '\s', '', 'g'))""",
    r"""CREATE OR REPLACE TEMP MACRO mask_credit_code(v) AS CASE
        WHEN v IS NULL THEN NULL
        WHEN trim(CAST(v AS VARCHAR)) = '' THEN CAST(v AS VARCHAR)
        WHEN length(pii_code(v)) >= 10 THEN left(pii_code(v), 6) || '********' || right(pii_code(v), 4)
        ELSE '********' END""",
    # applied twice: a global replace consumes the guard character, so back-to-back numbers need a 2nd pass
    f"""CREATE OR REPLACE TEMP MACRO mask_phones_in_text(v) AS
        regexp_replace(regexp_replace(v, '{_sql(PHONE_IN_TEXT)}', '{PHONE_IN_TEXT_REPLACEMENT}', 'g'),
                       '{_sql(PHONE_IN_TEXT)}', '{PHONE_IN_TEXT_REPLACEMENT}', 'g')""",
    f"""CREATE OR REPLACE TEMP MACRO mask_codes_in_text(v) AS
        regexp_replace(regexp_replace(v, '{_sql(CC_IN_TEXT)}', '{CC_IN_TEXT_REPLACEMENT}', 'g'),
                       '{_sql(CC_IN_TEXT)}', '{CC_IN_TEXT_REPLACEMENT}', 'g')""",
    # one cheap test first (length, then one pass of both patterns): the four replacing passes run
    # only on the rare values that hold a number, so they cost nothing on the others
    f"""CREATE OR REPLACE TEMP MACRO pii_found(v) AS length(CAST(v AS VARCHAR)) >= {MIN_PII_CHARS}
        AND regexp_matches(CAST(v AS VARCHAR), '{_sql(PII_IN_TEXT)}')""",
    r"""CREATE OR REPLACE TEMP MACRO mask_text(v) AS CASE
        WHEN pii_found(v) THEN mask_codes_in_text(mask_phones_in_text(v)) ELSE v END""",
    f"""CREATE OR REPLACE TEMP MACRO mask_key(v) AS CASE
        WHEN pii_found(v) THEN '{KEY_PREFIX}' || left(sha256(CAST(v AS VARCHAR)), 16) ELSE v END""",
    # a bare JSON number (phone or 18-digit code) becomes a string first, so its masked form stays valid
    rf"""CREATE OR REPLACE TEMP MACRO pii_quote_json_numbers(v) AS
        regexp_replace(pii_unescape(v), '{BARE_JSON_NUMBER}', '\1"\2"\3', 'g')""",
    # should the result still not parse (a look-alike inside a string), keep it whole as a JSON string
    r"""CREATE OR REPLACE TEMP MACRO mask_json(v) AS CAST(CASE
        WHEN v IS NULL THEN NULL
        WHEN json_valid(mask_text(pii_quote_json_numbers(v))) THEN mask_text(pii_quote_json_numbers(v))
        ELSE to_json(mask_text(pii_unescape(v)))::VARCHAR END AS JSON)""",
]


_PY_MASKS = ((PHONE_RE, PHONE_IN_TEXT_REPLACEMENT), (CREDIT_CODE_RE, CC_IN_TEXT_REPLACEMENT))


def mask_text(text: str) -> str:
    """The SQL `mask_text` in Python, for alert texts and anything else leaving the warehouse."""
    text = unescape(text)
    for pattern, replacement in _PY_MASKS:
        text = pattern.sub(replacement, pattern.sub(replacement, text))
    return text


def count_personal_data(text: str) -> tuple[int, int]:
    """(mobile numbers, credit codes) left unmasked in `text` (JSON escapes decoded first)."""
    text = unescape(text)
    return len(PHONE_RE.findall(text)), len(CREDIT_CODE_RE.findall(text))


def is_phone_column(name: str) -> bool:
    n = name.lower()
    return n in PHONE_COLUMNS or n.endswith(PHONE_SUFFIX)


def is_credit_code_column(name: str) -> bool:
    n = name.lower()
    return n in CREDIT_CODE_COLUMNS or n.endswith(CREDIT_CODE_SUFFIX)


def is_key_column(name: str) -> bool:
    n = name.lower()
    return n in KEY_COLUMNS or n.endswith(KEY_SUFFIXES)


def is_internal_column(name: str) -> bool:
    """Bookkeeping a model keeps for incremental builds (e.g. fct_tasks.input_fingerprint, a hash
    whose 18-20 digit values would read as credit codes): not part of the published interface."""
    return name.lower().endswith(INTERNAL_SUFFIXES)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    for sql in MACROS:
        con.execute(sql)


def _column_expr(name: str, dtype: str) -> tuple[str, str | None]:
    """(select expression, how it is masked: 'name', 'key', 'pattern' or None)."""
    q = quote(name)
    if is_phone_column(name):
        return f"mask_phone({q}) AS {q}", "name"
    if is_credit_code_column(name):
        return f"mask_credit_code({q}) AS {q}", "name"
    if dtype == "VARCHAR" and is_key_column(name):
        return f"mask_key({q}) AS {q}", "key"
    if dtype == "JSON":
        return f"mask_json({q}) AS {q}", "pattern"
    if dtype == "VARCHAR":
        return f"mask_text({q}) AS {q}", "pattern"
    return q, None


def text_masked_columns(columns: list[tuple[str, str]]) -> list[str]:
    """The VARCHAR columns of `columns` masked as keys or by pattern (`mask_key`, `mask_text`): each
    value is changed only when `pii_found` holds for it, else kept as it is."""
    return [n for n, t in columns if t == "VARCHAR" and _column_expr(n, t)[1] in ("key", "pattern")]


def masked_select(
    columns: list[tuple[str, str]], identity: frozenset[str] | set[str] = frozenset()
) -> tuple[str, list[str], list[str]]:
    """The select list that copies a table masked, for `columns` = [(name, duckdb type)].
    `identity`: columns of `text_masked_columns` known to hold no value `pii_found` holds for, on
    which masking is the identity: copied as they are (same values, same type), which spares the
    test of every value (the snapshot's pre-pass, docs/publication.md, "Masking a clean column").

    Returns (select list, columns masked by name, columns masked by pattern or as keys).
    """
    exprs, by_name, by_pattern = [], [], []
    for name, dtype in columns:
        expr, how = _column_expr(name, dtype)
        if name in identity and dtype == "VARCHAR" and how in ("key", "pattern"):
            expr = quote(name)
        exprs.append(expr)
        if how == "name":
            by_name.append(name)
        elif how:
            by_pattern.append(name)
    return ", ".join(exprs), by_name, by_pattern
