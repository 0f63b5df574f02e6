"""The render plan: order, channels, latency compensation, solo, buffers and length.

``make_plan`` turns a valid graph into a list of steps the block renderer runs in
order, once per block:

- **Order**: topological, ties broken by the order of the nodes in the document.
- **Channels**: each input port carries the widest of the signals linked into it
  (a mono signal meeting a stereo one is copied to both channels at unity); each
  node says what its outputs carry.
- **Latency compensation**: every node reports its latency in samples.  A node's
  inputs are all aligned to the latest of them by delay lines on the earlier
  links, and each node is told song time (render clock minus its input latency),
  so its automation lines up with its audio.  Each output drops its own input
  latency from the start, so an event at song time t is at t in every file.
- **Mute and solo**: a muted node (or a member of a muted group) gives silence on
  every output.  While any node is soloed (or is a member of a soloed group), a
  link carries signal only if it lies on a path through a soloed node: what feeds
  a soloed node, and what it feeds, stay audible; everything else is silent.
- **Buffers**: one ``(channels, block)`` buffer per output port, taken from a pool
  and given back once the last node reading it has run; single links pass their
  buffer through without a copy; fan-in is summed into a scratch buffer.
- **Chains**: a source and the nodes after it that each take one link from the one
  before, which feeds nothing else (stem -> eq -> compressor -> channel), form a
  chain.  Nothing outside a chain reaches into it, so it runs ahead of the block
  loop in segments of several blocks (its nodes prepared for that length), in worker
  threads when there are any; the block loop reads the chain's last outputs a block
  at a time from the segment.  Inside a chain two buffers take turns; the chain's
  last outputs have a ring of ``RING`` segments, one being read while the next ones
  are written.
- **Tail chains**: the same shape downstream, where everything the last node feeds
  is an output reading only it (mix bus -> eq -> multiband -> limiter -> dither ->
  output).  The block loop copies the first node's input into a ring of segments;
  each full segment goes to a worker, and the outputs write it a segment later, so
  the master chain runs beside the buses instead of after them.
  Every node's output is independent of the block size, so the render is the same,
  bit for bit, with or without chains and with any number of workers.
- **Length**: the song ends where the last source ends; each output continues for
  the tails declared along the paths into it (capped by the ``max_tail_s`` project
  setting) and is trimmed where its tail falls below -90 dBFS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from mixgraph.nodes.base import DTYPE, Context, Node, Sink, node_class
from mixgraph.nodes.delayline import DelayLine
from mixgraph.errors import GraphError, MixgraphError

from .model import Graph, Link, PortRef


@dataclass
class Feed:
    """One live link into an input port: the upstream buffer, maybe delayed."""

    buffer: int
    delay: DelayLine | None


@dataclass
class InputPort:
    name: str
    channels: int | None
    direct: int | None = None          # pass this buffer as it is
    scratch: int | None = None         # sum the feeds into this buffer
    feeds: list[Feed] = field(default_factory=list)
    # where every feed is a chain's last output: the buffer that holds this block of
    # their sum, summed a segment at a time (see Stack)
    stack: int | None = None


@dataclass
class Stack:
    """The rings of chain ends that one port sums, allocated together: rings[r, i] is
    slot r of feed i's ring, so a segment of all feeds is one (feeds, ch, n) view,
    summed in one reduction into the same slot of ``sums`` (by the worker that ran
    all the feeds, where one did: see :mod:`mixgraph.core.runners`)."""

    rings: np.ndarray                  # (RING, feeds, channels, segment)
    members: list[tuple[int, int]]     # per feed: (chain, end)
    view: int                          # the buffer index the block loop points at sums
    sums: np.ndarray                   # (RING, channels, segment)

    def add_up(self, k: int, frames: int) -> None:
        """Sum segment ``k`` (its first ``frames``) of the feeds, in their order."""
        np.add.reduce(self.rings[k % RING][:, :, :frames], axis=0,
                      out=self.sums[k % RING][:, :frames])


@dataclass
class Step:
    node_id: str
    node: Node
    inputs: list[InputPort]
    outputs: list[int]                 # buffer index per output port
    out_channels: tuple[int, ...]
    latency_in: int                    # song time = render clock - latency_in
    silent: bool = False
    chain: int | None = None           # index of the chain the step belongs to

    @property
    def is_sink(self) -> bool:
        return isinstance(self.node, Sink)


@dataclass
class Chain:
    """Steps that run a segment at a time (see the module notes)."""

    steps: list[Step]
    # per output port of the last step: (index it writes, index the block loop reads)
    ends: list[tuple[int, int]]
    segments: list[tuple[np.ndarray, ...]]   # per port: the ring of RING segments
    # a tail chain's input: the port the block loop gathers (at the first step's place
    # in the order), the buffer the first step reads and the ring of RING segments
    # that buffer takes in turn
    feed: InputPort | None = None
    inlet: int | None = None
    inlet_segments: tuple[np.ndarray, ...] = ()

    @property
    def is_tail(self) -> bool:
        return self.feed is not None


@dataclass
class Plan:
    steps: list[Step]
    buffers: list[np.ndarray]
    block_size: int
    sample_rate: int
    content_frames: int                # song samples up to the end of the last source
    sink_ends: dict[str, int]          # per output: song samples it may write (tails incl.)
    end_frames: int                    # render-clock samples to run
    notices: list[str]
    latency: dict[str, int]            # per node: latency of its output (samples)
    upstream: dict[str, set[str]]      # per node that needs an analysis pass: its ancestors
    graph: nx.DiGraph                  # node ids and links
    chains: list[Chain] = field(default_factory=list)
    segment: int = 0                   # frames a chain runs at a time (a block multiple)
    stacks: list[Stack] = field(default_factory=list)
    shared: object = None              # memory the chains' last outputs live in, if shared

    def segment_span(self, k: int) -> tuple[int, int]:
        """Render-clock start and frames of segment ``k`` (the last one may be short)."""
        start = k * self.segment
        return start, min(self.segment, self.end_frames - start)

    @property
    def delay_lines(self) -> list:
        return [f.delay for s in self.steps for p in s.inputs for f in p.feeds if f.delay]

    @property
    def sinks(self) -> list[Step]:
        return [s for s in self.steps if s.is_sink]

    def close(self) -> None:
        for step in self.steps:
            step.node.close()


class _Pool:
    def __init__(self, block: int):
        self.block = block
        self.buffers: list[np.ndarray] = []
        self.free: dict[int, list[int]] = {}

    def take(self, channels: int) -> int:
        free = self.free.setdefault(channels, [])
        if free:
            return free.pop()
        self.buffers.append(np.zeros((channels, self.block), dtype=DTYPE))
        return len(self.buffers) - 1

    def give(self, index: int) -> None:
        self.free.setdefault(self.buffers[index].shape[0], []).append(index)


def order(graph: Graph) -> list[str]:
    """Node ids in topological order, ties broken by document order."""
    position = {nid: i for i, nid in enumerate(graph.nodes)}
    dag = nx.DiGraph()
    dag.add_nodes_from(graph.nodes)
    dag.add_edges_from((l.src.node, l.dst.node) for l in graph.links)
    try:
        return list(nx.lexicographical_topological_sort(dag, key=position.__getitem__))
    except nx.NetworkXUnfeasible:
        raise GraphError("the graph has a cycle; validate it first") from None


def solo_gate(graph: Graph) -> tuple[set[str], set[Link]]:
    """(muted node ids, links that carry signal) under the graph's mute and solo."""
    muted: set[str] = set()
    soloed: set[str] = set()
    for spec in graph:
        cls = spec.node_class()
        if cls is None or not cls.soloable:
            continue
        members = _controlled(graph, spec.id)
        if spec.params.get("mute", False):
            muted |= members
        if spec.params.get("solo", False):
            soloed |= members
    if not soloed:
        return muted, set(graph.links)
    dag = nx.DiGraph()
    dag.add_nodes_from(graph.nodes)
    dag.add_edges_from((l.src.node, l.dst.node) for l in graph.links)
    after, before = set(soloed), set(soloed)
    for s in soloed:
        after |= nx.descendants(dag, s)
        before |= nx.ancestors(dag, s)
    live = {l for l in graph.links if l.src.node in after or l.dst.node in before}
    return muted, live


def _controlled(graph: Graph, node_id: str) -> set[str]:
    """A node and everything it controls: its members, their members, and so on."""
    found = {node_id}
    todo = [node_id]
    while todo:
        spec = graph.nodes[todo.pop()]
        if spec.node_class() is None:
            continue
        for member in _members(graph, spec):
            if member in graph.nodes and member not in found:
                found.add(member)
                todo.append(member)
    return found


def _members(graph: Graph, spec) -> list[str]:
    """The nodes a group controls: its ``members``, or the nodes linked into it."""
    cls = spec.node_class()
    if not any(p.kind == "nodes" and p.name == "members" for p in cls.params):
        return []
    members = spec.params.get("members") or []
    if not members:
        members = sorted({l.src.node for l in graph.links_into(spec.id)})
    return list(members)


SEGMENT_FRAMES = 16384                 # a chain runs at least this many frames at a time
RING = 3                               # segments of a chain's last outputs in flight


def make_plan(graph: Graph, block_size: int,
              output_paths: dict[str, str] | None = None, chains: bool = True) -> Plan:
    """Build the render plan of a validated graph (nodes are constructed and prepared).

    ``chains=False`` runs every step once per block (for streaming a preview)."""
    output_paths = output_paths or {}
    steps_order = order(graph)
    sr = graph.sample_rate
    links_in: dict[str, list[Link]] = {nid: [] for nid in graph.nodes}
    for link in graph.links:
        links_in[link.dst.node].append(link)
    consumers: dict[PortRef, list[str]] = {}
    for link in graph.links:
        consumers.setdefault(link.src, []).append(link.dst.node)

    muted, live = solo_gate(graph)
    built: list[Node] = []
    try:
        return _build(graph, block_size, output_paths, steps_order, sr, links_in, consumers,
                      muted, live, built, chains)
    except BaseException:
        for node in built:
            node.close()
        raise


def _prepare(graph, node, nid, ports, block_size, notices, channels, content,
             consumers) -> None:
    """Prepare one node and record the channel count of each of its outputs."""
    cls = type(node)
    ctx = Context(sample_rate=graph.sample_rate, max_block=block_size,
                  input_channels=tuple(ch for _, _, ch in ports), base_dir=graph.base_dir,
                  node_id=nid, notices=notices, content_frames=content,
                  outputs_read=() if consumers is None else
                  tuple(PortRef(nid, p.name) in consumers for p in cls.outputs))
    out_ch = tuple(node.prepare(ctx))
    if len(out_ch) != len(cls.outputs) or any(c not in (1, 2) for c in out_ch):
        raise GraphError(f"node '{nid}' ({cls.type_name}) reported channel counts {out_ch} "
                         "for its outputs; expected 1 or 2 for each")
    for port, ch in zip(cls.outputs, out_ch):
        channels[PortRef(nid, port.name)] = ch


def find_chains(order_: list[str], links_in: dict[str, list[Link]], nodes: dict[str, Node],
                live: set[Link]) -> list[list[str]]:
    """Chains of node ids: a source, then each node whose only link comes from the one
    before, where that link is the only one leaving it (outputs and nodes that need an
    analysis pass end a chain before them)."""
    links_out = _links_out(order_, links_in)

    def joins(nid: str) -> bool:
        return len(links_in[nid]) == 1 and not isinstance(nodes[nid], Sink) \
            and not nodes[nid].needs_analysis

    return [_follow([nid], links_out, live, joins) for nid in order_
            if not type(nodes[nid]).inputs and not isinstance(nodes[nid], Sink)]


def _links_out(order_: list[str], links_in: dict[str, list[Link]]) -> dict[str, list[Link]]:
    links_out: dict[str, list[Link]] = {nid: [] for nid in order_}
    for nid in order_:
        for link in links_in[nid]:
            links_out[link.src.node].append(link)
    return links_out


def _follow(chain: list[str], links_out: dict[str, list[Link]], live: set[Link],
            joins) -> list[str]:
    """``chain`` extended while its last node's one link out is live and leads to a
    node that ``joins``."""
    while len(links_out[chain[-1]]) == 1 and links_out[chain[-1]][0] in live \
            and joins(links_out[chain[-1]][0].dst.node):
        chain.append(links_out[chain[-1]][0].dst.node)
    return chain


def find_tail_chains(order_: list[str], links_in: dict[str, list[Link]],
                     nodes: dict[str, Node], live: set[Link],
                     taken: set[str]) -> list[list[str]]:
    """Chains that start downstream: a node with one live link in (from outside any
    chain), then nodes as in :func:`find_chains`, where everything the last one feeds
    is an output that reads only it and needs no analysis pass (a master chain: eq ->
    compressor -> limiter -> dither -> output).  The block loop gathers the first
    node's input into a ring of segments; the outputs read the last node's segments a
    segment later."""
    links_out = _links_out(order_, links_in)

    def plain(nid: str) -> bool:
        node = nodes[nid]
        return (nid not in taken and not isinstance(node, Sink) and not node.needs_analysis
                and len(links_in[nid]) == 1 and links_in[nid][0] in live)

    found = []
    for nid in order_:
        if not plain(nid) or any(nid in chain for chain in found):
            continue
        chain = _follow([nid], links_out, live, plain)
        ends = links_out[chain[-1]]
        if ends and all(l in live and isinstance(nodes[l.dst.node], Sink)
                        and not nodes[l.dst.node].needs_analysis
                        and len(links_in[l.dst.node]) == 1 for l in ends):
            found.append(chain)
    return found


def _build(graph, block_size, output_paths, steps_order, sr, links_in, consumers, muted,
           live, built, use_chains) -> Plan:
    channels: dict[PortRef, int] = {}
    lat_out: dict[str, int] = {}
    lat_in: dict[str, int] = {}
    tail_out: dict[str, float] = {}
    notices: list[str] = []
    prepared: list[tuple[str, Node, list[tuple[str, list[Link], int | None]]]] = []

    nodes: dict[str, Node] = {}
    for nid in steps_order:
        spec = graph.nodes[nid]
        cls = node_class(spec.type)
        params = dict(spec.params)
        if nid in output_paths:
            params["path"] = str(output_paths[nid])
        try:
            node = cls(**params)
        except MixgraphError as exc:
            raise type(exc)(f"node '{nid}': {exc.message}", node=nid,
                            param=exc.param) from None
        node.node_id = nid
        built.append(node)
        nodes[nid] = node

    chain_ids = find_chains(steps_order, links_in, nodes, live) if use_chains else []
    heads = len(chain_ids)
    if use_chains:
        chain_ids += find_tail_chains(steps_order, links_in, nodes, live,
                                      {nid for chain in chain_ids for nid in chain})
    chain_of = {nid: k for k, chain in enumerate(chain_ids) for nid in chain}
    segment = block_size * max(1, -(-SEGMENT_FRAMES // block_size))

    # which outputs something reads (a preview may listen to any port: all of them)
    read = consumers if use_chains else None

    def longest(nid: str) -> int:
        return segment if nid in chain_of else block_size

    # sources first: every other node may want to know where the song ends
    content = 0
    for nid in steps_order:
        if not type(nodes[nid]).inputs:
            _prepare(graph, nodes[nid], nid, [], longest(nid), notices, channels, 0,
                     read)
            content = max(content, nodes[nid].length() or 0)
    for nid in steps_order:
        node = nodes[nid]
        cls = type(node)
        ports = []
        for port in cls.inputs:
            links = [l for l in links_in[nid] if l.dst.port == port.name]
            ch = max((channels[l.src] for l in links), default=None)
            ports.append((port.name, links, ch))
        if cls.inputs:
            _prepare(graph, node, nid, ports, longest(nid), notices, channels, content,
                     read)
        lat_in[nid] = max((lat_out[l.src.node] for l in links_in[nid]), default=0)
        lat_out[nid] = lat_in[nid] + int(node.latency())
        tail_out[nid] = max((tail_out[l.src.node] for l in links_in[nid]), default=0.0) \
            + float(node.tail())
        prepared.append((nid, node, ports))

    max_tail = float(graph.setting("max_tail_s"))

    pool = _Pool(block_size)
    zero: dict[int, int] = {}
    last_use: dict[PortRef, int] = {}
    for i, (nid, _, _) in enumerate(prepared):
        for link in links_in[nid]:
            last_use[link.src] = i

    out_buffers: dict[PortRef, int] = {}
    steps: list[Step] = []
    own: set[int] = set()             # buffers of chains, never given back to the pool
    turns: dict[tuple, int] = {}      # (chain, turn, port, channels): a chain's inner buffer
    chains = [Chain([], [], []) for _ in chain_ids]
    end_of: dict[int, tuple[int, int]] = {}   # a head chain's end view: (chain, end)
    stacks: list[Stack] = []

    def dedicated(ch: int, frames: int) -> int:
        pool.buffers.append(np.zeros((ch, frames), dtype=DTYPE))
        own.add(len(pool.buffers) - 1)
        return len(pool.buffers) - 1

    def ring_from(b: int) -> tuple[np.ndarray, ...]:
        """Buffer b and RING - 1 more like it, for segments in flight."""
        return (pool.buffers[b],) + tuple(np.zeros_like(pool.buffers[b])
                                          for _ in range(RING - 1))
    sink_ends: dict[str, int] = {}
    end = 0
    for i, (nid, node, ports) in enumerate(prepared):
        inputs = []
        scratch = []
        for name, links, ch in ports:
            port = InputPort(name, ch)
            feeding = [l for l in links if l in live]
            if not links:
                pass
            elif not feeding:
                if ch not in zero:            # a buffer of its own that nothing writes
                    pool.buffers.append(np.zeros((ch, block_size), dtype=DTYPE))
                    zero[ch] = len(pool.buffers) - 1
                port.direct = zero[ch]
            else:
                for l in feeding:
                    d = lat_in[nid] - lat_out[l.src.node]
                    delay = DelayLine(channels[l.src], d, block_size) if d else None
                    port.feeds.append(Feed(out_buffers[l.src], delay))
                if len(feeding) == 1 and port.feeds[0].delay is None \
                        and channels[feeding[0].src] == ch:
                    port.direct = port.feeds[0].buffer
                    port.feeds = []
                else:
                    members = [end_of.get(f.buffer) for f in port.feeds]
                    if len(members) > 1 and all(m is not None for m in members) \
                            and all(f.delay is None for f in port.feeds) \
                            and all(channels[l.src] == ch for l in feeding) \
                            and len(set(members)) == len(members):
                        rings = np.zeros((RING, len(members), ch, segment), dtype=DTYPE)
                        for i, (c, j) in enumerate(members):
                            chains[c].segments[j] = tuple(rings[r, i] for r in range(RING))
                        for f in port.feeds:
                            del end_of[f.buffer]                # each ring in one stack
                        sums = np.zeros((RING, ch, segment), dtype=DTYPE)
                        pool.buffers.append(sums[0, :, :block_size])
                        own.add(len(pool.buffers) - 1)
                        port.stack = len(pool.buffers) - 1
                        stacks.append(Stack(rings, members, port.stack, sums))
                    else:
                        port.scratch = pool.take(ch)
                        scratch.append(port.scratch)
            inputs.append(port)
        outs = []
        k = chain_of.get(nid)
        if k is not None and k >= heads and nid == chain_ids[k][0]:
            # a tail chain's first step reads its ring; the block loop fills it from
            # the one live link in (same channels, no delay: a buffer passed through)
            j = next(j for j, (_, links, _) in enumerate(ports) if links)
            port = inputs[j]
            chains[k].feed = port
            chains[k].inlet = dedicated(port.channels, segment)
            chains[k].inlet_segments = ring_from(chains[k].inlet)
            inputs[j] = InputPort(port.name, port.channels, direct=chains[k].inlet)
        for j, port in enumerate(type(node).outputs):
            ch = channels[PortRef(nid, port.name)]
            if k is None:
                b = pool.take(ch)
                out_buffers[PortRef(nid, port.name)] = b
            elif nid != chain_ids[k][-1]:
                turn = (k, chain_ids[k].index(nid) % 2, j, ch)
                if turn not in turns:
                    turns[turn] = dedicated(ch, segment)
                b = turns[turn]
                out_buffers[PortRef(nid, port.name)] = b
            else:
                b = dedicated(ch, segment)
                view = dedicated(ch, block_size)
                out_buffers[PortRef(nid, port.name)] = view
                if k < heads:
                    end_of[view] = (k, len(chains[k].ends))
                chains[k].ends.append((b, view))
                chains[k].segments.append(ring_from(b))
            outs.append(b)
        step = Step(nid, node, inputs, outs,
                    tuple(channels[PortRef(nid, p.name)] for p in type(node).outputs),
                    lat_in[nid], silent=nid in muted, chain=k)
        steps.append(step)
        if k is not None:
            chains[k].steps.append(step)
        if isinstance(node, Sink):
            tail = min(tail_out[nid], max_tail)
            sink_ends[nid] = content + int(math.ceil(tail * sr))
            end = max(end, lat_in[nid] + sink_ends[nid])
        # give back what no later step reads
        for b in scratch:
            pool.give(b)
        for link in links_in[nid]:
            if last_use.get(link.src) == i and link.src in out_buffers:
                b = out_buffers.pop(link.src)
                if b not in own:
                    pool.give(b)
        for port in type(node).outputs:
            ref = PortRef(nid, port.name)
            if ref not in last_use:
                b = out_buffers.pop(ref)
                if b not in own:
                    pool.give(b)

    dag = nx.DiGraph()
    dag.add_nodes_from(graph.nodes)
    dag.add_edges_from((l.src.node, l.dst.node) for l in graph.links)
    upstream = {step.node_id: nx.ancestors(dag, step.node_id) for step in steps
                if step.node.needs_analysis}
    return Plan(steps=steps, buffers=pool.buffers, block_size=block_size, sample_rate=sr,
                content_frames=content, sink_ends=sink_ends, end_frames=end,
                notices=notices, latency=lat_out, upstream=upstream, graph=dag,
                chains=chains, segment=segment, stacks=stacks)
