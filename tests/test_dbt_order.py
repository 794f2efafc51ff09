"""orchestration/dbt_order.py: dbt's ready nodes started by their remaining path, on hand-made graphs
with hand-computed schedules, and on dbt's real queue class."""

from __future__ import annotations

import heapq
import json
import os
import time
from pathlib import Path

import networkx as nx
import pytest

from orchestration import dbt_order

# a chain t1 -> t2 -> t3 -> t4 -> t5 beside five nodes nothing waits for (a1 … a5), 1 s each: 10
# node-seconds, so two threads need at least 5 s
CHAIN = ["t1", "t2", "t3", "t4", "t5"]
SHALLOW = ["a1", "a2", "a3", "a4", "a5"]
EDGES = list(zip(CHAIN, CHAIN[1:], strict=False))
NODES = CHAIN + SHALLOW
SECONDS = dict.fromkeys(NODES, 1.0)


def _graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(NODES)
    graph.add_edges_from(EDGES)
    return graph


def _makespan(graph: nx.DiGraph, priority: dict[str, object], threads: int = 2) -> float:
    """A two-thread list schedule as dbt runs one: a node starts when its parents are done and a
    thread is free, the ready node of the lowest (priority, name) first."""
    waiting = {n: graph.in_degree(n) for n in graph.nodes}
    ready = [(priority[n], n) for n in graph.nodes if waiting[n] == 0]
    heapq.heapify(ready)
    running: list[tuple[float, str]] = []
    now = 0.0
    while ready or running:
        while ready and len(running) < threads:
            _, node = heapq.heappop(ready)
            heapq.heappush(running, (now + SECONDS[node], node))
        now, node = heapq.heappop(running)
        for kid in graph.successors(node):
            waiting[kid] -= 1
            if waiting[kid] == 0:
                heapq.heappush(ready, (priority[kid], kid))
    return now


def test_remaining_seconds_are_the_longest_chain_after_each_node():
    children = {n: [k for p, k in EDGES if p == n] for n in NODES}
    remaining = dbt_order.remaining_seconds(children, {**SECONDS, "t3": 2.5})
    assert remaining == {"t1": 6.5, "t2": 5.5, "t3": 4.5, "t4": 2.0, "t5": 1.0} | dict.fromkeys(SHALLOW, 1.0)
    # a node without a recorded time counts DEFAULT_SECONDS
    assert dbt_order.remaining_seconds({"p": ["q"], "q": []}, {"q": 2.0}) == {
        "p": dbt_order.DEFAULT_SECONDS + 2.0,
        "q": 2.0,
    }
    # a chain far deeper than Python's recursion limit
    chain = {f"n{i}": [f"n{i + 1}"] for i in range(5000)} | {"n5000": []}
    assert dbt_order.remaining_seconds(chain, {})["n0"] == 5001 * dbt_order.DEFAULT_SECONDS
    with pytest.raises(ValueError, match="cycle"):
        dbt_order.remaining_seconds({"p": ["q"], "q": ["p"]}, {})


def test_the_longest_remaining_path_starts_first_and_the_build_ends_sooner():
    """dbt's order (depth, then name) starts the five level-0 nodes a1 … a5 and t1 first (t2 waits
    at level 1 behind a3 … a5): t1 starts at 2 s beside a5 and the chain then runs alone, t5 ending
    at 7 s. Remaining path first starts t1 at once and runs one shallow node beside each link of the
    chain: 5 s, the least two threads can take for 10 s of work (both counted by hand)."""
    graph = _graph()
    depth = {n: level for level, group in enumerate(nx.topological_generations(graph)) for n in group}
    scores = dbt_order.scores(graph, SECONDS)
    assert scores["t1"] < scores["t2"] < scores["a1"] == scores["a5"]
    assert _makespan(graph, depth) == 7.0
    assert _makespan(graph, scores) == 5.0


def test_installed_scores_are_what_dbts_queue_orders_by(monkeypatch):
    """The hook dbt's queue scores with still exists (dbt-core < 1.12, pinned), and once installed
    a real GraphQueue hands out the ready nodes by remaining path."""
    from dbt.graph.queue import GraphQueue

    monkeypatch.setattr(GraphQueue, "_get_scores", GraphQueue._get_scores)  # undone after the test
    assert dbt_order.install(SECONDS)
    graph = _graph()
    assert GraphQueue._get_scores(None, graph) == dbt_order.scores(graph, SECONDS)
    queue = GraphQueue(graph, manifest=None, selected=set(NODES))
    first = [queue.inner.get()[1] for _ in range(queue.inner.qsize())]
    assert first == ["t1", *SHALLOW]  # the ready nodes: t1 (5 s to go), then the others by name


def _run(folder: Path, which: str, seconds: dict[str, float], mtime: float) -> None:
    folder.mkdir(parents=True)
    results = [{"unique_id": k, "execution_time": v} for k, v in seconds.items()]
    path = folder / dbt_order.RUN_RESULTS
    path.write_text(json.dumps({"args": {"which": which}, "results": results}), encoding="utf-8")
    os.utime(path, (mtime, mtime))


def test_recorded_seconds_are_the_latest_earlier_build_beside_this_invocation(tmp_path: Path):
    nights = tmp_path / "nights"
    now = time.time()
    _run(nights / "old", "build", {"model.p.a": 1.0}, now - 300)
    _run(nights / "last", "build", {"model.p.a": 2.0, "test.p.t": 0.1}, now - 200)
    _run(nights / "docs", "generate", {"model.p.a": 0.01}, now - 100)  # not a build: skipped
    (nights / "broken").mkdir()
    (nights / "broken" / dbt_order.RUN_RESULTS).write_text("{", encoding="utf-8")  # killed mid-write
    assert dbt_order.recorded_seconds(nights / "tonight") == {"model.p.a": 2.0, "test.p.t": 0.1}
    # this invocation's own folder is not an earlier run
    assert dbt_order.recorded_seconds(nights / "last") == {"model.p.a": 1.0}
    assert dbt_order.recorded_seconds(tmp_path / "none" / "tonight") == {}
    assert dbt_order.recorded_seconds(None) == {}
