"""Walks over a graph's links held as adjacency lists (node id -> node ids), in time
linear in the nodes and links: what validation and the mastering policy need of a
graph that may hold a hundred thousand nodes (networkx's per-node calls would take
minutes there, and building its graph alone takes longer than these walks)."""

from __future__ import annotations

Adjacency = dict[str, list[str]]


def adjacency(nodes, links) -> tuple[Adjacency, Adjacency]:
    """(successors, predecessors) of every node, from ``(src, dst)`` pairs."""
    succ: Adjacency = {n: [] for n in nodes}
    pred: Adjacency = {n: [] for n in nodes}
    for a, b in links:
        succ[a].append(b)
        pred[b].append(a)
    return succ, pred


def reaching(pred: Adjacency, targets) -> set[str]:
    """The targets and every node with a path to one of them (one walk back from all
    of them at once)."""
    found = set(targets)
    todo = list(found)
    while todo:
        for before in pred[todo.pop()]:
            if before not in found:
                found.add(before)
                todo.append(before)
    return found


def find_cycles(succ: Adjacency, pred: Adjacency) -> list[list[str]]:
    """One cycle (node ids in link order) per strongly connected knot of the graph,
    sorted.  Nodes that no cycle holds are peeled off first (from both ends, as a
    topological sort would), so an acyclic graph costs one pass."""
    left = _on_or_between_cycles(succ, pred)
    cycles = []
    for component in _knots(succ, left):
        if len(component) == 1:
            (n,) = component
            if n not in succ[n]:
                continue
        cycles.append(_cycle_in(succ, component))
    return sorted(cycles)


def _on_or_between_cycles(succ: Adjacency, pred: Adjacency) -> set[str]:
    """Nodes left once those with nothing before them, or nothing after them, are
    taken away again and again."""
    left = set(succ)
    for forward, backward in ((pred, succ), (succ, pred)):
        if len(left) == len(succ):                # nothing taken away yet
            count = {n: len(forward[n]) for n in left}
        else:
            count = {n: sum(1 for m in forward[n] if m in left) for n in left}
        todo = [n for n, c in count.items() if c == 0]
        while todo:
            n = todo.pop()
            left.discard(n)
            for m in backward[n]:
                if m in left:
                    count[m] -= 1
                    if count[m] == 0:
                        todo.append(m)
    return left


def _knots(succ: Adjacency, nodes: set[str]) -> list[set[str]]:
    """Strongly connected components of the nodes (Tarjan's algorithm, iterative:
    each frame of the walk is a node and how many of its links it has followed)."""
    inner = {n: [m for m in succ[n] if m in nodes] for n in nodes}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found = []
    for root in sorted(nodes):
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [[root, 0]]
        while work:
            frame = work[-1]
            n, k = frame
            links = inner[n]
            if k < len(links):
                frame[1] = k + 1
                m = links[k]
                if m not in index:
                    index[m] = low[m] = len(index)
                    stack.append(m)
                    on_stack.add(m)
                    work.append([m, 0])
                elif m in on_stack and index[m] < low[n]:
                    low[n] = index[m]
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                if low[n] < low[parent]:
                    low[parent] = low[n]
            if low[n] == index[n]:
                component = set()
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.add(m)
                    if m == n:
                        break
                found.append(component)
    return found


def _cycle_in(succ: Adjacency, component: set[str]) -> list[str]:
    """A cycle inside a knot: from its smallest node, follow links that stay inside
    until a node comes round again."""
    path: list[str] = []
    at: dict[str, int] = {}
    n = min(component)
    while n not in at:
        at[n] = len(path)
        path.append(n)
        n = min(m for m in succ[n] if m in component)
    return path[at[n]:]
