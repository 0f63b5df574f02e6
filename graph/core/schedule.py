"""The render plan: order, channels, latency compensation, solo, buffers and length.

``make_plan`` turns a valid graph into a list of steps the block renderer runs in
order, once per block:

- **Order**: topological, ties broken by the order of the nodes in the document.
- **Channels**: a signal has 1 to 12 channels, each count one layout
  (:mod:`mixgraph.nodes.layouts`: mono, stereo, LCR, quad, 5.0, 5.1, 7.0, 7.1,
  7.1.4).  Each input port carries the narrowest layout holding every speaker of
  the signals linked into it (a 5.1 and a 7.0 meet in 7.1); each is placed into it
  by the layouts' rules (a mono signal meeting a
  stereo one is copied to both channels at unity; meeting a surround one, it goes
  to the centre); each node says what its outputs carry, and a port that takes only
  some layouts is checked.
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
  buffer through without a copy; fan-in is summed into a scratch buffer, given back
  once its node has run.
- **Chains**: a source and the nodes after it that each take one link from the one
  before, which feeds nothing else (stem -> eq -> compressor -> channel), form a
  chain.  Nothing outside a chain reaches into it, so it runs ahead of the block
  loop in segments of several blocks (its nodes prepared for that length), on the
  render's workers (see :mod:`mixgraph.core.runners`); the block loop reads the
  chain's last outputs a block at a time from the segment.  Inside a chain two buffers take turns; the chain's
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

The plan is built in passes, one decision each (the builder's methods, in the order
``_PlanBuilder.build`` runs them): construct the nodes; form the chains and tail
chains; prepare the sources and find where the song ends; prepare the other nodes
for their inputs' channels; latency in and out of each node; the tails; the steps,
each with the buffers it reads and writes (pool, chains' turn buffers, rings of chain
ends, stacks, tail chain inlets, silence for unfed ports, delay lines); each output's
end and the render length; the ancestors of nodes that need an analysis pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from mixgraph.nodes.base import DTYPE, Context, Node, Sink, bypassed, node_class
from mixgraph.nodes.switching import switched
from mixgraph.nodes.delayline import DelayLine
from mixgraph.nodes.layouts import (CHANNEL_COUNTS, Placement, counts_in_words, covering,
                                    layout_name, needs_placing)
from mixgraph.errors import GraphError, MixgraphError

from .model import Graph, Link, PortRef


@dataclass
class Feed:
    """One live link into an input port: the upstream buffer, maybe delayed, and
    placed into the port's layout where it has another."""

    buffer: int
    delay: DelayLine | None
    placed: Placement | None = None


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
    graph: nx.DiGraph                  # node ids and links
    chains: list[Chain] = field(default_factory=list)
    segment: int = 0                   # frames a chain runs at a time (a block multiple)
    stacks: list[Stack] = field(default_factory=list)
    shared: object = None              # memory the chains' last outputs live in, if shared
    together: set[str] = field(default_factory=set)   # outputs that end together (stems)

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
    """(muted node ids, links that carry signal) under the graph's mute and solo (a
    bypassed node's are not applied)."""
    muted: set[str] = set()
    soloed: set[str] = set()
    for spec in graph:
        if spec.bypassed:                     # not there: its mute and solo neither
            continue
        if any(spec.params.get(name, False) for name in spec.with_role("mute")):
            muted |= _controlled(graph, spec.id)
        if any(spec.params.get(name, False) for name in spec.with_role("solo")):
            soloed |= _controlled(graph, spec.id)
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
        for member in _members(graph, spec):
            if member in graph.nodes and member not in found:
                found.add(member)
                todo.append(member)
    return found


def _members(graph: Graph, spec) -> list[str]:
    """The nodes a group controls: its ``members``, or the nodes linked into it."""
    names = spec.with_role("members")
    if not names:
        return []
    members = [m for name in names for m in spec.params.get(name) or []]
    if not members:
        members = sorted({l.src.node for l in graph.links_into(spec.id)})
    return list(members)


SEGMENT_FRAMES = 16384                 # a chain runs at least this many frames at a time
RING = 3                               # segments of a chain's last outputs in flight


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


def make_plan(graph: Graph, block_size: int,
              output_paths: dict[str, str] | None = None, chains: bool = True,
              lend: bool = True) -> Plan:
    """Build the render plan of a validated graph (nodes are constructed and prepared).

    ``chains=False`` runs every step once per block (for streaming a preview);
    ``lend=False`` gives every output port a buffer of its own, so that each holds its
    node's block once the whole block has run (for meters)."""
    builder = _PlanBuilder(graph, block_size, output_paths or {}, chains, lend)
    try:
        return builder.build()
    except BaseException:
        builder.close()
        raise


class _PlanBuilder:
    """Builds a :class:`Plan` in passes, each deciding one thing.  :meth:`build` runs
    them in the order they depend on each other; each keeps what it decides on the
    builder for the passes after it:

    - :meth:`construct_nodes`: ``nodes``
    - :meth:`form_chains`: ``chain_ids`` (the first ``heads`` start at sources),
      ``chain_of``, ``segment``
    - :meth:`prepare_sources`: ``content``, and ``channels`` of the sources' outputs
    - :meth:`prepare_the_rest`: ``ports`` and the other ``channels``
    - :meth:`compensate_latency`: ``lat_in``, ``lat_out``
    - :meth:`add_up_tails`: ``tail_out``
    - :meth:`make_steps`: ``pool``, ``chains``, ``stacks``, and the steps
    - :meth:`sink_ends`, :meth:`render_length`, :meth:`node_graph`: the rest
      of the plan
    """

    def __init__(self, graph: Graph, block_size: int, output_paths: dict[str, str],
                 use_chains: bool, lend: bool = True):
        self.lend = lend
        self.graph = graph
        self.block = block_size
        self.output_paths = output_paths
        self.use_chains = use_chains
        self.order = order(graph)
        self.links_in: dict[str, list[Link]] = {nid: [] for nid in graph.nodes}
        for link in graph.links:
            self.links_in[link.dst.node].append(link)
        self.read = {link.src for link in graph.links}   # output ports something reads
        self.muted, self.live = solo_gate(graph)
        self.nodes: dict[str, Node] = {}                  # every node constructed so far
        self.notices: list[str] = []
        self.resampled: list[tuple[str, int, str]] = []  # (file as written, rate, node)

    def build(self) -> Plan:
        """Run the passes and assemble the plan."""
        self.construct_nodes()
        self.form_chains()
        self.prepare_sources()
        self.prepare_the_rest()
        self.compensate_latency()
        self.add_up_tails()
        steps = self.make_steps()
        sink_ends = self.sink_ends()
        return Plan(steps=steps, buffers=self.pool.buffers, block_size=self.block,
                    sample_rate=self.graph.sample_rate, content_frames=self.content,
                    sink_ends=sink_ends, end_frames=self.render_length(sink_ends),
                    notices=self.notices + self.resampling_notice(),
                    latency=self.lat_out, graph=self.node_graph(), chains=self.chains,
                    segment=self.segment, stacks=self.stacks)

    def resampling_notice(self) -> list[str]:
        """One line naming every file read at another rate (not a line per file)."""
        if not self.resampled:
            return []
        files = ", ".join(f"{shown} ({rate} Hz, {node})" for shown, rate, node in
                          self.resampled)
        return [f"resampled to the project's {self.graph.sample_rate} Hz: {files}"]

    def close(self) -> None:
        for node in self.nodes.values():
            node.close()

    # ------------------------------------------------------------ nodes and chains
    def construct_nodes(self) -> None:
        """Each node from its parameters, in order (an output that is redirected writes
        to its new path; a bypassed node is its pass-through stand-in, one whose
        bypass is automated switches between itself and its delayed input)."""
        for nid in self.order:
            spec = self.graph.nodes[nid]
            cls = node_class(spec.type)
            params = spec.params_writing(self.output_paths.get(nid))
            try:
                if spec.switched:
                    node = switched(cls)(bypass=spec.bypass, **params)
                else:
                    node = bypassed(cls)() if spec.bypass else cls(**params)
            except MixgraphError as exc:
                raise type(exc)(f"node '{nid}': {exc.message}", node=nid,
                                param=exc.param) from None
            node.node_id = nid
            self.nodes[nid] = node

    def form_chains(self) -> None:
        """Which nodes run a segment at a time: the chains from sources (the first
        ``heads``), then tail chains among the other nodes; none for a preview.  And how
        long a segment is: a whole number of blocks."""
        heads, tails = [], []
        if self.use_chains:
            heads = find_chains(self.order, self.links_in, self.nodes, self.live)
            tails = find_tail_chains(self.order, self.links_in, self.nodes, self.live,
                                     {nid for chain in heads for nid in chain})
        self.chain_ids: list[list[str]] = heads + tails
        self.heads = len(heads)
        self.chain_of = {nid: k for k, chain in enumerate(self.chain_ids) for nid in chain}
        self.segment = self.block * max(1, -(-SEGMENT_FRAMES // self.block))

    # ------------------------------------------------ preparing, latency and tails
    def prepare_sources(self) -> None:
        """Prepare the sources first, and find where the song ends (``content``: where
        the last source ends): every other node may want to know."""
        self.channels: dict[PortRef, int] = {}
        self.content = 0
        for nid in self.order:
            if not type(self.nodes[nid]).inputs:
                self._prepare(nid, [], 0)
                self.content = max(self.content, self.nodes[nid].length() or 0)

    def prepare_the_rest(self) -> None:
        """Prepare the other nodes, in order, for what their input ports carry: each
        the widest of the signals linked into it (``None``: nothing is linked)."""
        self.ports: dict[str, list[tuple[str, list[Link], int | None]]] = {}
        for nid in self.order:
            ports = []
            for port in type(self.nodes[nid]).inputs:
                links = [l for l in self.links_in[nid] if l.dst.port == port.name]
                ports.append((port.name, links,
                              covering(self.channels[l.src] for l in links)))
            self.ports[nid] = ports
            if ports:
                self._prepare(nid, ports, self.content)

    def _prepare(self, nid: str, ports: list, content: int) -> None:
        """Prepare one node and record the channel count of each of its outputs."""
        node = self.nodes[nid]
        cls = type(node)
        # which outputs something reads (a preview may listen to any port: all of them)
        read = tuple(PortRef(nid, p.name) in self.read for p in cls.outputs) \
            if self.use_chains else ()
        ctx = Context(sample_rate=self.graph.sample_rate,
                      max_block=self.segment if nid in self.chain_of else self.block,
                      input_channels=tuple(ch for _, _, ch in ports),
                      base_dir=self.graph.base_dir, node_id=nid, notices=self.notices,
                      content_frames=content, outputs_read=read, resampled=self.resampled)
        for port, (_, links, ch) in zip(cls.inputs, ports):
            if ch is not None and port.layouts and layout_name(ch) not in port.layouts:
                givers = ", ".join(dict.fromkeys(f"'{l.src.node}'" for l in links))
                raise GraphError(f"node '{nid}' ({cls.type_name}): its input '{port.name}' "
                                 f"takes {' or '.join(port.layouts)}, but {givers} "
                                 f"give{'s' if len(links) == 1 else ''} {layout_name(ch)}",
                                 node=nid, port=port.name)
        out_ch = tuple(node.prepare(ctx))
        if len(out_ch) != len(cls.outputs) or any(c not in CHANNEL_COUNTS for c in out_ch):
            raise GraphError(f"node '{nid}' ({cls.type_name}) reported channel counts "
                             f"{out_ch} for its outputs; each must be a layout's: "
                             f"{counts_in_words()}")
        for port, ch in zip(cls.outputs, out_ch):
            self.channels[PortRef(nid, port.name)] = ch

    def compensate_latency(self) -> None:
        """Each node's inputs are aligned to the latest of them (``lat_in``: song time
        is the render clock minus it); its outputs lag by its own latency more
        (``lat_out``)."""
        self.lat_in: dict[str, int] = {}
        self.lat_out: dict[str, int] = {}
        for nid in self.order:
            self.lat_in[nid] = max((self.lat_out[l.src.node] for l in self.links_in[nid]),
                                   default=0)
            self.lat_out[nid] = self.lat_in[nid] + int(self.nodes[nid].latency())

    def add_up_tails(self) -> None:
        """Seconds of tail after each node's output: its own, after the longest of
        those before it."""
        self.tail_out: dict[str, float] = {}
        for nid in self.order:
            before = max((self.tail_out[l.src.node] for l in self.links_in[nid]),
                         default=0.0)
            self.tail_out[nid] = before + float(self.nodes[nid].tail())

    # --------------------------------------------------------------------- buffers
    def make_steps(self) -> list[Step]:
        """A step per node, in order, with the buffers it reads and writes.  Outside
        the chains, buffers come from the pool and go back to it once no later step
        reads them."""
        self.pool = _Pool(self.block, self.lend)
        self.chains = [Chain([], [], []) for _ in self.chain_ids]
        self.stacks: list[Stack] = []
        # per output port, until its last reader has run: the buffer it writes
        self.written: dict[PortRef, int] = {}
        # per block view of a head chain's last output, until a stack takes it: (chain, end)
        self.end_of: dict[int, tuple[int, int]] = {}
        # per (chain, turn, port, channels): a segment the chain's inner steps share
        self.turns: dict[tuple, int] = {}
        last_reader = {link.src: nid for nid in self.order for link in self.links_in[nid]}
        return [self.make_step(nid, last_reader) for nid in self.order]

    def make_step(self, nid: str, last_reader: dict[PortRef, str]) -> Step:
        """The step of node ``nid``: its inputs, then its outputs; then what it was the
        last to use goes back to the pool."""
        node, k = self.nodes[nid], self.chain_of.get(nid)
        inputs = [self.input_port(nid, *port) for port in self.ports[nid]]
        summed = [port.scratch for port in inputs if port.scratch is not None]
        if k is not None and k >= self.heads and nid == self.chain_ids[k][0]:
            self.tail_inlet(k, nid, inputs)
        out_channels = tuple(self.channels[PortRef(nid, port.name)]
                             for port in type(node).outputs)
        step = Step(nid, node, inputs, self.output_buffers(nid), out_channels,
                    self.lat_in[nid], silent=nid in self.muted, chain=k)
        if k is not None:
            self.chains[k].steps.append(step)
        self.give_back(nid, summed, last_reader)
        return step

    def input_port(self, nid: str, name: str, links: list[Link],
                   channels: int | None) -> InputPort:
        """Where an input port finds its signal: nowhere (nothing linked), silence (no
        link live), one upstream buffer as it is, a stack of chain ends summed a segment
        at a time, or the sum of its feeds in a buffer of the pool."""
        port = InputPort(name, channels)
        if not links:
            return port
        feeding = [l for l in links if l in self.live]
        if not feeding:
            port.direct = self.pool.zero(channels)
            return port
        port.feeds = self.feeds(nid, feeding, channels)
        if len(feeding) == 1 and port.feeds[0].delay is None \
                and self.channels[feeding[0].src] == channels:
            port.direct, port.feeds = port.feeds[0].buffer, []
        elif (members := self.stack_members(port, feeding)) is not None:
            port.stack = self.stack(port, members)
        else:
            port.scratch = self.pool.take(channels)
        return port

    def feeds(self, nid: str, feeding: list[Link], channels: int) -> list[Feed]:
        """A feed per live link, through a delay line where the link's signal is ahead
        of the node's latest input (latency compensation), and placed into the port's
        layout where the link carries another."""
        feeds = []
        for link in feeding:
            ahead = self.lat_in[nid] - self.lat_out[link.src.node]
            width = self.channels[link.src]
            delay = DelayLine(width, ahead, self.block) if ahead else None
            placed = Placement(width, channels, self.block) \
                if needs_placing(width, channels) else None
            feeds.append(Feed(self.written[link.src], delay, placed))
        return feeds

    def stack_members(self, port: InputPort, feeding: list[Link]
                      ) -> list[tuple[int, int]] | None:
        """The (chain, end) of each feed, if the port can sum them a segment at a time:
        two or more, each the last output of a different chain from a source that is
        in no stack yet, undelayed and as wide as the port."""
        members = [self.end_of.get(feed.buffer) for feed in port.feeds]
        if len(members) > 1 and all(m is not None for m in members) \
                and all(feed.delay is None for feed in port.feeds) \
                and all(self.channels[l.src] == port.channels for l in feeding) \
                and len(set(members)) == len(members):
            return members
        return None

    def stack(self, port: InputPort, members: list[tuple[int, int]]) -> int:
        """The rings of the chain ends ``members``, allocated together (see
        :class:`Stack`), and the sums they add up to; returns the buffer the block loop
        points at this block's sum."""
        ch = port.channels
        rings = np.zeros((RING, len(members), ch, self.segment), dtype=DTYPE)
        for m, (c, j) in enumerate(members):
            self.chains[c].segments[j] = tuple(rings[r, m] for r in range(RING))
        for feed in port.feeds:
            del self.end_of[feed.buffer]              # each ring in one stack
        sums = np.zeros((RING, ch, self.segment), dtype=DTYPE)
        view = self.pool.keep(sums[0, :, :self.block])
        self.stacks.append(Stack(rings, members, view, sums))
        return view

    def tail_inlet(self, k: int, nid: str, inputs: list[InputPort]) -> None:
        """A tail chain's first step reads a ring that the block loop fills from the
        one live link in (same channels, no delay: a buffer passed through); the port
        as built becomes the chain's ``feed``, which the block loop gathers."""
        j = next(j for j, (_, links, _) in enumerate(self.ports[nid]) if links)
        chain, port = self.chains[k], inputs[j]
        chain.feed = port
        chain.inlet = self.pool.dedicated(port.channels, self.segment)
        chain.inlet_segments = self.pool.ring(chain.inlet)
        inputs[j] = InputPort(port.name, port.channels, direct=chain.inlet)

    def output_buffers(self, nid: str) -> list[int]:
        """The buffer each output port writes: one from the pool outside chains; in a
        chain, a turn buffer (see :meth:`turn_buffer`), or at its end a segment that the
        block loop reads through a block view."""
        k = self.chain_of.get(nid)
        outs = []
        for j, port in enumerate(type(self.nodes[nid]).outputs):
            ref = PortRef(nid, port.name)
            ch = self.channels[ref]
            if k is None:
                b = self.written[ref] = self.pool.take(ch)
            elif nid != self.chain_ids[k][-1]:
                b = self.written[ref] = self.turn_buffer(k, nid, j, ch)
            else:
                b, self.written[ref] = self.chain_end(k, ch)
            outs.append(b)
        return outs

    def turn_buffer(self, k: int, nid: str, j: int, channels: int) -> int:
        """Inside chain ``k`` two segments take turns: a step writes output ``j`` into
        the one that the step before it did not."""
        turn = (k, self.chain_ids[k].index(nid) % 2, j, channels)
        if turn not in self.turns:
            self.turns[turn] = self.pool.dedicated(channels, self.segment)
        return self.turns[turn]

    def chain_end(self, k: int, channels: int) -> tuple[int, int]:
        """A last output of chain ``k``: the segment it writes, with a ring of ``RING``
        in flight, and the block view the block loop reads."""
        b = self.pool.dedicated(channels, self.segment)
        view = self.pool.dedicated(channels, self.block)
        chain = self.chains[k]
        if k < self.heads:
            self.end_of[view] = (k, len(chain.ends))
        chain.ends.append((b, view))
        chain.segments.append(self.pool.ring(b))
        return b, view

    def give_back(self, nid: str, summed: list[int], last_reader: dict[PortRef, str]
                  ) -> None:
        """Once ``nid`` has run: the buffers it summed into, the outputs it was the
        last to read and its own outputs that nothing reads go back to the pool."""
        for b in summed:
            self.pool.give(b)
        for link in self.links_in[nid]:          # (two links may come from one port)
            if last_reader[link.src] == nid and link.src in self.written:
                self.pool.give(self.written.pop(link.src))
        for port in type(self.nodes[nid]).outputs:
            if PortRef(nid, port.name) not in last_reader:
                self.pool.give(self.written.pop(PortRef(nid, port.name)))

    # ------------------------------------------------------------ length and analysis
    def sink_ends(self) -> dict[str, int]:
        """Song samples each output may write: the song, then the longest tail along
        the paths into it, capped by the ``max_tail_s`` setting."""
        max_tail = float(self.graph.setting("max_tail_s"))
        sr = self.graph.sample_rate
        return {nid: self.content + int(math.ceil(min(self.tail_out[nid], max_tail) * sr))
                for nid in self.order if isinstance(self.nodes[nid], Sink)}

    def render_length(self, sink_ends: dict[str, int]) -> int:
        """Render-clock samples to run: until the output that ends last, behind its
        input latency, has written its end."""
        return max([0] + [self.lat_in[nid] + end for nid, end in sink_ends.items()])

    def node_graph(self) -> nx.DiGraph:
        """The node ids and their links, for what the render asks of the graph's shape
        (which nodes an analysis pass needs, where the mix enters the master chain)."""
        dag = nx.DiGraph()
        dag.add_nodes_from(self.graph.nodes)
        dag.add_edges_from((l.src.node, l.dst.node) for l in self.graph.links)
        return dag


class _Pool:
    """The plan's buffers.  Block buffers are lent, by channel count, to output ports and
    to input ports' sums, and given back once no later step reads them; the others are
    kept for good and never lent (chains' segments and block views, tail chain inlets,
    stacks' sums, silence for ports whose links are all silenced)."""

    def __init__(self, block: int, lend: bool = True):
        self.block = block
        self.lend = lend                          # False: a buffer given back is not lent again
        self.buffers: list[np.ndarray] = []
        self.free: dict[int, list[int]] = {}
        self.kept: set[int] = set()
        self.silence: dict[int, int] = {}

    def take(self, channels: int) -> int:
        """A block buffer to lend: a free one, or a new one when none is free."""
        free = self.free.setdefault(channels, [])
        if free:
            return free.pop()
        self.buffers.append(np.zeros((channels, self.block), dtype=DTYPE))
        return len(self.buffers) - 1

    def give(self, index: int) -> None:
        """Take buffer ``index`` back, to lend again (a kept one stays as it is)."""
        if self.lend and index not in self.kept:
            self.free.setdefault(self.buffers[index].shape[0], []).append(index)

    def keep(self, array: np.ndarray) -> int:
        """Add ``array`` as a buffer that is never lent."""
        self.buffers.append(array)
        self.kept.add(len(self.buffers) - 1)
        return len(self.buffers) - 1

    def dedicated(self, channels: int, frames: int) -> int:
        """A new buffer of ``frames`` that is never lent."""
        return self.keep(np.zeros((channels, frames), dtype=DTYPE))

    def zero(self, channels: int) -> int:
        """A block of silence that nothing writes (one per channel count)."""
        if channels not in self.silence:
            self.silence[channels] = self.dedicated(channels, self.block)
        return self.silence[channels]

    def ring(self, index: int) -> tuple[np.ndarray, ...]:
        """Buffer ``index`` and ``RING - 1`` more like it, for segments in flight."""
        first = self.buffers[index]
        return (first,) + tuple(np.zeros_like(first) for _ in range(RING - 1))

