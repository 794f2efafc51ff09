"""Render canonical records as the files real source systems export.

Each file picks a header language, enum language, date style, amount style and encoding, so that
the demo exercises every path of the loader. xlsx files are written byte-reproducibly (openpyxl
stamps the save time into the zip entries and docProps/core.xml; both are pinned here).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from openpyxl import Workbook

from orchestration.contract import (
    AMOUNT,
    BOOLEAN,
    DATE,
    ENTITIES,
    ENUM,
    ENUMS,
    INTEGER,
    NUMBER,
    TIMESTAMP,
)

# Which alias to use as a Chinese header when the contract lists several.
PREFERRED_ALIAS = {"team": "部门", "reference": "备注"}


@dataclass(frozen=True)
class Style:
    headers: str = "en"  # "en" canonical names | "zh" Chinese aliases
    enums: str = "code"  # "code" | "label"
    dates: str = "iso"  # "iso" 2026-11-19 | "slash" 2026/11/19 | "slash_short" 2026/3/5 | "cn" 2026年11月19日
    amounts: str = "plain"  # "plain" 1280.00 | "yen" ¥1,280.00
    booleans: str = "en"  # "en" true/false | "zh" 是/否
    seconds: bool = True  # timestamps with :SS
    encoding: str = "utf-8"  # "utf-8" | "utf-8-sig" | "gb18030"
    newline: str = "\n"


def header(entity: str, col: str, style: Style) -> str:
    if style.headers == "en":
        return col
    c = ENTITIES[entity].column(col)
    return PREFERRED_ALIAS.get(col, c.aliases[0])


def fmt_date(d: date, style: Style) -> str:
    if style.dates == "slash":
        return f"{d.year}/{d.month:02d}/{d.day:02d}"
    if style.dates == "slash_short":
        return f"{d.year}/{d.month}/{d.day}"
    if style.dates == "cn":
        return f"{d.year}年{d.month}月{d.day}日"
    return d.isoformat()


def fmt_amount(cents: int, style: Style) -> str:
    sign, cents = ("-", -cents) if cents < 0 else ("", cents)
    if style.amounts == "yen":
        return f"{sign}¥{cents // 100:,}.{cents % 100:02d}"
    return f"{sign}{cents // 100}.{cents % 100:02d}"


class Renderer:
    """Formats one entity's records under a style; `shift` moves updated_at (the `stale` fault)."""

    def __init__(self, entity: str, style: Style, shift: timedelta = timedelta(0)):
        self.entity = ENTITIES[entity]
        self.style = style
        self.shift = shift
        self.columns = self.entity.columns

    def headers(self, drop: tuple[str, ...] = ()) -> list[str]:
        return [header(self.entity.name, c.name, self.style) for c in self.columns if c.name not in drop]

    def cell(self, col, value) -> str:
        s = self.style
        if value is None:
            return ""
        if col.type == ENUM:
            return ENUMS[col.enum][value] if s.enums == "label" else value
        if col.type == DATE:
            return fmt_date(value, s)
        if col.type == TIMESTAMP:
            if col.name == "updated_at":
                value = value + self.shift
            fmt = "%H:%M:%S" if s.seconds else "%H:%M"
            return fmt_date(value.date(), s) + " " + value.strftime(fmt)
        if col.type == AMOUNT:
            return fmt_amount(value, s)
        if col.type == BOOLEAN:
            return ("是" if value else "否") if s.booleans == "zh" else ("true" if value else "false")
        if col.type in (INTEGER, NUMBER):
            return str(value)
        return str(value)

    def row(self, rec: dict, drop: tuple[str, ...] = (), override: dict | None = None) -> list[str]:
        out = []
        for c in self.columns:
            if c.name in drop:
                continue
            if override and c.name in override:
                out.append(override[c.name])
            else:
                out.append(self.cell(c, rec.get(c.name)))
        return out


def write_csv(path: Path, head: list[str], rows: list[list[str]], style: Style) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=style.newline)
    w.writerow(head)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(style.encoding))
    return len(rows)


FIXED_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def save_xlsx(wb: Workbook, path: Path, stamp: datetime) -> None:
    """Save an openpyxl workbook so that equal content gives equal bytes."""
    wb.properties.created = stamp
    raw = io.BytesIO()
    wb.save(raw)
    src = zipfile.ZipFile(io.BytesIO(raw.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode() + rb"\g<2>",
                    data,
                )
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())
