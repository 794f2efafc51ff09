"""Property-style test of masking: generated spellings of phones and credit codes never survive.

Seeded random variants (prefixes +86 / 86 / 0086, separators, full-width digits, lower case,
spaces inside codes, surrounding Chinese text) are put in every kind of column of a warehouse:
free text, JSON, a phone column, a key column. After publication no file (snapshot, Parquet,
pages with embedded JSON, manifest) and no ops alert may hold any of the numbers. The oracle is
independent of the masking code: NFKC, keep only letters and digits, upper-case, then look for
the bare 11 digits / 18 characters.
"""

from __future__ import annotations

import json
import random
import unicodedata
from pathlib import Path

import duckdb
import pytest

from orchestration.ops_alerts import send_ops_alert
from orchestration.publish import find_unmasked_personal_data, publish_run
from orchestration.render.components import json_script

SEED = 20261120
N = 200
CC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
BEFORE = ["", "电话", "电话：", "Tel: ", "（", "联系人 张三 ", "，"]
AFTER = ["", "。", " 转 8001", "）", "，谢谢"]


def _phone(rng: random.Random) -> tuple[str, str]:
    """(canonical 11 digits, a spelling of it)."""
    digits = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
    sep = rng.choice(["", "-", " ", "\u3000", "－"])
    body = digits if not sep else f"{digits[:3]}{sep}{digits[3:7]}{sep}{digits[7:]}"
    prefix = rng.choice(["", "", "+86", "86", "0086", "+86 ", "86-", "＋86"])
    text = prefix + body
    if rng.random() < 0.3:
        text = text.translate(FULLWIDTH)
    return digits, text


def _credit_code(rng: random.Random) -> tuple[str, str]:
    code = (
        "".join(rng.choice(CC_CHARS) for _ in range(2))
        + "".join(rng.choice("0123456789") for _ in range(6))
        + "".join(rng.choice(CC_CHARS) for _ in range(10))
    )
    text = code.lower() if rng.random() < 0.4 else code
    if rng.random() < 0.4:
        text = " ".join(text[i : i + 4] for i in range(0, 18, 4))
    if rng.random() < 0.2:
        text = text.translate(FULLWIDTH)
    return code, text


def _in_text(rng: random.Random, spelling: str) -> str:
    return rng.choice(BEFORE) + spelling + rng.choice(AFTER)


def canonical(text: str) -> str:
    """The oracle's normal form: NFKC, letters and digits only, upper case."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch.isascii() and ch.isalnum()).upper()


@pytest.fixture(scope="module")
def variants():
    rng = random.Random(SEED)
    phones = [_phone(rng) for _ in range(N)]
    codes = [_credit_code(rng) for _ in range(N)]
    return rng, phones, codes


def _leaks(text: str, secrets: list[str]) -> list[str]:
    flat = canonical(text)
    return [s for s in secrets if s in flat]


def _warehouse(path: Path, rng, phones, codes) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts; CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE marts.mart_clients (client_id VARCHAR, client_name VARCHAR, contact_phone VARCHAR, "
        "credit_code VARCHAR, note VARCHAR, extra JSON)"
    )
    con.execute("CREATE TABLE marts.mart_client_payments (client_id VARCHAR, amount DECIMAL(18,2))")
    rows, pays = [], []
    for i, ((_, phone), (_, code)) in enumerate(zip(phones, codes, strict=True)):
        # every 10th client is keyed by its phone number (a source system that does that)
        cid = phone if i % 10 == 0 else f"C{i:03d}"
        note = _in_text(rng, phone) + " / " + _in_text(rng, code)
        extra = json.dumps({"电话": phone, "代码": code, "备注": note}, ensure_ascii=False)
        rows.append((cid, f"客户{i}", phone, code, note, extra))
        pays.append((cid, 100 + i))
    con.executemany("INSERT INTO marts.mart_clients VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.executemany("INSERT INTO marts.mart_client_payments VALUES (?, ?)", pays)
    con.execute(
        "CREATE TABLE raw.load_rejects (load_id VARCHAR, line INTEGER, reason VARCHAR, raw_record JSON)"
    )
    pairs = enumerate(zip(phones, codes, strict=True))
    recs = [
        ("L1", i, f"坏行 {_in_text(rng, p)}", json.dumps({"line": f"C9,{p},{c}"}))
        for i, ((_, p), (_, c)) in pairs
    ]
    con.executemany("INSERT INTO raw.load_rejects VALUES (?, ?, ?, ?)", recs)
    con.close()


def _render(snapshot: Path, pages: Path) -> None:
    """Every row of every table embedded in a page the way the renderer embeds data, plus a CSV."""
    con = duckdb.connect(str(snapshot), read_only=True)
    blocks = []
    for schema, table in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall():
        rows = con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
        blocks.append(json_script(f"{schema}-{table}", [[str(v) for v in r] for r in rows]))
        (pages / f"{schema}.{table}.csv").write_text("\n".join(",".join(map(str, r)) for r in rows), "utf-8")
    con.close()
    (pages / "index.html").write_text("<html><body>" + "".join(blocks) + "</body></html>", encoding="utf-8")


@pytest.fixture(scope="module")
def published(tmp_path_factory, variants):
    rng, phones, codes = variants
    tmp = tmp_path_factory.mktemp("pii")
    _warehouse(tmp / "warehouse.duckdb", rng, phones, codes)
    folder = publish_run(
        tmp / "warehouse.duckdb",
        tmp / "published",
        as_of_date="2026-11-20",
        run_id="pii1",
        code_version="t",
        checks=[],
        render=_render,
        schemas=("marts",),
        tables=("raw.load_rejects",),
    )
    return tmp, folder


def _secrets(variants) -> list[str]:
    _, phones, codes = variants
    return [d for d, _ in phones] + [c for c, _ in codes]


def test_oracle_sees_every_variant_in_the_warehouse(published, variants):
    """The check below can fail: every generated number is visible to the oracle before masking."""
    tmp, _ = published
    con = duckdb.connect(str(tmp / "warehouse.duckdb"), read_only=True)
    text = json.dumps(
        con.execute("SELECT * FROM marts.mart_clients").fetchall(), ensure_ascii=False, default=str
    )
    con.close()
    assert sorted(_leaks(text, _secrets(variants))) == sorted(_secrets(variants))


def test_scanner_finds_every_variant_unmasked(tmp_path, variants):
    _, phones, codes = variants
    for i, (_, spelling) in enumerate(phones + codes):
        (tmp_path / f"v{i}.txt").write_text(spelling, encoding="utf-8")
    found = find_unmasked_personal_data(tmp_path)
    assert len(found) == 2 * N, [
        s for i, (_, s) in enumerate(phones + codes) if not any(f"v{i}.txt" in f for f in found)
    ]


def test_no_variant_survives_in_any_published_file(published, variants):
    _, folder = published
    secrets = _secrets(variants)
    con = duckdb.connect(str(folder / "snapshot.duckdb"), read_only=True)
    for schema, table in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall():
        rows = con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
        assert _leaks(json.dumps(rows, ensure_ascii=False, default=str), secrets) == [], f"snapshot {table}"
    parts = sorted((folder / "parquet").rglob("*.parquet"))  # parquet/<schema>.<table>/<part>.parquet
    assert parts
    for parquet in parts:
        rows = con.execute(f"SELECT * FROM read_parquet('{parquet}')").fetchall()
        assert _leaks(json.dumps(rows, ensure_ascii=False, default=str), secrets) == [], parquet.name
    con.close()
    for path in [*(folder / "pages").rglob("*"), folder / "manifest.json"]:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            # the page embeds JSON with \\u escapes: decode them as a browser would
            assert _leaks(text.encode().decode("unicode_escape", errors="ignore"), secrets) == [], path.name
            assert _leaks(text, secrets) == [], path.name


def test_phone_keys_stay_distinct_and_join(published, variants):
    """Keys are hashed whole, never partly masked: no two clients collapse into one."""
    _, folder = published
    con = duckdb.connect(str(folder / "snapshot.duckdb"), read_only=True)
    n, distinct, hashed = con.execute(
        "SELECT count(*), count(DISTINCT client_id), count(*) FILTER (WHERE client_id LIKE 'pii-%') "
        "FROM marts.mart_clients"
    ).fetchone()
    joined = con.execute(
        "SELECT count(*) FROM marts.mart_clients JOIN marts.mart_client_payments USING (client_id)"
    ).fetchone()[0]
    con.close()
    assert (n, distinct, hashed, joined) == (N, N, N // 10, N)


def test_alerts_never_carry_a_variant(tmp_path, monkeypatch, variants):
    rng, phones, codes = variants
    monkeypatch.setenv("OPSCENTER_ALERT_LOG", str(tmp_path / "alerts.jsonl"))
    monkeypatch.delenv("OPSCENTER_ALERT_URLS", raising=False)
    for (_, phone), (_, code) in zip(phones, codes, strict=True):
        raw_line = f"C9,{_in_text(rng, phone)},{_in_text(rng, code)}"
        send_ops_alert(
            f"坏行 {raw_line}",
            f"拒收行：{raw_line}",
            level="error",
            context={"failures": [f"示例：{raw_line}"], "raw": {"line": raw_line}},
        )
    log = (tmp_path / "alerts.jsonl").read_text(encoding="utf-8")
    assert log.count("\n") == N
    assert _leaks(log, _secrets(variants)) == []
    assert (
        _leaks(json.dumps([json.loads(x) for x in log.splitlines()], ensure_ascii=False), _secrets(variants))
        == []
    )


def test_svg_geometry_is_not_taken_for_a_spaced_credit_code(tmp_path):
    # dbt docs' icons: 18 digits with spaces in a polygon; the same run in text is still found
    (tmp_path / "icons.html").write_text('<polygon points="11 11 5 11 5 12 11 12 11 11 11 11"/>')
    assert find_unmasked_personal_data(tmp_path) == []
    (tmp_path / "data.html").write_text("<td>11 11 5 11 5 12 11 12 11 11 11 11</td>")
    assert find_unmasked_personal_data(tmp_path) == ["data.html: line 1: 1 unmasked credit code(s)"]
