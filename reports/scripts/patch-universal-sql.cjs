// postinstall: make @evidence-dev/universal-sql work offline and on any firm's data.
//
// 1. duckdb-wasm 1.28.0 (pinned in package.json "overrides": newer duckdb-wasm autoloads the parquet
//    extension from the internet and `evidence sources` hangs offline) is DuckDB 0.9: it does not know
//    two settings universal-sql sets at start-up; wrap them in try/catch so an unknown setting is not fatal.
// 2. `evidence sources` writes no parquet file for a source query with 0 rows, yet lists it in the
//    manifest, so every page reading that source fails the build (a small firm has no blocking tasks,
//    no closed alerts, ...). Flush the empty batch too: a 0-row parquet file with the query's columns.
// 3. A date column with no value at all (0 rows, or only nulls: no alert closed yet, no expected date)
//    is written as DOUBLE (evidence-dev/evidence#2897), so a page comparing it with a date fails and a
//    table shows 1970-01-01. The apache-arrow in this lockfile writes an all-null TIMESTAMP column fine:
//    keep the type. A 0-row boolean column keeps its type too (an all-null one with rows stays DOUBLE:
//    arrow cannot write that, evidence-dev/evidence#1504).
// 4. Query results turn every DATE value into `new Date(value)`, so a missing date (a task not yet
//    completed, a staff member with nothing open) shows as 1970-01-01 in tables; keep null as null
//    (Evidence then shows "-", as the offline renderer does).
// Idempotent: a file already patched is left alone. Fails loudly if the code it patches moved.
const fs = require("fs");
const path = require("path");

const src = path.join(__dirname, "..", "node_modules", "@evidence-dev", "universal-sql", "src");
const ALL_NULL = "if (!rawValues.some((v) => v !== null)) {";
const PATCHES = [];
for (const name of ["client-duckdb/node.js", "client-duckdb/browser.js"]) {
  for (const setting of ["SET ieee_floating_point_ops = false;", "SET old_implicit_casting = true;"]) {
    const plain = `await connection.query('${setting}');`;
    PATCHES.push([name, plain, `try { ${plain} } catch (e) { /* opscenter: not in duckdb-wasm 1.28 */ }`]);
  }
}
PATCHES.push(
  [
    "client-duckdb/both.js",
    "row[col.name] = new Date(row[col.name]);",
    "row[col.name] = row[col.name] == null ? null : new Date(row[col.name]); // opscenter: null stays null",
  ],
  [
    "build-parquet.js",
    "\tif (currentBatch.length) await flush(currentBatch);",
    "\tif (currentBatch.length || !tmpFilenames.length) await flush(currentBatch); // opscenter: 0-row sources",
  ],
  [
    "build-parquet.js",
    `case 'date':\n\t\t\t${ALL_NULL}`,
    `case 'date':\n\t\t\tif (false /* opscenter: all-null dates keep their type */ && !rawValues.some((v) => v !== null)) {`,
  ],
  [
    "build-parquet.js",
    `case 'boolean':\n\t\t\t${ALL_NULL}`,
    `case 'boolean':\n\t\t\tif (rawValues.length /* opscenter: 0 rows keep the type */ && !rawValues.some((v) => v !== null)) {`,
  ],
);

let patched = 0;
const texts = new Map();
for (const [name, plain, replacement] of PATCHES) {
  const file = path.join(src, name);
  if (!texts.has(file)) {
    if (!fs.existsSync(file)) {
      console.error(`patch-universal-sql: ${file} not found (universal-sql changed?)`);
      process.exit(1);
    }
    texts.set(file, fs.readFileSync(file, "utf8"));
  }
  const text = texts.get(file);
  if (text.includes(replacement)) continue;
  if (!text.includes(plain)) {
    console.error(`patch-universal-sql: ${JSON.stringify(plain)} not found in ${file}`);
    process.exit(1);
  }
  texts.set(file, text.split(plain).join(replacement));
  patched += 1;
}
for (const [file, text] of texts) fs.writeFileSync(file, text);
console.log(`patch-universal-sql: ${patched} change(s) applied`);
