"""Parse an Evidence-format page: frontmatter, ```sql fences and a tree of components."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml


class RenderError(Exception):
    """A page cannot be rendered (bad syntax, unknown component, broken link...)."""


COMPONENTS = {
    "BigValue",
    "Value",
    "DataTable",
    "Column",
    "LineChart",
    "BarChart",
    "AreaChart",
    "Details",
    "Alert",
}
CONTAINERS = {"DataTable", "Details", "Alert"}
_CHART = {"data", "x", "y", "series", "type", "title", "subtitle", "yFmt", "xFmt", "xAxisTitle", "yAxisTitle"}
_CHART |= {"swapXY", "sort", "emptySet", "emptyMessage", "legend", "chartAreaHeight"}
# props each component accepts (Evidence names); anything else fails the render with file:line
PROPS: dict[str, set[str]] = {
    "BigValue": {"data", "value", "title", "fmt", "comparison", "comparisonFmt", "comparisonTitle"}
    | {"downIsGood", "emptySet", "emptyMessage", "link"},
    "Value": {"data", "column", "row", "fmt", "emptySet", "emptyMessage"},
    "DataTable": {"data", "rows", "search", "link", "title", "subtitle", "emptySet", "emptyMessage"}
    | {"downloadable", "sort", "wrapTitles"},
    "Column": {"id", "title", "fmt", "contentType", "linkLabel", "align", "wrap"},
    "LineChart": _CHART,
    "BarChart": _CHART,
    "AreaChart": _CHART,
    "Details": {"title", "open"},
    "Alert": {"status"},
}

_FRONTMATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)
_SQL_FENCE = re.compile(r"^```sql[ \t]+([A-Za-z_]\w*)[ \t]*\n(.*?)^```[ \t]*$\n?", re.S | re.M)
_ATTR = r"""\s+[A-Za-z_][\w-]*(?:\s*=\s*(?:"[^"]*"|'[^']*'|\{[^}]*\}|[^\s/>"'{}]+))?"""
_OPEN_TAG = re.compile(rf"<([A-Z][A-Za-z0-9]*)((?:{_ATTR})*)\s*(/?)>")
_CLOSE_TAG = re.compile(r"</([A-Z][A-Za-z0-9]*)\s*>")
_ONE_ATTR = re.compile(r"""([A-Za-z_][\w-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|\{([^}]*)\}|([^\s/>"'{}]+)))?""")


@dataclass
class Node:
    name: str  # component name, or "" for a markdown text run
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    text: str = ""
    braced: set[str] = field(default_factory=set)  # attrs written as {expr}
    line: int = 0  # line in the page file where the node starts


@dataclass
class PageSource:
    path: Path
    frontmatter: dict
    queries: dict[str, str]  # name -> sql, in page order
    body: str  # markdown with components; sql fences blanked (line numbers kept)
    body_line: int = 1  # line of the file where body starts (after the frontmatter)


def parse_attrs(text: str) -> tuple[dict[str, str], set[str]]:
    attrs: dict[str, str] = {}
    braced: set[str] = set()
    for m in _ONE_ATTR.finditer(text):
        name, dq, sq, br, bare = m.groups()
        if br is not None:
            braced.add(name)
        value = next((v for v in (dq, sq, br, bare) if v is not None), "true")
        attrs[name] = value.strip() if br is not None else value
    return attrs, braced


def parse_list(value: str) -> list[str]:
    """`['a','b']` or `a` -> ['a', 'b'] / ['a'] (Evidence y={['a','b']})."""
    v = value.strip()
    if v.startswith("[") and v.endswith("]"):
        return [p.strip().strip("'\"") for p in v[1:-1].split(",") if p.strip()]
    return [v.strip("'\"")]


def parse_page(path: Path) -> PageSource:
    text = path.read_text(encoding="utf-8")
    frontmatter: dict = {}
    body_line = 1
    m = _FRONTMATTER.match(text)
    if m:
        try:
            frontmatter = yaml.safe_load(m.group(1)) or {}
        except yaml.YAMLError as exc:
            raise RenderError(f"{path}: bad frontmatter: {exc}") from exc
        body_line += text[: m.end()].count("\n")
        text = text[m.end() :]
    queries: dict[str, str] = {}
    for q in _SQL_FENCE.finditer(text):
        name = q.group(1)
        if name in queries:
            raise RenderError(f"{path}: query '{name}' defined twice")
        queries[name] = q.group(2).strip().rstrip(";").strip()
    text = _SQL_FENCE.sub(lambda q: "\n" * q.group(0).count("\n"), text)
    parse_body(text, path, body_line)  # syntax errors surface even on pages whose {#if} hides a part
    return PageSource(path=path, frontmatter=frontmatter, queries=queries, body=text, body_line=body_line)


def parse_body(text: str, path: Path, first_line: int = 1) -> list[Node]:
    """Components and text runs; errors name `file:line`; unknown components and props fail."""
    root = Node(name="#root")
    stack = [root]
    pos = 0
    pattern = re.compile(f"{_OPEN_TAG.pattern}|{_CLOSE_TAG.pattern}")
    for m in pattern.finditer(text):
        if m.start() > pos:
            stack[-1].children.append(
                Node(name="", text=text[pos : m.start()], line=first_line + text.count("\n", 0, pos))
            )
        pos = m.end()
        line = first_line + text.count("\n", 0, m.start())
        open_name, attr_text, self_close, close_name = m.groups()
        if close_name:
            if stack[-1].name != close_name:
                raise RenderError(f"{path}:{line}: unexpected </{close_name}>")
            stack.pop()
            continue
        if open_name not in COMPONENTS:
            raise RenderError(f"{path}:{line}: unsupported component <{open_name}> (see docs/pages.md)")
        attrs, braced = parse_attrs(attr_text or "")
        unknown = sorted(set(attrs) - PROPS[open_name])
        if unknown:
            raise RenderError(
                f"{path}:{line}: <{open_name}> has no prop {', '.join(unknown)} "
                f"(supported: {', '.join(sorted(PROPS[open_name]))}; see docs/pages.md)"
            )
        node = Node(name=open_name, attrs=attrs, braced=braced, line=line)
        stack[-1].children.append(node)
        if not self_close and open_name in CONTAINERS:
            stack.append(node)
    if pos < len(text):
        stack[-1].children.append(Node(name="", text=text[pos:], line=first_line + text.count("\n", 0, pos)))
    if len(stack) > 1:
        raise RenderError(f"{path}:{stack[-1].line}: <{stack[-1].name}> is never closed")
    return root.children
