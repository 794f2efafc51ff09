"""What the nightly publish calls around render_site (wired in orchestration/definitions.py).

- `previous_pages(out_dir)`: the current version's pages folder, so unchanged pages are hard-linked
  from it instead of rendered again (issue 15). The publisher builds a version in
  `<publish_root>/.incoming-<name>/pages` while `<publish_root>/current` still points at the last one.
- `publish_dbt_docs(out_dir, as_of)`: dbt's docs as `pages/dbt-docs/index.html`, linked from the
  数据质量 page. A failure there must not hold back the managers' pages: it is logged and the
  folder gets a short page saying the docs could not be generated (the link still works).
"""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path

from .dbt_docs import DOCS_DIR, DbtDocsError, write_dbt_docs

log = logging.getLogger(__name__)


def previous_pages(out_dir: Path) -> Path | None:
    current = Path(out_dir).resolve().parent.parent / "current" / Path(out_dir).name
    return current if current.is_dir() else None


def publish_dbt_docs(out_dir: Path, as_of_date: str) -> Path:
    target = Path(out_dir) / DOCS_DIR
    try:
        return write_dbt_docs(target, as_of_date)
    except (DbtDocsError, OSError) as exc:
        log.warning("dbt docs not generated: %s", exc)
        target.mkdir(parents=True, exist_ok=True)
        page = target / "index.html"
        page.write_text(
            '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>dbt 文档</title>'
            f"<p>本次运行未能生成 dbt 文档（{escape(type(exc).__name__)}），请联系数据团队。</p></html>",
            encoding="utf-8",
        )
        return page
