"""Header matching: canonical names or Chinese aliases, tolerant of spacing, case and annotations."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from orchestration.contract import ENTITIES

from .errors import FileRejected

# After NFKC, full-width parentheses are ASCII ones: `应收金额（元）` -> `应收金额(元)` -> `应收金额`.
_ANNOTATION = re.compile(r"\([^)]*\)")


def normalize_header(header: object) -> str:
    """Matching key of a header: NFKC (full-width → half-width), annotations dropped, trimmed, casefolded."""
    text = unicodedata.normalize("NFKC", "" if header is None else str(header)).replace("\ufeff", "")
    return _ANNOTATION.sub("", text).strip().casefold()


def header_lookup(entity: str) -> dict[str, str]:
    """Normalized header → canonical column name, for every name and alias of the entity."""
    lookup: dict[str, str] = {}
    for col in ENTITIES[entity].columns:
        for spelling in (col.name, *col.aliases):
            key = normalize_header(spelling)
            if lookup.get(key, col.name) != col.name:  # a contract bug, not a data problem
                raise ValueError(f"{entity}: header {spelling!r} is ambiguous in the contract")
            lookup[key] = col.name
    return lookup


@dataclass(frozen=True)
class HeaderMap:
    keys: list[str]  # per file column: the key used in raw_record / _extra (original header, trimmed)
    columns: dict[str, int]  # canonical column -> file column position
    extras: list[int]  # positions of unknown columns, kept in _extra


def map_headers(entity: str, headers: list[object]) -> HeaderMap:
    """Map a file's header row onto the contract; raise FileRejected on duplicates or missing columns."""
    lookup = header_lookup(entity)
    keys, columns, extras = [], {}, []
    seen_keys: dict[str, int] = {}
    for pos, header in enumerate(headers):
        original = unicodedata.normalize("NFC", "" if header is None else str(header)).strip()
        key = original.replace("\ufeff", "") or f"_col{pos + 1}"
        if key in seen_keys:
            first = seen_keys[key] + 1
            raise FileRejected(f"重复表头 duplicate header {key!r} (columns {first} and {pos + 1})")
        seen_keys[key] = pos
        keys.append(key)
        column = lookup.get(normalize_header(header))
        if column is None:
            extras.append(pos)
        elif column in columns:
            other = keys[columns[column]]
            raise FileRejected(f"重复列 duplicate column: {other!r} and {key!r} both map to {column}")
        else:
            columns[column] = pos
    missing = [c for c in ENTITIES[entity].required_columns if c not in columns]
    if missing:
        named = ", ".join(f"{c} ({ENTITIES[entity].column(c).aliases[0]})" for c in missing)
        raise FileRejected(f"缺少必填列 missing required column(s): {named}")
    return HeaderMap(keys, columns, extras)
