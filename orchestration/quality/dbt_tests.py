"""Failed dbt tests named precisely: the test, its model, the failing rows and up to 5 example keys.

dbt itself only says "Got 1 result, configured to fail if != 0". Right after a dbt invocation of the
night ends (the dbt process has exited, so the night's own step may open the warehouse),
`record_failures` reads that invocation's `run_results.json` and `manifest.json`, runs each failed
test's compiled SQL again with a limit on a read-only connection, and turns the failing rows into
example *keys of the tested model* — an orphan invoice is named by its `invoice_id`, not by the
unknown `client_id` the relationships test returns:

- the tested model's key is the first of its columns carrying a `unique` test;
- when the failing rows hold that key, it is taken from them (singular tests, expression tests);
- else, for a test on another column (relationships, accepted_values, not_null, ...), the model's
  rows whose tested column equals a failing value are looked up: `invoice_id=AR1（client_id=9999）`;
- else the failing rows' first column is shown, named by the tested column (a unique test on the
  key: the duplicated keys);
- a `not_null_columns` test (one node for a model's not-null columns) returns a row per NULL cell with
  the column's name in `failing_column`: shown as `task_id=T1（status=NULL）`; an
  `accepted_values_columns` test (one node for a model's accepted-values columns) a row per value
  outside its column's list, with the column in `failing_column` and the value in `failing_value`:
  the model's rows holding it are looked up, shown as `task_id=T1（status=lost）` as for dbt's own
  accepted_values test on that column (the columns take turns among the 5 examples).
Examples are masked with the publication's normaliser. Every invocation of the night merges its
records into `<night target>/dbt_failures.json` (keyed by the test's unique id), which the failure
report reads (a sensor never opens the warehouse), and the quality report gets `dbt_tests/index.html`
and `dbt_tests/failures.json` next to the GX data docs.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import duckdb

from orchestration.loading.parsing import lit
from orchestration.publish.masking import mask_text, quote

FAILURES_FILE = "dbt_failures.json"
MAX_EXAMPLES = 5
FAILING_COLUMN = "failing_column"  # tests/generic/not_null_columns.sql: the NULL column of a failing row
FAILING_VALUE = "failing_value"  # tests/generic/accepted_values_columns.sql: a value outside the list
MAX_TESTS = 25  # failed tests queried for examples per invocation; the rest keep name and count
NOT_PASSED = {"fail": "error", "error": "error", "warn": "warn"}  # dbt status -> severity
TEST_KINDS = {
    "not_null": "非空",
    "not_null_columns": "非空",
    "unique": "唯一",
    "unique_column_set": "列组合唯一",
    "relationships": "引用完整（外键）",
    "accepted_values": "取值范围",
    "accepted_values_columns": "取值范围",
    "expression_is_true": "表达式成立",
}


def node_label(node: dict, unique_id: str) -> tuple[str, str]:
    """(Chinese kind, English name) of a dbt node."""
    name = node.get("name") or unique_id.split(".")[-1]
    if unique_id.startswith("test."):
        kind = (node.get("test_metadata") or {}).get("name", "")
        return f"dbt 测试：{TEST_KINDS.get(kind, '数据规则')}", name
    return "dbt 模型构建失败", name


def tested_models(node: dict, unique_id: str) -> list[str]:
    """Unique ids of the models a test reads, the tested one first (relationships: child, then parent)."""
    if not unique_id.startswith("test."):
        return [unique_id]
    nodes = [node.get("attached_node") or "", *(node.get("depends_on") or {}).get("nodes", [])]
    return [n for n in dict.fromkeys(nodes) if n]


def model_names(uids: list[str]) -> str:
    return "、".join(u.split(".")[-1] for u in uids) or "?"


def key_column(model_uid: str, nodes: dict) -> str | None:
    """The model's key: the first of its columns (yml order) that carries a `unique` test."""
    unique = {
        n["column_name"]
        for n in nodes.values()
        if n.get("resource_type") == "test"
        and n.get("attached_node") == model_uid
        and (n.get("test_metadata") or {}).get("name") == "unique"
        and n.get("column_name")
    }
    ordered = [c for c in (nodes.get(model_uid) or {}).get("columns", {}) if c in unique]
    return (ordered or sorted(unique) or [None])[0]


def _text(value) -> str:
    return "NULL" if value is None else str(value)


def example_keys(conn: duckdb.DuckDBPyConnection, compiled_sql: str, node: dict, nodes: dict) -> list[str]:
    """Up to 5 masked example keys of the rows a failed test found (see the module docstring)."""
    failing = f"(\n{compiled_sql.strip().rstrip(';')}\n)"  # on its own lines: a trailing -- comment
    columns = [d[0] for d in conn.execute(f"select * from {failing} as f limit 0").description]
    models = tested_models(node, node.get("unique_id", "test."))
    model = nodes.get(models[0], {}) if models else {}
    key = key_column(models[0], nodes) if models else None
    column = node.get("column_name")
    relation = model.get("relation_name")
    kwargs = (node.get("test_metadata") or {}).get("kwargs") or {}
    listed = [c for c in kwargs.get("columns") or [] if c in columns]  # e.g. unique_column_set's
    if FAILING_COLUMN in columns and FAILING_VALUE in columns:  # accepted_values_columns
        return _value_examples(conn, failing, key, relation)
    if FAILING_COLUMN in columns:  # not_null_columns: the row's key and the column that is NULL
        keyed = key is not None and key in columns
        cols = (f"cast(f.{quote(key)} as varchar), " if keyed else "") + f"f.{FAILING_COLUMN}"
        sql = f"select distinct {cols} from {failing} as f order by all limit {MAX_EXAMPLES}"
        rows = conn.execute(sql).fetchall()
        texts = (f"{key}={_text(row[0])}（{row[1]}=NULL）" if keyed else f"{row[0]}=NULL" for row in rows)
        return [mask_text(text) for text in texts]
    if listed:
        shown = listed
        cols = ", ".join(f"cast(f.{quote(c)} as varchar)" for c in shown)
        sql = f"select distinct {cols} from {failing} as f order by all limit {MAX_EXAMPLES}"
    elif key and key in columns:
        shown = [key] + ([column] if column and column != key and column in columns else [])
        cols = ", ".join(f"cast(f.{quote(c)} as varchar)" for c in shown)
        sql = f"select distinct {cols} from {failing} as f order by 1 limit {MAX_EXAMPLES}"
    elif key and column and column != key and relation and columns:
        k, c, v = quote(key), quote(column), quote(columns[0])
        shown = [key, column]
        sql = (
            f"select distinct cast(m.{k} as varchar), cast(m.{c} as varchar) from {relation} as m "
            f"where exists (select 1 from {failing} as f where f.{v} is not distinct from m.{c}) "
            f"order by 1 limit {MAX_EXAMPLES}"
        )
    elif columns:  # e.g. a unique test on the key: its first column holds the tested column's values
        shown = [column or columns[0]]
        sql = (
            f"select distinct cast(f.{quote(columns[0])} as varchar) from {failing} as f "
            f"order by 1 limit {MAX_EXAMPLES}"
        )
    else:
        return []
    rows = conn.execute(sql).fetchall()
    return [mask_text(_format(shown, row)) for row in rows]


def _value_examples(conn: duckdb.DuckDBPyConnection, failing: str, key: str | None, relation) -> list[str]:
    """accepted_values_columns: the model's rows holding a value outside their column's list, named by
    the key, the column and the value (`task_id=T1（status=lost）`), the columns taking turns; without a
    key or relation, the columns and values alone."""
    sql = f"select distinct f.{FAILING_COLUMN}, f.{FAILING_VALUE} from {failing} as f order by all"
    pairs = conn.execute(sql).fetchall()
    if not key or not relation or not pairs:
        return [mask_text(f"{c}={_text(v)}") for c, v in pairs[:MAX_EXAMPLES]]
    k = quote(key)
    lookups = " union all ".join(
        f"select distinct cast(m.{k} as varchar) as k, {lit(c)} as c, cast(m.{q} as varchar) as v "
        f"from {relation} as m where cast(m.{q} as varchar) in "
        f"(select f.{FAILING_VALUE} from {failing} as f where f.{FAILING_COLUMN} = {lit(c)})"
        for c, q in ((c, quote(c)) for c in dict.fromkeys(c for c, _ in pairs))
    )
    ranked = f"select k, c, v, row_number() over (partition by c order by k, v) as n from ({lookups}) as l"
    sql = f"select k, c, v from ({ranked}) as r order by n, c limit {MAX_EXAMPLES}"
    return [mask_text(f"{key}={_text(k)}（{c}={_text(v)}）") for k, c, v in conn.execute(sql).fetchall()]


def _format(names: list[str], row: tuple) -> str:
    head = f"{names[0]}={_text(row[0])}"
    rest = [f"{n}={_text(v)}" for n, v in zip(names[1:], row[1:], strict=True)]
    return head + (f"（{'，'.join(rest)}）" if rest else "")


def _records(folder: Path) -> tuple[list[dict], dict]:
    """(the invocation's not-passed nodes as records, manifest nodes)."""
    results = json.loads((folder / "run_results.json").read_text(encoding="utf-8")).get("results", [])
    manifest = folder / "manifest.json"
    nodes = json.loads(manifest.read_text(encoding="utf-8")).get("nodes", {}) if manifest.is_file() else {}
    out = []
    for r in results:
        if r.get("status") not in NOT_PASSED:
            continue
        uid = r.get("unique_id", "")
        node = nodes.get(uid, {})
        zh, en = node_label(node, uid)
        is_test = uid.startswith("test.")
        out.append(
            {
                "unique_id": uid,
                "status": r["status"],
                "severity": NOT_PASSED[r["status"]],
                "name_zh": zh,
                "name_en": en,
                "model": model_names(tested_models(node, uid)),
                "column": node.get("column_name"),
                "count": r.get("failures") if is_test and r["status"] in ("fail", "warn") else None,
                "message": mask_text(" ".join((r.get("message") or "").split()))[:300],
                "examples": [],
                "_sql": r.get("compiled_code") if is_test else None,
            }
        )
    return out, nodes


def read_failures(folder: Path) -> list[dict]:
    """The night's recorded dbt failures (`dbt_failures.json`), else its last run_results.json without
    examples; [] when neither is there."""
    recorded = _recorded(folder)
    if "failures" in recorded:
        return recorded["failures"]
    try:
        return _ordered({k: v for k, v in r.items() if k != "_sql"} for r in _records(Path(folder))[0])
    except (OSError, ValueError):
        return []


def record_failures(target: Path, warehouse: Path, report_dir: Path | None = None) -> list[dict]:
    """Name the failed/warned nodes of the invocation that just wrote `target`/run_results.json, with
    example keys from the warehouse; merged into `target`/dbt_failures.json and the quality report.

    Never raises for a query that fails: that test keeps its name, model and count, the message says why.
    """
    target = Path(target)
    try:
        records, nodes = _records(target)
    except (OSError, ValueError):
        return []
    queried = [r for r in records if r["_sql"] and r["count"]][:MAX_TESTS]
    if queried:
        _add_examples(queried, Path(warehouse), nodes)
    for r in records:
        r.pop("_sql", None)
    previous = _recorded(target)
    merged = {r["unique_id"]: r for r in previous.get("failures", [])}
    merged.update({r["unique_id"]: r for r in records})
    everything = _ordered(merged.values())
    report = str(Path(report_dir) / "index.html") if report_dir is not None else previous.get("report")
    (target / FAILURES_FILE).write_text(
        json.dumps({"report": report, "failures": everything}, ensure_ascii=False, indent=2),
        encoding="utf-8",
    )
    if report_dir is not None:
        write_report(Path(report_dir), everything)
    return records


def _add_examples(records: list[dict], warehouse: Path, nodes: dict) -> None:
    """Example keys for each record; a query (or the connection) that fails is noted, never raised."""
    try:
        conn = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:  # e.g. locked by another process: names and counts still go out
        for r in records:
            r["examples_error"] = str(exc).splitlines()[0][:200]
        return
    try:
        for r in records:
            try:
                r["examples"] = example_keys(conn, r["_sql"], nodes.get(r["unique_id"], {}), nodes)
            except duckdb.Error as exc:
                r["examples_error"] = str(exc).splitlines()[0][:200]
    finally:
        conn.close()


def _ordered(records) -> list[dict]:
    """Blocking first, then by model and name."""
    return sorted(records, key=lambda r: (r["severity"] != "error", r["model"], r["name_en"]))


def _recorded(folder: Path) -> dict:
    """The night's `dbt_failures.json` ({"report": path, "failures": [...]}), {} when absent."""
    try:
        return json.loads((Path(folder) / FAILURES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def report_path(folder: Path) -> str | None:
    return _recorded(folder).get("report")


def write_report(report_dir: Path, failures: list[dict]) -> Path:
    """`index.html` (Chinese, self-contained) and `failures.json` of the night's failed dbt tests."""
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "failures.json").write_text(
        json.dumps(failures, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    rows = "\n".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(v))}</td>"
            for v in (
                "阻断" if f["severity"] == "error" else "预警",
                f["name_zh"],
                f["name_en"],
                f["model"],
                "" if f.get("count") is None else f["count"],
                "、".join(f.get("examples") or []),
                f.get("message") or "",
            )
        )
        + "</tr>"
        for f in failures
    )
    page = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>dbt 测试未通过</title>'
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}</style></head>"
        f"<body><h1>dbt 测试未通过（{len(failures)} 项）</h1>"
        "<p>示例为被测模型的主键（个人信息已脱敏）；"
        "完整的失败行可用 dbt 编译后的测试 SQL 在数据仓库中查询。</p>"
        "<table><tr><th>级别</th><th>检查</th><th>名称</th><th>模型</th><th>失败行数</th><th>示例</th>"
        f"<th>dbt 信息</th></tr>\n{rows}\n</table></body></html>\n"
    )
    path = report_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
