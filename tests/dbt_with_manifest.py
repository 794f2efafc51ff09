"""One dbt command on a manifest parsed before (see dbt_helpers.parsed_manifest), through dbt's
programmatic entry point `dbtRunner(manifest=...)`, instead of parsing the whole project again
(~10 s of CPU per command).

    python -P tests/dbt_with_manifest.py --serve

The manifest is read back the way dbt reads its own partial-parse file.

Fork server: importing dbt and its DuckDB adapter and reading the manifest cost ~3 s of CPU before a
command does anything (measured: a command that selects nothing, 5.8 CPU s in all). A test worker
starts one server (dbt_helpers.run_dbt); the server imports dbt once and keeps each manifest it has
read, and runs every command in a forked child, which is a fresh process in all that matters: its own
environment and working directory, its own copy of the manifest (dbt writes compiled SQL into it),
its own dbt logging and adapter state, and DuckDB's file lock goes when the child exits, as with the
CLI. The parent holds no DuckDB connection and runs no thread, so forking it is safe.

Protocol, one JSON object per line: request on stdin {"manifest", "args", "env", "cwd", "output"};
the child's stdout and stderr go to the file `output`; reply on stdout {"returncode"}. The child ends
with a normal interpreter exit (not os._exit), so DuckDB closes the warehouse file as at the CLI's exit:
checkpointed, no WAL left beside it, lock released.
"""

import json
import os
import sys

from dbt.cli.main import dbtRunner
from dbt.contracts.graph.manifest import Manifest
from dbt.parser.manifest import extended_mashumuro_decoder


def read_manifest(path: str) -> Manifest:
    with open(path, "rb") as fp:
        manifest = Manifest.from_msgpack(fp.read(), decoder=extended_mashumuro_decoder)
    manifest.build_flat_graph()  # as dbt does after loading a manifest
    return manifest


def run(manifest: Manifest, args: list[str]) -> int:
    result = dbtRunner(manifest=manifest).invoke(args)
    return 0 if result.success else 2 if result.exception else 1


def child(manifest: Manifest, request: dict) -> int:
    """Run the request's command in this forked child; its exit code (70: the child itself failed)."""
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        out = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        return run(manifest, request["args"])
    except Exception as exc:  # noqa: BLE001  (reported through the exit code and the output)
        print(f"dbt_with_manifest child failed: {exc!r}", file=sys.stderr)
        return 70
    finally:
        # close the warehouse as the dbt CLI's exit does: checkpoint (no WAL left behind), lock released
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
        sys.stdout.flush()
        sys.stderr.flush()


def serve() -> None:
    import dbt.adapters.duckdb  # noqa: F401  (what every command loads first: import it once, here)

    replies = os.fdopen(os.dup(1), "w", buffering=1)
    manifests: dict[str, Manifest] = {}
    for line in sys.stdin:
        request = json.loads(line)
        manifest = manifests.get(request["manifest"])
        if manifest is None:
            manifest = manifests[request["manifest"]] = read_manifest(request["manifest"])
        pid = os.fork()
        if pid == 0:  # the child: one command, then the process ends as the dbt CLI's does
            sys.exit(child(manifest, request))
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] != ["--serve"]:
        sys.exit("usage: python -P tests/dbt_with_manifest.py --serve")
    serve()
