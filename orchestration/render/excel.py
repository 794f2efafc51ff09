"""Excel-style format codes ('#,##0.00', '0.0%', 'yyyy-mm-dd', '"¥"#,##0"万"') as Evidence applies them.

Evidence formats with SheetJS SSF (`ssf.format(code, value)`); this is the subset of SSF the pages
need, with SSF's output: one section (no `;`), digit placeholders `0` and `#`, a thousands `,`,
trailing `,` (÷1000 each), `.` decimals, `%`, quoted text `"…"`, `\\x`, `[$¥]`, `@`, and the date
tokens y m d h s (mmm/mmmm/ddd/dddd in English, as SSF). A code outside the subset is a FormatError, so
a page cannot silently show something else than Evidence would. The browser test compares this
module with the real SSF (vendored for the charts) on the same values.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from functools import lru_cache

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September"]
MONTHS += ["October", "November", "December"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_LITERAL_CHARS = set("$-+/():!^&'~{}<>= ")
_TOKEN = re.compile(
    r'"(?P<q>[^"]*)"|\\(?P<esc>.)|\[\$(?P<cur>[^\]-]*)(?:-[0-9A-Fa-f]+)?\]|(?P<ampm>AM/PM|A/P)'
    r"|(?P<date>y+|m+|d+|h+|s+|Y+|M+|D+|H+|S+)|(?P<num>[0#?,.]+)|(?P<pct>%)|(?P<at>@)|(?P<other>.)",
    re.S,
)


class FormatError(ValueError):
    pass


@dataclass(frozen=True)
class Code:
    """A parsed format code."""

    text: str
    parts: tuple[tuple[str, str], ...]  # (kind, value): lit, num, pct, at, date, ampm
    is_date: bool
    decimals: int = 0
    min_int: int = 0
    grouping: bool = False
    scale_thousands: int = 0
    percents: int = 0


@lru_cache(maxsize=512)
def parse(code: str) -> Code:
    if not code or ";" in code:
        raise FormatError(f"format code {code!r}: only a single-section code is supported")
    parts: list[tuple[str, str]] = []
    for m in _TOKEN.finditer(code):
        kind = m.lastgroup
        value = m.group(kind)
        if kind in ("q", "esc", "cur"):
            parts.append(("lit", value))
        elif kind == "other":
            if value not in _LITERAL_CHARS:
                raise FormatError(f"format code {code!r}: put {value!r} in double quotes")
            parts.append(("lit", value))
        elif kind == "date":
            parts.append(("date", value.lower()))
        else:
            parts.append((kind, value))
    nums = [v for k, v in parts if k == "num"]
    dates = [v for k, v in parts if k == "date"]
    if dates:
        if any(set(v) - set(",.") for v in nums):
            raise FormatError(f"format code {code!r}: mixes number and date tokens")
        parts = [("lit", v) if k == "num" else (k, v) for k, v in parts]
        return Code(code, tuple(_minutes(parts)), is_date=True)
    if len(nums) > 1:
        raise FormatError(f"format code {code!r}: one number per code")
    if not nums:
        return Code(code, tuple(parts), is_date=False, percents=sum(k == "pct" for k, _ in parts))
    num = nums[0]
    if num.count(".") > 1 or not re.search(r"[0#?]", num):
        raise FormatError(f"format code {code!r}: malformed number {num!r}")
    body = num.rstrip(",")
    scale = len(num) - len(body)
    whole, _, frac = body.partition(".")
    if "," in frac or "?" in num:
        raise FormatError(f"format code {code!r}: unsupported number {num!r}")
    return Code(
        code,
        tuple(parts),
        is_date=False,
        decimals=len(frac),
        min_int=whole.count("0"),
        grouping="," in whole,
        scale_thousands=scale,
        percents=sum(k == "pct" for k, _ in parts),
    )


def _minutes(parts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`m`/`mm` right after an hour or right before seconds means minutes (as in Excel)."""
    out = list(parts)
    tokens = [i for i, (k, _) in enumerate(out) if k == "date"]
    for n, i in enumerate(tokens):
        v = out[i][1]
        if v[0] != "m" or len(v) > 2:
            continue
        prev = out[tokens[n - 1]][1] if n else ""
        nxt = out[tokens[n + 1]][1] if n + 1 < len(tokens) else ""
        if prev.startswith("h") or nxt.startswith("s"):
            out[i] = ("date", "M" * len(v))
    return out


def _js_round(x: float) -> int:
    return math.floor(x + 0.5)


def _digits(code: Code, aval: float) -> tuple[int, str]:
    """Integer part and decimals of |value| with SSF's rounding (which works on the binary float:
    1.005 -> 1.00; with thousands separators the fraction is rounded on its own and carries)."""
    d = code.decimals
    if d == 0:
        return _js_round(aval), ""
    if code.grouping:
        ip = math.floor(aval)
        r = _js_round((aval - ip) * 10**d)
        if len(str(r)) > d:
            ip, r = ip + 1, 0
        return ip, str(r).rjust(d, "0")
    text = f"{_js_round(aval * 10**d) / 10**d:.{d}f}"
    whole, _, frac = text.partition(".")
    return int(whole), frac


def format_number(code: Code, value: float) -> str:
    if code.is_date:
        raise FormatError(f"date format {code.text!r} applied to a number")
    v = float(value) * 100**code.percents / 1000**code.scale_thousands
    neg = v < 0
    ip, frac = _digits(code, abs(v))
    whole = f"{ip:,}" if code.grouping else str(ip)
    if ip == 0 and code.min_int == 0:
        whole = ""
    number = whole + ("." + frac if code.decimals else "")
    out = []
    for kind, val in code.parts:
        if kind == "num":
            out.append(number)
        elif kind == "pct":
            out.append("%")
        elif kind == "at":
            out.append(_plain(value))
        else:
            out.append(val)
    text = "".join(out)
    return ("-" + text) if neg else text  # SSF keeps the sign of a value that rounds to 0


def format_date(code: Code, value: dt.date) -> str:
    if not code.is_date:
        raise FormatError(f"number format {code.text!r} applied to a date")
    t = value if isinstance(value, dt.datetime) else dt.datetime(value.year, value.month, value.day)
    has_ampm = any(k == "ampm" for k, _ in code.parts)
    out = []
    for kind, val in code.parts:
        if kind == "date":
            out.append(_date_token(val, t, has_ampm))
        elif kind == "ampm":
            out.append(("AM" if t.hour < 12 else "PM") if val == "AM/PM" else ("A" if t.hour < 12 else "P"))
        elif kind == "lit":
            out.append(val)
        else:
            raise FormatError(f"format code {code.text!r}: {val!r} in a date code")
    return "".join(out)


def _date_token(tok: str, t: dt.datetime, ampm: bool) -> str:
    n = len(tok)
    c = tok[0]
    if c == "y":
        return f"{t.year % 100:02d}" if n <= 2 else f"{t.year:04d}"
    if c == "m":
        name = MONTHS[t.month - 1]
        return {1: str(t.month), 2: f"{t.month:02d}", 3: name[:3], 4: name}.get(n, name[0])
    if c == "M":
        return str(t.minute) if n == 1 else f"{t.minute:02d}"
    if c == "d":
        return [str(t.day), f"{t.day:02d}", DAYS[t.weekday()][:3], DAYS[t.weekday()]][min(n, 4) - 1]
    if c == "h":
        h = (t.hour % 12 or 12) if ampm else t.hour
        return str(h) if n == 1 else f"{h:02d}"
    if c == "s":
        return str(t.second) if n == 1 else f"{t.second:02d}"
    raise FormatError(f"date token {tok!r}")  # pragma: no cover


def _plain(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def format_code(code_text: str, value) -> str:
    """ssf.format(code, value) for the supported subset."""
    code = parse(code_text)
    if isinstance(value, dt.date):
        return format_date(code, value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float) or hasattr(value, "as_integer_ratio"):
        if code.is_date:
            return format_date(code, _from_serial(float(value)))
        if not any(k == "num" for k, _ in code.parts):
            return "".join(_plain(value) if k == "at" else ("%" if k == "pct" else v) for k, v in code.parts)
        return format_number(code, float(value))
    text = str(value)
    if any(k == "at" for k, _ in code.parts):
        return "".join(text if k == "at" else v for k, v in code.parts if k in ("at", "lit"))
    return text


def _from_serial(serial: float) -> dt.datetime:
    return dt.datetime(1899, 12, 30) + dt.timedelta(days=serial)
