"""What changed between two projects, in an engineer's words.

    node 'vox_verb' added (reverb)
    kick_ch: gain_db from -3.0 dB to -1.5 dB
    lead_ch: pan automated (3 points, linear), was 0.0
    link snare_ch.out -> drums.in moved to snare_ch.out -> mix.in
    sample rate from 44100 Hz to 48000 Hz

The editor's layout (``ui``) is not part of the mix and is not compared.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from mixgraph.nodes.base import node_types

from mixgraph.core.model import Graph, Link


def diff(a: Graph, b: Graph) -> list[str]:
    """Changes from ``a`` to ``b``, one sentence each."""
    out: list[str] = []
    if a.sample_rate != b.sample_rate:
        out.append(f"sample rate from {a.sample_rate} Hz to {b.sample_rate} Hz")
    for key in sorted(set(a.settings) | set(b.settings)):
        if a.settings.get(key) != b.settings.get(key):
            out.append(f"setting {key} from {_show(a.settings.get(key))} to "
                       f"{_show(b.settings.get(key))}")

    renamed = _renames(a, b)
    for old, new in renamed.items():
        out.append(f"node '{old}' renamed to '{new}'")
    gone = [n for n in a.nodes if n not in b.nodes and n not in renamed]
    new = [n for n in b.nodes if n not in a.nodes and n not in renamed.values()]
    for n in gone:
        out.append(f"node '{n}' removed ({a.nodes[n].type})")
    for n in new:
        out.append(f"node '{n}' added ({b.nodes[n].type})")

    for old_id, spec in a.nodes.items():
        new_id = renamed.get(old_id, old_id)
        if new_id not in b.nodes:
            continue
        other = b.nodes[new_id]
        if spec.type != other.type:
            out.append(f"node '{new_id}' changed type from {spec.type} to {other.type}")
            continue
        if spec.bypass != other.bypass:
            out.append(f"node '{new_id}' " + _bypass_change(other.bypass))
        cls = node_types().get(spec.type)
        table = {p.name: p for p in getattr(cls, "params", ())}
        files = set(spec.with_role("reads")) | set(spec.with_role("writes"))
        for name in _ordered(spec.params, other.params, table):
            before = spec.value(name) if name in table else spec.params.get(name)
            after = other.value(name) if name in table else other.params.get(name)
            if name in files and before and after and _same_file(a, before, b, after):
                continue                          # one file, written from two folders
            if table.get(name) is not None and table[name].kind == "nodes" \
                    and isinstance(before, list):
                before = [renamed.get(m, m) for m in before]   # renames are reported once
            if before != after:
                change = _param_change(name, before, after, table.get(name))
                if change:
                    out.append(f"{new_id}: {change}")

    def moved(link: Link) -> Link:
        def m(ref):
            return type(ref)(renamed.get(ref.node, ref.node), ref.port)
        return Link(m(link.src), m(link.dst))

    links_a = [moved(l) for l in a.links]
    removed = [l for l in links_a if l not in b.links]
    added = [l for l in b.links if l not in links_a]
    kept = set(b.nodes) - set(new)
    pairable = [l for l in removed if l.src.node in kept and l.dst.node in kept]
    # a link moved: same start, new end (then: same end, new start), between nodes that
    # are in both projects; links of added or removed nodes are just added or removed
    for same in ("src", "dst"):
        for l in list(pairable):
            turned = next((n for n in added if getattr(n, same) == getattr(l, same)
                           and n.src.node in kept and n.dst.node in kept), None)
            if turned is not None:
                out.append(f"link {l} moved to {turned}")
                pairable.remove(l)
                removed.remove(l)
                added.remove(turned)
    out += [f"link {l} removed" for l in removed]
    out += [f"link {l} added" for l in added]
    return out


def _same_file(a: Graph, pa: str, b: Graph, pb: str) -> bool:
    import os
    return os.path.realpath(a.resolve_path(pa)) == os.path.realpath(b.resolve_path(pb))


def _renames(a: Graph, b: Graph) -> dict[str, str]:
    """Nodes that only changed their id: same type and parameters, links alike."""
    gone = [n for n in a.nodes if n not in b.nodes]
    new = [n for n in b.nodes if n not in a.nodes]
    found = {}
    for old in gone:
        for cand in new:
            if cand in found.values():
                continue
            sa, sb = a.nodes[old], b.nodes[cand]
            if sa.type == sb.type and sa.params == sb.params and \
                    _shape(a, old) == _shape(b, cand):
                found[old] = cand
                break
    return found


def _shape(g: Graph, node_id: str) -> tuple:
    ins = sorted((str(l.src), l.dst.port) for l in g.links_into(node_id))
    outs = sorted((l.src.port, str(l.dst)) for l in g.links_from(node_id))
    return tuple(ins), tuple(outs)


def _ordered(pa: dict, pb: dict, table: dict) -> list[str]:
    names = [n for n in table if n in pa or n in pb]
    return names + sorted(n for n in set(pa) | set(pb) if n not in table)


def _param_change(name: str, before: Any, after: Any, param, units: bool = True) -> str | None:
    """One parameter's change in words (``None``: no change in effect)."""
    items = param.items if param is not None else None
    if items is not None and isinstance(before, list) and isinstance(after, list):
        return _items_change(name, before, after, items)
    unit = f" {param.unit}" if units and param is not None and param.unit else ""
    if param is not None and param.kind == "float":
        before, after = (float(v) if isinstance(v, int) and not isinstance(v, bool) else v
                         for v in (before, after))
    auto_a, auto_b = _is_auto(before), _is_auto(after)
    if auto_b and not auto_a:
        return f"{name} automated ({_auto_summary(after)}), was {_show(before)}{unit}"
    if auto_a and not auto_b:
        return f"{name} no longer automated, now {_show(after)}{unit}"
    if auto_a and auto_b:
        return f"{name} automation changed ({_auto_summary(before)} -> {_auto_summary(after)})"
    return f"{name} from {_show(before)}{unit} to {_show(after)}{unit}"


def _items_change(name: str, before: list, after: list, items) -> str | None:
    """A list of items (EQ bands, compressor bands, clip regions) item by item and
    field by field, in the words the item's declaration gives: a field left out is at
    its default, so writing a default out changes nothing.  The lists are lined up
    first, so a removed item reads as removed (under its old number) and not as every
    later one changing; within a stretch that changed, items pair in order, or each
    with the one most like it where the declaration says what alike is.  An item that changed is numbered as it is now (and as it was,
    where that differs)."""
    parts = []
    keys = [[_item_key(x, items) for x in side] for side in (before, after)]
    matcher = difflib.SequenceMatcher(a=keys[0], b=keys[1], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        pairs = _pairs(before, range(i1, i2), after, range(j1, j2), items)
        for i, j in pairs:
            text = _one_item_change(before[i], after[j], items)
            if text:
                label = f"{items.noun} {j}" + (f" (was {i})" if i != j else "")
                parts.append(f"{label} {text}")
        paired_before = {i for i, _ in pairs}
        paired_after = {j for _, j in pairs}
        parts += [f"{items.noun} {i} removed ({_item(before[i], items)})"
                  for i in range(i1, i2) if i not in paired_before]
        parts += [f"{items.noun} {j} added ({_item(after[j], items)})"
                  for j in range(j1, j2) if j not in paired_after]
    return f"{name}: " + "; ".join(parts) if parts else None


def _pairs(before: list, olds: range, after: list, news: range, items) -> list[tuple]:
    """Items of a changed stretch paired, as many as the shorter side has: in order
    (a list whose places mean something, as an EQ's bands), or, where the items say
    how alike two are (``Items.alike``: a region is its material), the most alike
    first; (old index, new index), in the new order."""
    if items.alike is None:
        return list(zip(olds, news))
    scored = sorted(((-items.alike(before[i], after[j]), i, j) for i in olds for j in news
                     if isinstance(before[i], dict) and isinstance(after[j], dict)))
    taken_old, taken_new, pairs = set(), set(), []
    for _, i, j in scored:
        if i not in taken_old and j not in taken_new:
            pairs.append((i, j))
            taken_old.add(i)
            taken_new.add(j)
    return sorted(pairs, key=lambda p: p[1])


def _item_key(item: Any, items) -> str:
    """An item with its defaults filled in, as text to line lists up by."""
    return json.dumps(items.values(item) if isinstance(item, dict) else item,
                      sort_keys=True, default=str)


def _one_item_change(before: Any, after: Any, items) -> str | None:
    if not (isinstance(before, dict) and isinstance(after, dict)):
        return f"from {_show(before)} to {_show(after)}" if before != after else None
    if items.change is not None:
        return items.change(before, after)
    fields = items.table()
    keys = list(fields) + sorted(k for k in set(before) | set(after) if k not in fields)
    changes = []
    for k in keys:
        field = fields.get(k)
        default = field.default if field is not None else None
        a, b = before.get(k, default), after.get(k, default)
        if a != b:
            changes.append(_param_change(k, a, b, field, units=False))
    return ", ".join(changes) or None


def _item(item: Any, items) -> str:
    """An item in its declaration's words, or as written: its fields in declared
    order (a true flag by its name)."""
    if not isinstance(item, dict):
        return _show(item)
    if items.summary is not None:
        return items.summary(item)
    fields = items.table()
    keys = [k for k in fields if k in item] + [k for k in item if k not in fields]
    return ", ".join(k if item[k] is True else f"{k} {_show(item[k])}" for k in keys)


def _is_auto(v: Any) -> bool:
    return isinstance(v, dict) and "automation" in v


def _auto_summary(v: dict) -> str:
    points = v.get("automation", [])
    return f"{len(points)} points, {v.get('curve', 'linear')}"


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float):
        return f"{v:.1f}" if round(v, 1) == v else f"{v:.6g}"
    if v is None:
        return "unset"
    if isinstance(v, str):
        return repr(v)
    return str(v)


def _bypass_change(now) -> str:
    """What a node's bypass became, in words."""
    if isinstance(now, dict):
        n = len(now["automation"])
        return f"bypass automated ({n} point{'s' * (n != 1)})"
    return "bypassed" if now else "back in"
