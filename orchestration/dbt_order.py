"""The order in which dbt starts the nodes that are ready: the longest remaining work first (issue 15).

dbt runs a node as soon as its parents are done and a thread is free; when several are ready, its
queue (`dbt.graph.queue.GraphQueue`) starts the one of the lowest *depth* first (the number of levels
from the graph's roots), ties by name. That keeps shallow nodes ahead of the deep chain that ends the
build: at 100,000 clients the one-day night's chain through the renewal features, the renewal model's
two dbt Python models, the forecast and the alerts ran last, one node at a time, with the other
thread idle (9 s of one-node time in a 47 s build).

Here each node is scored by its remaining path: its own duration plus the longest chain of durations
after it, durations as the latest earlier run recorded them (`run_results.json` of the previous
invocation folder beside this one), DEFAULT_SECONDS for a node without one. The node with the longest
remaining path starts first (list scheduling by critical path). Only the order among ready nodes
changes: dbt still starts a node only when its parents are done, so what is built, and what each node
computes, is the same. Simulated on the durations that night recorded (two threads, the models' and
tests' dependencies), this order ends the build in 42.7 s against 45.1 s for dbt's: the work is 85.5
node-seconds, so 42.7 s is the least two threads can take.

`orchestration/bin/dbt-child` runs dbt in its own process with this order (`main`) when the dbt on
PATH is this interpreter's (the night's case); `OPSCENTER_DBT_ORDER=depth` keeps dbt's own order.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

DEFAULT_SECONDS = 0.5  # a node the earlier run did not record (new, or no earlier run)
RUN_RESULTS = "run_results.json"
BUILDS = ("build", "run")  # the invocations whose recorded times are the nodes' builds


def remaining_seconds(
    children: Mapping[str, Iterable[str]], seconds: Mapping[str, float]
) -> dict[str, float]:
    """Per node of `children` (node -> the nodes that wait for it; every node a key): its duration
    plus the longest chain of durations of the nodes after it."""
    after = {node: list(kids) for node, kids in children.items()}
    waiting = dict.fromkeys(after, 0)
    for kids in after.values():
        for kid in kids:
            waiting[kid] += 1
    order, ready = [], [node for node, n in waiting.items() if n == 0]
    while ready:  # a topological order (Kahn), without recursion: a chain may be hundreds long
        node = ready.pop()
        order.append(node)
        for kid in after[node]:
            waiting[kid] -= 1
            if waiting[kid] == 0:
                ready.append(kid)
    if len(order) != len(after):
        raise ValueError("the graph has a cycle")
    remaining: dict[str, float] = {}
    for node in reversed(order):
        tail = max((remaining[kid] for kid in after[node]), default=0.0)
        remaining[node] = seconds.get(node, DEFAULT_SECONDS) + tail
    return remaining


def scores(graph, seconds: Mapping[str, float]) -> dict[str, int]:
    """dbt's queue scores (lowest first) of a networkx DiGraph's nodes: minus their remaining
    milliseconds, so the longest remaining path starts first (ties: by name, as dbt breaks them)."""
    children = {node: list(graph.successors(node)) for node in graph.nodes}
    return {node: -round(r * 1000) for node, r in remaining_seconds(children, seconds).items()}


def recorded_seconds(target: Path | None) -> dict[str, float]:
    """Each node's execution time in the latest `dbt build` (or run) recorded in a folder beside
    `target` (this invocation's target folder: the night's invocations are siblings), {} when there
    is none."""
    if target is None or not target.parent.is_dir():
        return {}
    earlier = [p for p in target.parent.glob(f"*/{RUN_RESULTS}") if p.parent.resolve() != target.resolve()]
    for path in sorted(earlier, key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            recorded = json.loads(path.read_text(encoding="utf-8"))
            if recorded.get("args", {}).get("which") not in BUILDS:
                continue  # e.g. `dbt docs generate`: its times are not the nodes' builds
            return {r["unique_id"]: float(r["execution_time"]) for r in recorded["results"]}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # a run killed while writing it: the one before
    return {}


def install(seconds: Mapping[str, float]) -> bool:
    """Score dbt's queue by remaining path (`scores`); False when this dbt has no such hook (its
    own order is kept)."""
    from dbt.graph.queue import GraphQueue

    if not callable(getattr(GraphQueue, "_get_scores", None)):
        return False
    GraphQueue._get_scores = lambda self, graph: scores(graph, seconds)  # noqa: ARG005
    return True


def main(args: list[str]) -> int:
    """`dbt <args>` in this process, its ready nodes started by remaining path unless
    OPSCENTER_DBT_ORDER=depth."""
    if os.environ.get("OPSCENTER_DBT_ORDER", "critical_path") != "depth":
        target = os.environ.get("DBT_TARGET_PATH")
        install(recorded_seconds(Path(target) if target else None))
    from dbt.cli.main import cli

    sys.argv = ["dbt", *args]
    return cli()
