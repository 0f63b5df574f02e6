"""A node whose bypass is automated: an effect that comes in at particular moments.

In a project file a node's ``bypass`` may be a step automation of 0 (in) and 1
(bypassed) instead of ``true``::

    "bypass": {"automation": [[0.0, 1.0], [12.0, 0.0], [20.0, 1.0]], "curve": "step"}

The node then runs all the time (its state, a reverb's tail, goes on), and where its
bypass is 1 its main input, delayed by the node's latency so both paths line up,
replaces its outputs; each switch crossfades over :data:`SWITCH_S` (no click).  The
switch is evaluated per sample from song time, so a render does not depend on how it
is cut into blocks.  Its mute and solo apply all the time (they are the channel's
controls, not what the lane switches).  (A bypass of ``true`` is the pass-through
stand-in of :func:`base.bypassed`, with no latency at all, and no mute or solo.)
"""

from __future__ import annotations

from typing import Any


from .automation import Automation
from .base import Context, Node, place_input
from .delayline import DelayLine

SWITCH_S = 0.005


def switch_problems(raw: Any) -> list[str]:
    """What is wrong with an automated bypass (empty if nothing)."""
    problems = Automation.problems(raw)
    if problems:
        return problems
    if raw.get("curve", "linear") != "step":
        return ["an automated bypass must have the curve 'step'"]
    if any(v not in (0, 1) for _, v in raw["automation"]):
        return ["an automated bypass takes the values 0 (in) and 1 (bypassed)"]
    return []


def switch_curve(raw: dict, rate: int) -> Automation:
    """The step automation as the crossfade it plays: at each switch a straight line
    from the weight then to the new value over SWITCH_S (cut short, where it is, by
    a switch that comes sooner); of points at one time the last counts."""
    ramp = max(1, round(SWITCH_S * rate)) / rate
    steps: list[tuple[float, float]] = []
    for t, v in raw["automation"]:
        if steps and steps[-1][0] == float(t):
            steps[-1] = (float(t), float(v))
        else:
            steps.append((float(t), float(v)))
    out = [steps[0]]
    for (t, v), nxt in zip(steps[1:], [*steps[2:], None]):
        before = out[-1][1]                # (a ramp ends at the latest where this starts)
        if v == before:
            continue
        end = t + ramp if nxt is None or nxt[0] >= t + ramp else nxt[0]
        reached = v if end == t + ramp else before + (v - before) * (end - t) / ramp
        if out[-1][0] < t:
            out.append((t, before))
        out.append((end, reached))
    return Automation(out)


class Switching(Node):
    """Mixed in before a node type (:func:`switched`): its outputs crossfade to its
    delayed main input where the bypass automation says 1."""

    def __init__(self, *, bypass: dict, **values: Any):
        super().__init__(**values)
        self.__dict__["_switch_raw"] = bypass

    def prepare(self, ctx: Context) -> tuple[int, ...]:
        widths = super().prepare(ctx)
        index, width = self.main_input(ctx)
        self.__dict__["_switch"] = switch_curve(self.__dict__["_switch_raw"], ctx.sample_rate)
        self.__dict__["_switch_rate"] = ctx.sample_rate
        self.__dict__["_dry_index"] = index if width else None
        self.__dict__["_dry"] = DelayLine(width, self.latency(), ctx.max_block) \
            if width else None
        return widths

    def process(self, ins: tuple, outs: tuple, start: int) -> None:
        super().process(ins, outs, start)
        dry_line = self.__dict__["_dry"]
        index = self.__dict__["_dry_index"]
        dry = dry_line.process(ins[index]) if dry_line is not None and ins[index] is not None \
            else None
        frames = outs[0].shape[1] if outs else 0
        amount = self.__dict__["_switch"].render(start - self.latency(), frames,
                                                 self.__dict__["_switch_rate"])
        if isinstance(amount, float):
            if amount == 0.0:
                return
            if amount == 1.0:
                for out in outs:
                    place_input(out, dry)
                return
        for out in outs:
            wet = out.copy()
            place_input(out, dry)
            out *= amount
            out += wet * (1.0 - amount)

    def reset(self) -> None:
        super().reset()
        if self.__dict__.get("_dry") is not None:
            self.__dict__["_dry"].reset()


def switched(cls: type[Node]) -> type[Node]:
    """The node type with an automated bypass (its ports, its name, its workings)."""
    return cls.declared("switched", lambda: type(
        f"Switched{cls.__name__}", (Switching, cls),
        {"__doc__": f"{cls.type_name}, its bypass automated"}))
