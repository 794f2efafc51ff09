"""Entity tables of docs/raw-data-contract.md, rendered from orchestration/contract.py.

`python -m orchestration.loading.contract_doc` rewrites the generated section of the doc in place;
a test fails when the doc and the contract disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from orchestration.contract import ENTITIES, ENUM_EXTRA_LABELS, ENUMS, Column
from orchestration.settings import REPO_ROOT

DOC = REPO_ROOT / "docs" / "raw-data-contract.md"
BEGIN = "<!-- BEGIN GENERATED: python -m orchestration.loading.contract_doc -->"
END = "<!-- END GENERATED -->"


def _type(col: Column) -> str:
    bounds = []
    if col.min_value is not None:
        bounds.append(f"{'>' if col.min_exclusive else '≥'} {col.min_value:g}")
    if col.max_value is not None:
        bounds.append(f"≤ {col.max_value:g}")
    return " ".join([col.type, ", ".join(bounds)]).strip()


def _notes(col: Column) -> str:
    notes = []
    if col.enum:
        notes.append(", ".join(f"`{code}` {label}" for code, label in ENUMS[col.enum].items()))
        extra = ENUM_EXTRA_LABELS.get(col.enum)
        if extra:
            notes.append("also " + ", ".join(f"{k} → `{v}`" for k, v in extra.items()))
    if col.references:
        notes.append(f"→ {col.references}")
    if col.personal_data:
        notes.append("personal data")
    return "; ".join(notes)


def render() -> str:
    out = []
    for e in ENTITIES.values():
        folder = "required folder" if e.required else "optional folder"
        out.append(f"### {e.name} — {e.label} ({folder}; key: {', '.join(e.primary_key)})\n")
        if not e.has_updated_at:
            out.append("No `updated_at`: duplicates of a key resolve by later file, then later line.\n")
        if e.row_rules:
            out.append("Row rules: " + "; ".join(f"`{a} {op} {b}`" for a, op, b in e.row_rules) + "\n")
        out.append("| column | required | type | header aliases | values / notes |")
        out.append("|---|---|---|---|---|")
        for c in e.columns:
            out.append(
                f"| `{c.name}` | {'yes' if c.required else ''} | {_type(c)} | {' / '.join(c.aliases)} "
                f"| {_notes(c)} |"
            )
        out.append("")
    return "\n".join(out)


def generated_section(text: str) -> str:
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")


def main(path: Path = DOC) -> None:
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(f"{head}{BEGIN}\n{render()}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DOC)
