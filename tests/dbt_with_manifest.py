"""`python -P tests/dbt_with_manifest.py <partial_parse.msgpack> <dbt args...>`: one dbt command on a
manifest parsed before (see dbt_helpers.parsed_manifest), through dbt's programmatic entry point
`dbtRunner(manifest=...)`, instead of parsing the whole project again (~10 s of CPU per command).

The manifest is read back the way dbt reads its own partial-parse file. Runs as a subprocess of
run_dbt, like the `dbt` CLI, so DuckDB's file lock is released when it exits; exit 0 on success.
"""

import sys

from dbt.cli.main import dbtRunner
from dbt.contracts.graph.manifest import Manifest
from dbt.parser.manifest import extended_mashumuro_decoder

if __name__ == "__main__":
    with open(sys.argv[1], "rb") as fp:
        manifest = Manifest.from_msgpack(fp.read(), decoder=extended_mashumuro_decoder)
    manifest.build_flat_graph()  # as dbt does after loading a manifest
    result = dbtRunner(manifest=manifest).invoke(sys.argv[2:])
    sys.exit(0 if result.success else 2 if result.exception else 1)
