"""Overrides of a batch: ``{"node.param": value}`` sets a parameter, ``{"by": x}`` moves
a number by x; their text form for ``--set``; and the variants file (named sets of
overrides).  See :mod:`.batch`."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from mixgraph.core.fileformat import read_plain
from mixgraph.core.model import Graph
from mixgraph.errors import MixgraphError, ParameterError, ProjectFileError


def parse_set(text: str) -> tuple[str, Any]:
    """``node.param=VALUE``, ``node.param+=X`` or ``node.param-=X`` as (key, value)."""
    key, eq, raw = text.partition("=")
    if eq and key.endswith(("+", "-")):
        sign = 1.0 if key.endswith("+") else -1.0
        try:
            return key[:-1].strip(), {"by": sign * float(raw)}
        except ValueError:
            raise ParameterError(f"--set {text!r}: {key[-1]}= needs a number") from None
    if not eq or not key.strip():
        raise ParameterError(f"--set {text!r}: write node.param=value")
    try:
        value = json.loads(raw)
    except ValueError:
        value = _signed_number(raw)
    return key.strip(), value


def _signed_number(raw: str) -> Any:
    """``+1.5`` (which JSON refuses) as a number; anything else stays text."""
    text = raw.strip()
    if text.startswith("+"):
        try:
            number = float(text)
        except ValueError:
            return raw
        if math.isfinite(number):
            return int(number) if number.is_integer() and "." not in text else number
    return raw


def combine_sets(pairs) -> dict[str, Any]:
    """Several ``--set`` (key, value) pairs in order: a later value replaces an earlier
    one, a later move (``{"by": x}``) moves the earlier value or adds to its move."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        prev = out.get(key)
        if _is_move(value) and prev is not None:
            if _is_move(prev):
                value = {"by": prev["by"] + value["by"]}
            elif isinstance(prev, (int, float)) and not isinstance(prev, bool):
                value = prev + value["by"]
        out[key] = value
    return out


def _is_move(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"by"}


def load_variants(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Named sets of overrides from a JSON file: ``{"name": {"node.param": value}}``."""
    path = Path(path)
    doc = read_plain(path, "variants file")
    if not isinstance(doc, dict) or not doc:
        raise ProjectFileError(f"variants file {path} must be an object of named variants, "
                               "each an object of node.param overrides", path=str(path))
    try:
        check_variants(doc)
    except ParameterError as exc:
        raise ProjectFileError(f"variants file {path}: {exc.message}", path=str(path)) \
            from None
    return doc


def check_variants(variants: dict) -> None:
    """Variant names are plain (each becomes a folder) and each holds overrides."""
    if not isinstance(variants, dict):
        raise ParameterError("variants must be an object of named variants")
    for name, overrides in variants.items():
        if not isinstance(name, str) or not _plain_name(name):
            raise ParameterError(f"variant name {name!r} must be 1-128 letters, digits, "
                                 "'_' or '-' (it names a folder)")
        if not isinstance(overrides, dict):
            raise ParameterError(f"variant {name!r} must be an object of node.param "
                                 "overrides")


def _plain_name(name: str) -> bool:
    return bool(name) and len(name) <= 128 and all(c.isalnum() or c in "_-" for c in name)


def check_overrides(template: Graph, overrides: dict[str, Any], where: str) -> None:
    """Every override names a node of the template and a value its parameter takes."""
    trial = template.copy()
    for key, value in overrides.items():
        node, param = _split(key, where)
        if node not in trial.nodes:
            from mixgraph.nodes.base import close_matches

            raise ParameterError(f"{where}: the template has no node {node!r}"
                                 f"{close_matches(node, trial.nodes)}")
        _apply(trial, node, param, value, where)


def _split(key: str, where: str) -> tuple[str, str]:
    node, dot, param = str(key).rpartition(".")
    if not dot or not node or not param:
        raise ParameterError(f"{where}: {key!r} must be node.param")
    return node, param


def _apply(g: Graph, node: str, param: str, value: Any, where: str) -> None:
    spec = g.node(node)
    if _is_move(value):
        step = value["by"]
        current = spec.value(param)
        if isinstance(step, bool) or not isinstance(step, (int, float)) \
                or isinstance(current, bool) or not isinstance(current, (int, float)):
            raise ParameterError(f"{where}: {node}.{param} cannot be moved by {step!r}; "
                                 "'by' takes a number, for a numeric parameter")
        value = current + step
    try:
        g.set(node, param, value)
    except MixgraphError as exc:
        raise ParameterError(f"{where}: {exc.message}") from None


def apply_overrides(g: Graph, template_nodes: set[str], overrides: dict[str, Any],
                    where: str) -> list[str]:
    """Apply overrides to a bound project; returns notices for skipped ones."""
    notices = []
    for key, value in overrides.items():
        node, param = _split(key, where)
        if node not in g.nodes and node in template_nodes:
            notices.append(f"{where}: {key} skipped: '{node}' is not in this song's project "
                           "(its slot found no file)")
            continue
        _apply(g, node, param, value, where)
    return notices
