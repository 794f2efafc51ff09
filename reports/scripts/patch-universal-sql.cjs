// postinstall: make @evidence-dev/universal-sql work with @duckdb/duckdb-wasm 1.28.0 (pinned in
// package.json "overrides": newer duckdb-wasm autoloads the parquet extension from the internet and
// `evidence sources` hangs offline). DuckDB-wasm 1.28 (DuckDB 0.9) does not know two settings that
// universal-sql sets at start-up; wrap them in try/catch so an unknown setting is not fatal.
// Idempotent: a file already patched is left alone. Fails loudly if the code it patches moved.
const fs = require("fs");
const path = require("path");

const root = path.join(__dirname, "..", "node_modules", "@evidence-dev", "universal-sql", "src", "client-duckdb");
const SETTINGS = ["SET ieee_floating_point_ops = false;", "SET old_implicit_casting = true;"];
let patched = 0;
for (const name of ["node.js", "browser.js"]) {
  const file = path.join(root, name);
  if (!fs.existsSync(file)) {
    console.error(`patch-universal-sql: ${file} not found (universal-sql changed?)`);
    process.exit(1);
  }
  let text = fs.readFileSync(file, "utf8");
  for (const setting of SETTINGS) {
    const plain = `await connection.query('${setting}');`;
    const wrapped = `try { ${plain} } catch (e) { /* opscenter: not in duckdb-wasm 1.28 */ }`;
    if (text.includes(wrapped)) continue;
    if (!text.includes(plain)) {
      console.error(`patch-universal-sql: "${plain}" not found in ${file}`);
      process.exit(1);
    }
    text = text.split(plain).join(wrapped);
    patched += 1;
  }
  fs.writeFileSync(file, text);
}
console.log(`patch-universal-sql: ${patched} statement(s) wrapped in try/catch`);
